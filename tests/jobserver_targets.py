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


def record_threads(path: str) -> None:
    """Write the thread counts the job runs with: torch's and each BLAS/OpenMP pool's, as JSON."""
    import json

    import numpy  # noqa: F401 - loads the BLAS library whose pool is reported
    import torch
    from threadpoolctl import threadpool_info

    pools = sorted({info["num_threads"] for info in threadpool_info()})
    Path(path).write_text(json.dumps({"torch": torch.get_num_threads(), "pools": pools}))


def allocate_and_spin(megabytes: int, cpu_seconds: float) -> None:
    """Hold ``megabytes`` of touched memory and keep a core busy for ``cpu_seconds`` of CPU time."""
    block = bytearray(megabytes * 2**20)
    block[::4096] = b"\x01" * len(block[::4096])  # touch every page
    start = time.process_time()
    while time.process_time() - start < cpu_seconds:
        pass


def log_records(text: str) -> None:
    """Log ``text`` at INFO and at WARNING, as a stage logs its progress and its warnings."""
    import logging

    logger = logging.getLogger("noisyprune.test")
    logger.info("info:%s", text)
    logger.warning("warning:%s", text)
