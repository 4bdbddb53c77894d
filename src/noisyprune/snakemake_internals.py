"""Every use noisyprune makes of Snakemake beyond its documented workflow language and script object,
in one place: the attributes of the ``workflow`` object the Snakefile's hooks read, the jobs of
the DAG, the logger and its per-job events, the scheduler's message and signal handler, and the
columns of its benchmark files.

None of these is a public API; a Snakemake release may rename or drop any of them.
``tests/test_snakemake_internals.py`` checks each against the installed Snakemake, statically and
in a real run, and names the one that changed. Everything else in the package goes through here,
so a change is repaired in this module alone.

Imports nothing at load time beyond the standard library: job processes import the job server,
which reads :data:`BENCHMARK_USAGE` from here, without needing Snakemake.
"""

from __future__ import annotations

import logging
from typing import Any, NamedTuple

# The properties of Snakemake's ``Workflow`` that the functions below read (``basedir`` also by the
# Snakefile, in the one line that puts src/ on the path before this package can be imported).
WORKFLOW_PROPERTIES = ("basedir", "is_main_process", "local_exec", "overwrite_configfiles", "dag")
# The per-job log events of a local run's console that noisyprune.console drops (LogEvent members).
PER_JOB_EVENTS = ("JOB_INFO", "JOB_STARTED", "JOB_FINISHED")
# The scheduler's line before every batch of jobs; it carries no event to filter by.
SELECT_JOBS = "Select jobs to execute..."
# Columns of a ``benchmark:`` file (Snakemake's BenchmarkRecord) that the job server replaces with
# the forked stage's own usage (→ its journal's keys), blanks (not measured), or recomputes.
BENCHMARK_USAGE = {"max_rss": "max_rss_mb", "cpu_time": "cpu_seconds", "io_in": "io_in_mb", "io_out": "io_out_mb"}
BENCHMARK_UNKNOWN = ("max_vms", "max_uss", "max_pss")
BENCHMARK_LOAD = "mean_load"


class JobFiles(NamedTuple):
    """The input and output paths of one job of the DAG."""

    input: list[str]
    output: list[str]


def workflow_folder(workflow: Any) -> str:
    """The folder of the workflow's main Snakefile (where its ``config/``, ``src/`` and ``workflow/`` are)."""
    return str(workflow.basedir)


def is_main_process(workflow: Any) -> bool:
    """Whether this is Snakemake's own process (not a job's subprocess or a cluster job)."""
    return bool(workflow.is_main_process)


def runs_locally(workflow: Any) -> bool:
    """Whether the jobs run on this machine (the local executor, not a cluster plugin)."""
    return bool(workflow.local_exec)


def extra_config_files(workflow: Any) -> list[str]:
    """The ``--configfile`` paths given on the command line, in order."""
    return [str(path) for path in workflow.overwrite_configfiles]


def pending_jobs(workflow: Any) -> list[JobFiles]:
    """The input and output files of every job this run will execute (its DAG, built by ``onstart``)."""
    return [JobFiles([str(p) for p in job.input], [str(p) for p in job.output]) for job in workflow.dag.needrun_jobs()]


def snakemake_logger() -> logging.Logger:
    """Snakemake's logger, whose handlers write the console and the run's complete log."""
    from snakemake.logging import logger

    return logger


def per_job_events() -> frozenset:
    """The log events of :data:`PER_JOB_EVENTS` (a record's ``event`` attribute)."""
    from snakemake_interface_logger_plugins.common import LogEvent

    return frozenset(LogEvent[name] for name in PER_JOB_EVENTS)


def benchmark_columns() -> list[str]:
    """The columns Snakemake writes to a ``benchmark:`` file."""
    from snakemake.benchmark import BenchmarkRecord

    return list(BenchmarkRecord.get_header())


def scheduler_handles_sigterm(handler: Any) -> bool:
    """Whether ``handler`` (``signal.getsignal(SIGTERM)`` in ``onstart``) is Snakemake's scheduler's.

    The job server wraps the handlers it finds in ``onstart`` (noisyprune.jobserver.stop_on_signals):
    this holds only while Snakemake installs its SIGTERM handler before ``onstart`` and none after."""
    owner = getattr(handler, "__self__", None)
    return type(owner).__module__.startswith("snakemake.") and getattr(handler, "__name__", "") == "exit_gracefully"
