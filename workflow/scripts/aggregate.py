"""Rule aggregate: thin wrapper around noisyprune.stages.aggregate."""

from noisyprune.jobserver import run_stage

# Guarded: DataLoader workers started by spawn or forkserver (macOS, Python 3.14 on Linux)
# import this script again and must not run the stage a second time.
if __name__ == "__main__":
    run_stage(
        "noisyprune.stages.aggregate:run_aggregate_stage",
        dict(
            run_files=snakemake.params.run_files,
            detection_files=snakemake.params.detection_files,
            settings=snakemake.params.settings,
            pivot_stems=snakemake.params.pivot_stems,
            methods=snakemake.params.methods,
            fractions=snakemake.params.fractions,
            rank_metric=snakemake.params.rank_metric,
            runs_parquet_output=snakemake.output.runs,
            runs_csv_output=snakemake.output.runs_csv,
            detection_stem=snakemake.params.summary_stems["detection"],
            ranking_stem=snakemake.params.summary_stems["ranking"],
            composition_stem=snakemake.params.summary_stems["composition"],
        ),
        snakemake.log[0],
        threads=snakemake.threads,
    )
