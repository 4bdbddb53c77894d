"""Rule plots: thin wrapper around noisyprune.stages.plot."""

from noisyprune.jobserver import run_stage

run_stage("noisyprune.stages.plot:run_plot_stage", dict(
    runs_path=snakemake.input.runs,
    detection_files=snakemake.params.detection_files,
    history_files=snakemake.params.history_files,
    methods=snakemake.params.methods,
    settings=snakemake.params.settings,
    accuracy_metric=snakemake.params.accuracy_metric,
    plots_dir=snakemake.params.plots_dir,
), snakemake.log[0], threads=snakemake.threads)
