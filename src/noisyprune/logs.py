"""Logging set-up for workflow jobs: everything goes to the rule's log file and to stderr."""

from __future__ import annotations

import logging
import sys
from pathlib import Path


def setup_logging(log_path: str | None) -> logging.Logger:
    """Send the package's log records to ``log_path`` (if given) and stderr; return its logger."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_path, mode="w", encoding="utf-8"))
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
