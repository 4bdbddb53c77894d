"""The Snakefile's imperative parts, so that it reads as declarations: :func:`prepare` when it is
parsed, :func:`on_start` in ``onstart``, :func:`on_end` in ``onsuccess`` and ``onerror``.

What Snakemake offers beyond its documented language is read through
:mod:`noisyprune.snakemake_internals` only.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from noisyprune import snakemake_internals
from noisyprune.config_files import check_config_files
from noisyprune.thread_policy import thread_environment
from noisyprune.written import ENV as WRITTEN

# noisyprune's own files of a run (job-server socket and journal, written-file records, the
# preflight's cache), relative to the working folder.
STATE = os.path.join(".snakemake", "noisyprune")
# The job server started by on_start, stopped by on_end (Snakemake's main process runs both).
_SERVER: dict[str, Any] = {}


def default_config(workflow: Any) -> str:
    """The embedded default config, resolved from the workflow's folder, not the working directory:
    it is layered under the user's ``--configfile`` wherever Snakemake starts (``--directory DIR``,
    ``-s path/to/Snakefile``)."""
    return os.path.join(snakemake_internals.workflow_folder(workflow), "config", "config.yaml")


def job_environment(workflow: Any) -> dict[str, str]:
    """The environment variables every job inherits from Snakemake's process (the one place they are
    set): ``PYTHONPATH`` with the workflow's own ``src/`` first, so that every job imports the same
    noisyprune whether the package is installed in the environment or not (the conda environment
    of workflow/envs/ does not install it), ``NOISYPRUNE_WRITTEN``, where each job records
    what it wrote (:mod:`noisyprune.written`), and ``OMP_WAIT_POLICY=PASSIVE`` unless the user set
    it, so that idle OpenMP threads sleep instead of spinning on shared cores
    (:mod:`noisyprune.thread_policy`)."""
    source = os.path.join(snakemake_internals.workflow_folder(workflow), "src")
    return {
        "PYTHONPATH": os.pathsep.join(filter(None, [source, os.environ.get("PYTHONPATH")])),
        WRITTEN: os.path.abspath(os.path.join(STATE, "written")),
        **thread_environment(),
    }


def prepare(workflow: Any) -> str:
    """When the Snakefile is parsed: set the jobs' environment (:func:`job_environment`) and check
    every config file; return the default config's path (for ``configfile:``).

    Snakemake keeps the last of two equal keys of one mapping without a word: every config file is
    read again, refusing that (file and line), also in dry runs; the default before Snakemake
    loads it, so that its syntax errors name file and line too (:mod:`noisyprune.config_files`)."""
    os.environ.update(job_environment(workflow))
    default = default_config(workflow)
    check_config_files([default, *snakemake_internals.extra_config_files(workflow)])
    return default


def on_start(workflow: Any, config: Mapping[str, Any]) -> None:
    """``onstart`` (before any job, and so before Snakemake removes an output it will replace; not
    in dry runs): in Snakemake's own process, refuse finished files changed since their job wrote
    them that this run reads, the swept datasets' files and, in a local run, a GPU asked for but
    absent; quiet a local run's console; start the job server of a local run."""
    local = snakemake_internals.runs_locally(workflow)
    if snakemake_internals.is_main_process(workflow):
        preflight(workflow, config, local)
    if local:
        from noisyprune.console import quiet_snakemake_console, verbose

        # Snakemake's progress, warnings and errors, not a block per job (NOISYPRUNE_VERBOSE=1 keeps
        # them). Cluster runs keep Snakemake's own console.
        if not verbose():
            quiet_snakemake_console()
    if config["job_server"] and local:
        start_job_server()


def preflight(workflow: Any, config: Mapping[str, Any], local: bool) -> None:
    """The checks of :func:`on_start` that refuse a run before any job (``ConfigError``)."""
    from noisyprune.data.preflight import check_swept_datasets
    from noisyprune.written import check_unchanged, inputs_read_by

    check_unchanged(inputs_read_by(snakemake_internals.pending_jobs(workflow)))
    check_swept_datasets(config, STATE)
    if local and config["device"] == "cuda":  # torch is imported only then
        from noisyprune.training.device import check_requested_device

        check_requested_device(config["device"])


def start_job_server() -> None:
    """Start the warm job server (:mod:`noisyprune.jobserver`): local jobs are forked from it, find
    it through the environment they inherit, and a signal to Snakemake stops it first."""
    from noisyprune.jobserver import ENV, patch_benchmarks, start, stop_on_signals

    patch_benchmarks(STATE)  # what a run stopped by a signal left
    _SERVER["process"], os.environ[ENV] = start(STATE)
    stop_on_signals(_SERVER["process"], os.environ[ENV])


def on_end() -> None:
    """``onsuccess`` and ``onerror``: stop the job server and give its jobs' benchmark files the
    forked stages' own usage (the job processes were thin)."""
    from noisyprune.jobserver import patch_benchmarks, stop

    stop(_SERVER.pop("process", None))
    patch_benchmarks(STATE)
