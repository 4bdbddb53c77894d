"""Rule active_pool: thin wrapper around noisyprune.stages.active."""

from noisyprune.logs import setup_logging
from noisyprune.stages.active import run_active_pool_stage

setup_logging(snakemake.log[0])
run_active_pool_stage(
    experiment=snakemake.wildcards.experiment,
    entry=snakemake.params.entry,
    run=snakemake.params.run,
    round_index=int(snakemake.wildcards["round"]),
    labels_path=snakemake.input.labels,
    previous_pool_path=snakemake.input.get("pool"),
    previous_query_path=snakemake.input.get("query"),
    output=snakemake.output.pool,
)
