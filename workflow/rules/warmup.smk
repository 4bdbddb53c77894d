rule warmup:
    """Train the scoring model on the full noisy set; record per-sample dynamics (GPU)."""
    input:
        labels=LABELS,
    output:
        model=WARMUP + "/model.pt",
        dynamics=WARMUP + "/dynamics.parquet",
        history=WARMUP + "/history.parquet",
    params:
        dataset=dataset_entry,
        warmup=warmup_entry,
        model=warmup_model,
        code=warmup_code,
    threads: config["threads"]
    resources:
        gpu=GPU_PER_JOB,
    log:
        WARMUP + "/warmup.log",
    benchmark:
        WARMUP + "/warmup.benchmark.tsv"
    script:
        "../scripts/warmup.py"
