"""Rule active_aggregate: thin wrapper around noisyprune.stages.active."""

from noisyprune.logs import setup_logging
from noisyprune.stages.active import run_active_aggregate_stage

setup_logging(snakemake.log[0])
run_active_aggregate_stage(
    metrics_files=snakemake.params.metrics_files,
    experiments=snakemake.params.experiments,
    entries=snakemake.params.entries,
    table_output=snakemake.output.table,
    csv_output=snakemake.output.csv,
    curve_stems=snakemake.params.curve_stems,
    plot_stems=snakemake.params.plot_stems,
)
