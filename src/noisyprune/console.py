"""What a local run prints on the console: Snakemake's progress, warnings and errors, not every job's
details.

A run of the embedded default (233 jobs) printed about 8,600 lines: each job's log records (one per
training epoch) and Snakemake's block of a dozen lines per job. The jobs' records now go to their log
files only, warnings and errors excepted (:func:`noisyprune.logs.setup_logging`), and
:func:`quiet_snakemake_console` leaves one progress line per job of Snakemake's own. ``NOISYPRUNE_VERBOSE=1``
restores both. Snakemake's complete log (``.snakemake/log/``, named at the end of every run) keeps
every job block either way.

Snakemake's ``--quiet rules`` is not enough and hides too much: it keeps four lines per job and drops
the "Error in rule" block that names a failed job and shows its log.
"""

from __future__ import annotations

import logging
import os

from noisyprune import snakemake_internals

VERBOSE = "NOISYPRUNE_VERBOSE"
# Values of NOISYPRUNE_VERBOSE that mean "quiet" (anything else asks for the chatty console).
QUIET_VALUES = frozenset({"", "0", "false", "no", "off"})


def verbose() -> bool:
    """Whether ``NOISYPRUNE_VERBOSE`` asks for every job record and job block on the console."""
    return os.environ.get(VERBOSE, "").strip().lower() not in QUIET_VALUES


class QuietConsole(logging.Filter):
    """Drops Snakemake's per-job chatter from a console handler: the job blocks (rule, files,
    wildcards, resources), "Select jobs to execute...", "Execute N jobs..." and "Finished jobid …".
    Keeps the progress lines ("N of M steps (x%) done"), job errors, warnings and everything else."""

    def __init__(self) -> None:
        super().__init__()
        self.dropped = snakemake_internals.per_job_events()

    def filter(self, record: logging.LogRecord) -> bool:
        """False for a record of the per-job chatter above."""
        if getattr(record, "event", None) in self.dropped:
            return False
        return not (record.levelno == logging.INFO and record.msg == snakemake_internals.SELECT_JOBS)


def quiet_snakemake_console(logger: logging.Logger | None = None) -> int:
    """Put a :class:`QuietConsole` filter on the console handlers of Snakemake's logger (``logger``,
    default ``snakemake.logging.logger``), not on its log files; return how many handlers got it.
    Called by the Snakefile's ``onstart`` of a local run, after the DAG and the job counts are
    printed."""
    if logger is None:
        logger = snakemake_internals.snakemake_logger()
    count = 0
    for handler in logger.handlers:
        # FileHandler is a StreamHandler too: the complete log keeps every line.
        if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
            if not any(isinstance(existing, QuietConsole) for existing in handler.filters):
                handler.addFilter(QuietConsole())
            count += 1
    return count
