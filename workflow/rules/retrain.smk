rule retrain:
    """Train a fresh model on the subset with a (robust) learner; evaluate and re-label (GPU)."""
    input:
        unpack(retrain_inputs),
    output:
        metrics=METRICS,
        history=f"{TRAIN}/history.parquet",
        relabels=RELABELS,
    log:
        f"{TRAIN}/retrain.log",
    benchmark:
        f"{TRAIN}/retrain.benchmark.tsv"
    conda:
        "../envs/noisyprune.yaml"
    threads: config["threads"]
    resources:
        gpu=GPU_PER_JOB,
        slurm_partition=slurm_partition(GPU_PER_JOB),
        mem_mb=config["resources"]["retrain"]["mem_mb"],
        runtime=config["resources"]["retrain"]["runtime"],
    params:
        training=learner_training,
        code_hash=retrain_code,
        execution=RESULT_SETTINGS,
    script:
        "../scripts/stage.py"
