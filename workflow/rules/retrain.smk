rule retrain:
    """Train a fresh model on the subset with a (robust) learner; evaluate and re-label (GPU)."""
    input:
        labels=LABELS,
        subset=SELECT + "/subset.parquet",
    output:
        metrics=TRAIN + "/metrics.json",
        history=TRAIN + "/history.parquet",
        relabels=TRAIN + "/relabels.parquet",
    params:
        dataset=dataset_entry,
        learner=learner_entry,
        model=learner_model,
        code=retrain_code,
    threads: config["threads"]
    resources:
        gpu=GPU_PER_JOB,
    log:
        TRAIN + "/retrain.log",
    benchmark:
        TRAIN + "/retrain.benchmark.tsv"
    script:
        "../scripts/retrain.py"
