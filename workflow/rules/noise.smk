rule noise:
    """Corrupt the training labels (seconds)."""
    output:
        labels=LABELS,
    params:
        dataset=dataset_entry,
        noise=noise_entry,
        code=noise_code,
    log:
        f"{RUN}/noise.log",
    script:
        "../scripts/noise.py"
