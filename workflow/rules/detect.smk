rule detect:
    """Noise-detection quality (AUROC, average precision) of every per-sample score (seconds)."""
    input:
        unpack(detect_inputs),
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
        code_hash=hash_of("noisyprune.stages.detect", *score_modules()),
    script:
        "../scripts/stage.py"
