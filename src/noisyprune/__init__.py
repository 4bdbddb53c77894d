"""noisyprune: robust data pruning under label noise, as a Snakemake workflow.

All logic lives in this package; the workflow's rules and scripts only wire stages together.
"""

__version__ = "0.1.0"
