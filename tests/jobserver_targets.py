"""Stage-like functions the job-server tests run in forked children (importable as a module)."""

import os
import sys
import time
from pathlib import Path


def write(path: str, text: str) -> None:
    """Print to stdout and stderr, and write ``text`` and this process's pid to ``path``."""
    print(f"out:{text}")
    print(f"err:{text}", file=sys.stderr)
    Path(path).write_text(f"{text} {os.getpid()} {os.getcwd()}")


def fail(message: str) -> None:
    """Raise, as a stage given bad input does."""
    raise ValueError(message)


def exit_with(code: int) -> None:
    """End the job with exit status ``code``."""
    sys.exit(code)


def sleep_forever(pid_file: str) -> None:
    """Record this process's pid, then run until killed."""
    Path(pid_file).write_text(str(os.getpid()))
    while True:
        time.sleep(0.1)
