"""Rule select: thin wrapper around noisyprune.stages.select."""

from noisyprune.logs import setup_logging
from noisyprune.stages.select import run_select_stage

setup_logging(snakemake.log[0])
run_select_stage(
    dataset=snakemake.wildcards.dataset,
    noise=snakemake.wildcards.noise,
    seed=int(snakemake.wildcards.seed),
    warmup=snakemake.wildcards.warmup,
    method=snakemake.wildcards.method,
    method_entry=snakemake.params.method,
    fraction=snakemake.wildcards.fraction,
    labels_path=snakemake.input.labels,
    features_path=snakemake.input.get("features"),
    dynamics_path=snakemake.input.get("dynamics"),
    snapshots_path=snakemake.input.get("snapshots"),
    code_hash=snakemake.params.code,
    output=snakemake.output.subset,
    timing_output=snakemake.output.timing,
)
