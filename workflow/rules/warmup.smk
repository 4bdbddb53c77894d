rule warmup:
    """Train the scoring model on the full noisy set; record per-sample dynamics (GPU)."""
    input:
        labels=LABELS,
    output:
        model=WARMUP_MODEL,
        dynamics=WARMUP_DYNAMICS,
        history=WARMUP_HISTORY,
        snapshots=WARMUP_SNAPSHOTS,
    log:
        f"{WARMUP}/warmup.log",
    benchmark:
        f"{WARMUP}/warmup.benchmark.tsv"
    conda:
        "../envs/noisyprune.yaml"
    threads: config["threads"]
    resources:
        gpu=GPU_PER_JOB,
        slurm_partition=slurm_partition(GPU_PER_JOB),
        mem_mb=config["resources"]["warmup"]["mem_mb"],
        runtime=config["resources"]["warmup"]["runtime"],
    params:
        dataset=dataset_entry,
        warmup=warmup_entry,
        model=warmup_model,
        code=warmup_code,
    script:
        "../scripts/warmup.py"
