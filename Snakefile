# noisyprune: robust data pruning under label noise.
#   noise → warmup → extract → select → retrain → aggregate → plots (+ detect: noise-detection quality)
#   active learning (sweep.active): noise → active_pool → active_train → active_query → … → active_aggregate
# `snakemake --report results/report.html` collects the tables and plots into one HTML page.
# Run the embedded default with `snakemake --cores 2`; see README.md and config/README.md.

from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/noise.smk"
include: "workflow/rules/warmup.smk"
include: "workflow/rules/extract.smk"
include: "workflow/rules/select.smk"
include: "workflow/rules/detect.smk"
include: "workflow/rules/retrain.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/active.smk"


rule all:
    default_target: True
    input:
        TABLE_TARGETS,
        rules.plots.output,
        ACTIVE_TARGETS,
