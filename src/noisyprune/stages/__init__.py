"""One module per workflow stage; each exposes a ``run_*`` function that the rule's script calls.

Stage functions take plain values (paths, config entries, wildcards), so they are unit-testable
without Snakemake.
"""
