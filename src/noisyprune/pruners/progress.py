"""Progress of long selections, for whoever is watching: a bar in the shell, lines in a job's log.

Pruners call :func:`report` from their long loops (Prune4ReL's τ-graph build and greedy picks,
k-center's picks), naming the phase and the unit it counts in; it costs one context-variable lookup
when nobody listens. ``noisyprune select`` listens with a tqdm bar per phase, the workflow's select
stage with a log line per tenth.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

Reporter = Callable[[str, int, int, str], None]  # (phase, done, total, unit)

_REPORTER: ContextVar[Reporter | None] = ContextVar("noisyprune_progress", default=None)


def report(phase: str, done: int, total: int, unit: str = "step") -> None:
    """Tell the current listener that ``done`` of ``total`` steps of ``phase`` are finished; a step
    is one ``unit`` (singular: ``"pick"``, ``"pair"``)."""
    reporter = _REPORTER.get()
    if reporter is not None:
        reporter(phase, done, total, unit)


def every(total: int, updates: int = 200) -> int:
    """The step interval that reports about ``updates`` times over ``total`` steps (at least 1)."""
    return max(1, total // updates)


@contextmanager
def listening(reporter: Reporter) -> Iterator[None]:
    """Send the progress of selections made inside the block to ``reporter``."""
    token = _REPORTER.set(reporter)
    try:
        yield
    finally:
        _REPORTER.reset(token)


def log_reporter(logger: logging.Logger, tenths: int = 10) -> Reporter:
    """A reporter that logs each phase at every tenth of its steps (and at its end)."""
    logged: dict[str, int] = {}

    def reporter(phase: str, done: int, total: int, unit: str = "step") -> None:
        tenth = done * tenths // max(total, 1)
        if tenth > logged.get(phase, 0):
            logged[phase] = tenth
            logger.info("%s: %d of %d %ss (%d%%)", phase, done, total, unit, 100 * done // max(total, 1))

    return reporter
