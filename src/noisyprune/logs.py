"""Logging set-up for workflow jobs: every record goes to the rule's log file; the console (stderr)
gets warnings and errors only, unless ``NOISYPRUNE_VERBOSE=1`` (:mod:`noisyprune.console`)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from noisyprune.console import verbose


def setup_logging(log_path: str | None) -> logging.Logger:
    """Send the package's log records to ``log_path`` (if given) and stderr; return its logger.

    With a log file, stderr gets WARNING and above only (INFO too with ``NOISYPRUNE_VERBOSE=1``):
    a run's console is not flooded with what every job's log already holds (one line per training
    epoch), while a warning or a failure still shows where the run is watched. Without a log file
    stderr gets everything, or the INFO records would go nowhere."""
    console = logging.StreamHandler(sys.stderr)
    handlers: list[logging.Handler] = [console]
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_path, mode="w", encoding="utf-8"))
        if not verbose():
            console.setLevel(logging.WARNING)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )
    logger = logging.getLogger("noisyprune")

    def log_uncaught(exc_type, exc, tb):
        # Put the failure in the job's log file too, where --show-failed-logs looks.
        logger.error("job failed", exc_info=(exc_type, exc, tb))

    sys.excepthook = log_uncaught
    return logger
