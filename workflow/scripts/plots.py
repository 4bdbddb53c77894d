"""Rule plots: thin wrapper around noisyprune.stages.plot."""

from noisyprune.logs import setup_logging
from noisyprune.stages.plot import run_plot_stage

setup_logging(snakemake.log[0])
run_plot_stage(
    runs_path=snakemake.input.runs,
    detection_files=snakemake.params.detection_files,
    history_files=snakemake.params.history_files,
    methods=snakemake.params.methods,
    settings=snakemake.params.settings,
    accuracy_metric=snakemake.params.accuracy_metric,
    plots_dir=snakemake.params.plots_dir,
)
