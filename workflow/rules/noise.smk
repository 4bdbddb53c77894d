rule noise:
    """Corrupt the training labels (seconds)."""
    output:
        labels=LABELS,
    params:
        dataset=dataset_entry,
        noise=noise_entry,
        code=noise_code,
    resources:
        mem_mb=config["resources"]["noise"]["mem_mb"],
        runtime=config["resources"]["noise"]["runtime"],
    log:
        f"{RUN}/noise.log",
    script:
        "../scripts/noise.py"
