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
        dataset_entry=dataset_entry,
        noise_entry=noise_entry,
        code_hash=noise_code,
    script:
        "../scripts/stage.py"
