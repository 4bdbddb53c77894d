rule select:
    """Choose the subset to keep with one method at one fraction (CPU)."""
    input:
        unpack(select_inputs),
    output:
        subset=SUBSET,
        timing=SELECT_TIMING,
    log:
        f"{SELECT}/select.log",
    benchmark:
        f"{SELECT}/select.benchmark.tsv"
    conda:
        "../envs/noisyprune.yaml"
    resources:
        gpu=select_gpu,
        slurm_partition=select_partition,
        mem_mb=config["resources"]["select"]["mem_mb"],
        runtime=config["resources"]["select"]["runtime"],
    params:
        method_entry=selection_entry,
        code_hash=select_code,
    script:
        "../scripts/stage.py"
