"""One module per workflow stage; each exposes a ``run_*`` function that a rule runs through
:mod:`noisyprune.stages.adapter`.

Stage functions take the values of :mod:`noisyprune.stages.interface` (the run's identity, named
input and output paths, compute settings) and plain config entries, so they are unit-testable
without Snakemake.
"""
