"""How idle CPU threads wait: sleeping, so a job keeps its pace on cores another process is using.

torch's intra-op thread pool and MKL run on GNU OpenMP (``libgomp``, shipped with torch). Its worker
threads busy-wait between parallel regions by default; when another process holds the cores they
wait for, they spin instead of yielding, and a job with two threads ran 7× slower on loaded cores in
``benchmarks/threads.py`` (``benchmarks/results/threads.md``). ``OMP_WAIT_POLICY=PASSIVE`` makes them
sleep. The variable is read when the OpenMP runtime loads, so it must be in the environment before
``torch`` is imported: the Snakefile sets it with the jobs' environment
(:func:`noisyprune.snakefile_hooks.job_environment`, before the job server starts) and the CLI first
thing, so every job, the job server and Slurm jobs (which inherit the submitting environment) start
with it. A value the user set wins.

The Python API does not set it: torch may already be loaded in the caller's process, and the
caller's environment is theirs (``docs`` say how to set it).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping

# The variables and the values a job starts with unless the user set them.
JOB_THREAD_ENVIRONMENT = {"OMP_WAIT_POLICY": "PASSIVE"}


def thread_environment(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The thread variables a job starts with: :data:`JOB_THREAD_ENVIRONMENT`, where ``environ``
    (the user's environment) does not set them already (variable → value)."""
    return {variable: environ.get(variable, value) for variable, value in JOB_THREAD_ENVIRONMENT.items()}


def let_idle_threads_sleep(environ: MutableMapping[str, str] = os.environ) -> dict[str, str]:
    """Put :func:`thread_environment` into ``environ`` (the CLI's process, before it imports torch);
    returns the values in effect."""
    values = thread_environment(environ)
    environ.update(values)
    return values
