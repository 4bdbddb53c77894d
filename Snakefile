# noisyprune: robust data pruning under label noise.
#   noise → warmup → extract → select → retrain → aggregate (+ detect: noise-detection quality)
# Run the embedded default with `snakemake --cores 2`; see README.md and config/README.md.

from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


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
