rule detect:
    """Noise-detection quality (AUROC, average precision) of every per-sample score (seconds)."""
    input:
        labels=LABELS,
        features=FEATURES,
        dynamics=WARMUP_DYNAMICS,
    output:
        detection=DETECTION,
    log:
        f"{WARMUP}/detect.log",
    conda:
        "../envs/noisyprune.yaml"
    resources:
        mem_mb=config["resources"]["detect"]["mem_mb"],
        runtime=config["resources"]["detect"]["runtime"],
    params:
        code=hash_of("noisyprune.stages.detect"),
    script:
        "../scripts/detect.py"
