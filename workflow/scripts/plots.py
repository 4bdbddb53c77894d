"""Rule plots: thin wrapper around noisyprune.stages.plot."""

from noisyprune.jobserver import run_stage

# Guarded: DataLoader workers started by spawn or forkserver (macOS, Python 3.14 on Linux)
# import this script again and must not run the stage a second time.
if __name__ == "__main__":
    run_stage(
        "noisyprune.stages.plot:run_plot_stage",
        dict(
            runs_path=snakemake.input.runs,
            detection_files=snakemake.params.detection_files,
            history_files=snakemake.params.history_files,
            methods=snakemake.params.methods,
            settings=snakemake.params.settings,
            accuracy_metric=snakemake.params.accuracy_metric,
            plots_dir=snakemake.params.plots_dir,
        ),
        snakemake.log[0],
        threads=snakemake.threads,
    )
