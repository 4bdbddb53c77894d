localrules:
    aggregate,


rule aggregate:
    """Tidy table of every run, one pivot per (dataset, noise, warm-up, learner) and the
    noise-detection table (seconds)."""
    input:
        metrics=[files["metrics"] for files in RUN_FILES],
        subsets=[files["subset"] for files in RUN_FILES],
        timings=[files["timing"] for files in RUN_FILES],
        warmups=sorted({files["warmup_history"] for files in RUN_FILES}),
        features=sorted({files["features"] for files in RUN_FILES}),
        detection=[files["path"] for files in DETECTION_FILES],
    output:
        runs=f"{TABLES}/runs.parquet",
        runs_csv=f"{TABLES}/runs.csv",
        detection=f"{TABLES}/detection.csv",
        pivots=PIVOT_TARGETS,
    params:
        run_files=RUN_FILES,
        detection_files=DETECTION_FILES,
        settings=SETTINGS,
        methods=config["sweep"]["methods"],
        fractions=config["sweep"]["fractions"],
        code=hash_of("noisyprune.stages.aggregate"),
    log:
        f"{TABLES}/aggregate.log",
    script:
        "../scripts/aggregate.py"
