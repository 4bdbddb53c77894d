"""Rule aggregate: thin wrapper around noisyprune.stages.aggregate."""

from noisyprune.logs import setup_logging
from noisyprune.stages.aggregate import run_aggregate_stage

setup_logging(snakemake.log[0])
run_aggregate_stage(
    run_files=snakemake.params.run_files,
    detection_files=snakemake.params.detection_files,
    detection_output=snakemake.output.detection,
    settings=snakemake.params.settings,
    pivot_outputs=snakemake.output.pivots,
    methods=snakemake.params.methods,
    fractions=snakemake.params.fractions,
    runs_parquet_output=snakemake.output.runs,
    runs_csv_output=snakemake.output.runs_csv,
)
