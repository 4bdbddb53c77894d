"""Choosing the torch device and the CPU threads a job may use."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from noisyprune.errors import ConfigError
from noisyprune.training.execution import Execution, current, set_current


def configure_torch(device: str, threads: int, execution: Mapping[str, Any] | None = None) -> torch.device:
    """Return the torch device for ``device`` (``auto``, ``cpu`` or ``cuda``) and limit CPU threads;
    set this process's execution settings from ``execution`` (the config's ``precision``,
    ``channels_last``, ``compile``; :mod:`noisyprune.training.execution`).

    ``threads`` is the number of cores Snakemake gave the job (``threads:`` of the rule); torch's
    default of one thread per core would oversubscribe the machine when jobs run side by side.
    ``cuda`` on a machine without a GPU is an error rather than a silent CPU fallback.
    """
    torch.set_num_threads(max(1, int(threads)))
    if device == "auto":
        chosen = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    elif device not in ("cpu", "cuda"):
        raise ConfigError(f"config key 'device': unknown device {device!r}; use auto, cpu or cuda")
    else:
        check_requested_device(device)
        chosen = torch.device(device)
    set_current(Execution.from_config(execution, chosen))
    return chosen


def check_requested_device(device: str) -> None:
    """Refuse ``device: cuda`` on a machine where torch sees no CUDA device (a local run checks
    this before its first job; a cluster job checks on its own node in :func:`configure_torch`)."""
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            "config key 'device': 'cuda' requested but torch sees no CUDA device on this machine "
            f"(torch {torch.__version__}, CUDA build {torch.version.cuda or 'none'}); use device: auto or cpu here"
        )


def device_description(device: torch.device) -> str:
    """Return a human-readable name of ``device`` and how jobs run on it, e.g. ``cpu (2 threads),
    fp32`` or ``NVIDIA H200, bfloat16 autocast, channels_last``."""
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({torch.get_num_threads()} threads)"
    return f"{name}, {current().describe()}"
