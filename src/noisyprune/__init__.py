"""noisyprune: robust data pruning under label noise, as a Snakemake workflow.

All logic lives in this package; the workflow's rules and scripts only wire stages together.
"""

__version__ = "0.1.0"

__all__ = ["KeptSubset", "__version__", "select_subset"]


def __getattr__(name: str):
    # The public API (noisyprune.select_subset), imported on first use: job scripts and the job
    # server import this package and must stay light. By name, not by an import statement: every
    # module's code hash covers this package file's imports (noisyprune.provenance), and no
    # workflow stage runs the API.
    if name in ("KeptSubset", "select_subset"):
        import importlib

        return getattr(importlib.import_module("noisyprune.api"), name)
    raise AttributeError(f"module 'noisyprune' has no attribute {name!r}")
