rule noise:
    """Corrupt the training labels (seconds)."""
    output:
        labels=LABELS,
    log:
        f"{RUN}/noise.log",
    conda:
        "../envs/noisyprune.yaml"
    resources:
        mem_mb=config["resources"]["noise"]["mem_mb"],
        runtime=config["resources"]["noise"]["runtime"],
    params:
        dataset=dataset_entry,
        noise=noise_entry,
        code=noise_code,
    script:
        "../scripts/noise.py"
