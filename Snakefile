# noisyprune: robust data pruning under label noise.
#   noise → warmup → extract → select → retrain → aggregate → plots (+ detect: noise-detection quality)
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


rule all:
    default_target: True
    input:
        TABLE_TARGETS,
        rules.plots.output,
