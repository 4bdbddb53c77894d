"""Rule active_aggregate: thin wrapper around noisyprune.stages.active."""

from noisyprune.jobserver import run_stage

# Guarded: DataLoader workers started by spawn or forkserver (macOS, Python 3.14 on Linux)
# import this script again and must not run the stage a second time.
if __name__ == "__main__":
    run_stage(
        "noisyprune.stages.active:run_active_aggregate_stage",
        dict(
            metrics_files=snakemake.params.metrics_files,
            experiments=snakemake.params.experiments,
            entries=snakemake.params.entries,
            table_output=snakemake.output.table,
            csv_output=snakemake.output.csv,
            curve_stems=snakemake.params.curve_stems,
            plot_stems=snakemake.params.plot_stems,
        ),
        snakemake.log[0],
        threads=snakemake.threads,
    )
