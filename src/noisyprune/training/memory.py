"""Peak memory of a training job, for sizing cluster requests (docs/sizing.md).

On CUDA it is the allocator's peak (``torch.cuda.max_memory_allocated``: tensors only, without the
CUDA context and the allocator's cache); on a CPU, where the tensors live in the process's own
memory, the process's peak resident set size (imported libraries included), the figure a Slurm
``--mem`` request must cover. Each value is recorded with its source, so the two are never read as
one another.
"""

from __future__ import annotations

import sys

import torch


def peak_memory(device: torch.device) -> dict[str, float | str | None]:
    """``{"peak_memory_mb": …, "peak_memory_source": …}`` of this process on ``device``: the CUDA
    allocator's peak (``cuda_max_allocated``), else the process's peak resident set size
    (``process_max_rss``), or ``None`` with source ``unavailable`` where the platform has neither."""
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated(device)
        return {"peak_memory_mb": round(peak / 2**20, 1), "peak_memory_source": "cuda_max_allocated"}
    peak = _own_peak_bytes()
    if peak is None:
        return {"peak_memory_mb": None, "peak_memory_source": "unavailable"}
    return {"peak_memory_mb": round(peak / 2**20, 1), "peak_memory_source": "process_max_rss"}


def _own_peak_bytes() -> int | None:
    """This process's peak resident set size in bytes: Linux's VmHWM (its own memory, from the
    moment it was started), else getrusage's ru_maxrss, which on Linux also keeps the peak of the
    process it was forked from; None where neither exists."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024  # kB
    except OSError:
        pass
    try:
        import resource
    except ImportError:  # not a Unix
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return peak * (1 if sys.platform == "darwin" else 1024)
