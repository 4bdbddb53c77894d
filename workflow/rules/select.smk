rule select:
    """Choose the subset to keep with one method at one fraction (CPU)."""
    input:
        unpack(select_inputs),
    output:
        subset=SELECT + "/subset.parquet",
        timing=SELECT + "/timing.json",
    params:
        method=selection_entry,
        code=select_code,
    log:
        SELECT + "/select.log",
    benchmark:
        SELECT + "/select.benchmark.tsv"
    script:
        "../scripts/select.py"
