# noisyprune: robust data pruning under label noise.
#   noise → warmup → extract → select → retrain → aggregate → plots (+ detect: noise-detection quality)
#   active learning (sweep.active): noise → active_pool → active_train → active_query → … → active_aggregate
# `snakemake --report results/report.html` collects the tables and plots into one HTML page.
# Run the embedded default with `snakemake --cores 2`; see README.md and config/README.md.

import os
import sys

from snakemake.utils import min_version

min_version("9.0")

# Every rule imports noisyprune from this workflow's own src/ folder: the same code whether the
# package is installed in the virtual environment or the jobs run in the conda environment of
# workflow/envs/ (`--software-deployment-method conda`), which does not install it.
SOURCE = os.path.join(workflow.basedir, "src")
sys.path.insert(0, SOURCE)
os.environ.update(PYTHONPATH=os.pathsep.join(filter(None, [SOURCE, os.environ.get("PYTHONPATH")])))

# Idle OpenMP threads sleep instead of spinning (a job keeps its pace on shared cores): set before any
# job, the job server or this process imports torch (noisyprune.thread_policy).
from noisyprune.thread_policy import let_idle_threads_sleep

let_idle_threads_sleep()

# Every file a job writes is recorded there (size, time, SHA-256; noisyprune.written), so that a
# finished file changed since is found before a run reads it (onstart).
from noisyprune.written import ENV as WRITTEN

os.environ[WRITTEN] = os.path.abspath(os.path.join(".snakemake", "noisyprune", "written"))


# Resolved from the workflow's folder, not the working directory: the default is layered under the
# user's --configfile wherever Snakemake starts (--directory DIR, -s path/to/Snakefile).
DEFAULT_CONFIG = os.path.join(workflow.basedir, "config", "config.yaml")

# Snakemake keeps the last of two equal keys of one mapping without a word: every config file is
# read again, refusing that (file and line), also in dry runs; the default before Snakemake loads
# it, so that its syntax errors name file and line too (noisyprune.config_files).
from noisyprune.config_files import check_config_files

check_config_files([DEFAULT_CONFIG, *workflow.overwrite_configfiles])


configfile: DEFAULT_CONFIG


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


# Local runs fork every job from one warm process that has imported torch and the stages once
# (noisyprune.jobserver); cluster executors, dry runs and `job_server: false` run jobs as plain
# processes.
JOB_SERVER = {}


onstart:
    # Before any job (and so before Snakemake removes any output it will replace), not in dry runs:
    # the finished files it reads, the swept datasets' files, and a GPU when a local run asks for one.
    if workflow.is_main_process:
        from noisyprune.data.preflight import check_swept_datasets
        from noisyprune.written import check_unchanged, inputs_read_by

        # finished files this run would read, changed since their job wrote them
        check_unchanged(inputs_read_by(workflow.dag.needrun_jobs()))
        check_swept_datasets(config, ".snakemake/noisyprune")
        if workflow.local_exec and config["device"] == "cuda":  # torch is imported only then
            from noisyprune.training.device import check_requested_device

            check_requested_device(config["device"])
    # A local run's console: Snakemake's progress, warnings and errors, not a block per job
    # (noisyprune.console; NOISYPRUNE_VERBOSE=1 keeps them). Cluster runs keep Snakemake's own.
    if workflow.local_exec:
        from noisyprune.console import quiet_snakemake_console, verbose

        if not verbose():
            quiet_snakemake_console()
    if config["job_server"] and workflow.local_exec:
        from noisyprune.jobserver import ENV, patch_benchmarks, start, stop_on_signals

        patch_benchmarks(".snakemake/noisyprune")  # what a run stopped by a signal left
        JOB_SERVER["process"], os.environ[ENV] = start(".snakemake/noisyprune")
        stop_on_signals(JOB_SERVER["process"], os.environ[ENV])


# The server's jobs are thin processes; their benchmark files get the forked stages' own usage.
onsuccess:
    from noisyprune.jobserver import patch_benchmarks, stop

    stop(JOB_SERVER.get("process"))
    patch_benchmarks(".snakemake/noisyprune")


onerror:
    from noisyprune.jobserver import patch_benchmarks, stop

    stop(JOB_SERVER.get("process"))
    patch_benchmarks(".snakemake/noisyprune")


rule all:
    default_target: True
    input:
        TABLE_TARGETS,
        rules.plots.output,
        ACTIVE_TARGETS,
