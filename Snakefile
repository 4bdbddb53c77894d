# noisyprune: robust data pruning under label noise.
#   noise → warmup → extract → select → retrain → aggregate → plots (+ detect: noise-detection quality)
#   active learning (sweep.active): noise → active_pool → active_train → active_query → … → active_aggregate
# `snakemake --report results/report.html` collects the tables and plots into one HTML page.
# Run the embedded default with `snakemake --cores 2`; see README.md and config/README.md.
# What runs besides the rules (environment, checks, the job server) is noisyprune.snakefile_hooks.

import os
import sys

from snakemake.utils import min_version

min_version("9.0")

# The rules and their jobs import noisyprune from this workflow's own src/ folder.
sys.path.insert(0, os.path.join(workflow.basedir, "src"))

from noisyprune import snakefile_hooks


# The jobs' environment set, every config file checked; the default layered under --configfile.
configfile: snakefile_hooks.prepare(workflow)


include: "workflow/rules/common.smk"
include: "workflow/rules/common_active.smk"
include: "workflow/rules/noise.smk"
include: "workflow/rules/warmup.smk"
include: "workflow/rules/extract.smk"
include: "workflow/rules/select.smk"
include: "workflow/rules/detect.smk"
include: "workflow/rules/retrain.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/export.smk"
include: "workflow/rules/active.smk"


# The report's front page: the verdict in sentences once `aggregate` has written it, else the
# static description.
report: FRONT_PAGE_OR_INTRO


# Preflight checks, the quiet console and the warm job server of a local run (not in dry runs).
onstart:
    snakefile_hooks.on_start(workflow, config)


onsuccess:
    snakefile_hooks.on_end()


onerror:
    snakefile_hooks.on_end()


rule all:
    default_target: True
    input:
        TABLE_TARGETS,
        rules.plots.output,
        ACTIVE_TARGETS,
