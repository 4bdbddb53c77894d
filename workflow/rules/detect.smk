rule detect:
    """Noise-detection quality (AUROC, average precision) of every per-sample score (seconds)."""
    input:
        labels=LABELS,
        features=FEATURES,
        dynamics=WARMUP_DYNAMICS,
    output:
        detection=DETECTION,
    params:
        code=hash_of("noisyprune.stages.detect"),
    resources:
        mem_mb=config["resources"]["detect"]["mem_mb"],
        runtime=config["resources"]["detect"]["runtime"],
    log:
        f"{WARMUP}/detect.log",
    script:
        "../scripts/detect.py"
