"""Rule active_query: thin wrapper around noisyprune.stages.active."""

from noisyprune.logs import setup_logging
from noisyprune.stages.active import run_active_query_stage

setup_logging(snakemake.log[0])
run_active_query_stage(
    experiment=snakemake.wildcards.experiment,
    entry=snakemake.params.entry,
    run=snakemake.params.run,
    round_index=int(snakemake.wildcards["round"]),
    labels_path=snakemake.input.labels,
    pool_path=snakemake.input.pool,
    predictions_path=snakemake.input.predictions,
    output=snakemake.output.query,
)
