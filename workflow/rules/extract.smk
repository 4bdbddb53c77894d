rule extract:
    """One inference pass of the warm-up model: probabilities, embeddings, losses (GPU)."""
    input:
        labels=LABELS,
        model=WARMUP_MODEL,
    output:
        features=FEATURES,
    log:
        f"{WARMUP}/extract.log",
    wildcard_constraints:
        warmup=alternatives(TRAINED_WARMUPS),
    conda:
        "../envs/noisyprune.yaml"
    threads: config["threads"]
    resources:
        gpu=GPU_PER_JOB,
        slurm_partition=slurm_partition(GPU_PER_JOB),
        mem_mb=config["resources"]["extract"]["mem_mb"],
        runtime=config["resources"]["extract"]["runtime"],
    params:
        dataset_entry=dataset_entry,
        code_hash=extract_code,
        execution=RESULT_SETTINGS,
    script:
        "../scripts/stage.py"
