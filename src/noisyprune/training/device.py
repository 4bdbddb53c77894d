"""Choosing the torch device and the CPU threads a job may use."""

from __future__ import annotations

import torch

from noisyprune.errors import ConfigError


def configure_torch(device: str, threads: int) -> torch.device:
    """Return the torch device for ``device`` (``auto``, ``cpu`` or ``cuda``) and limit CPU threads.

    ``threads`` is the number of cores Snakemake gave the job (``threads:`` of the rule); torch's
    default of one thread per core would oversubscribe the machine when jobs run side by side.
    ``cuda`` on a machine without a GPU is an error rather than a silent CPU fallback.
    """
    torch.set_num_threads(max(1, int(threads)))
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("config key 'device': 'cuda' requested but torch sees no CUDA device")
    if device not in ("cpu", "cuda"):
        raise ConfigError(f"config key 'device': unknown device {device!r}; use auto, cpu or cuda")
    return torch.device(device)


def device_description(device: torch.device) -> str:
    """Return a human-readable name of ``device``, e.g. ``cpu (2 threads)`` or the GPU's model."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({torch.get_num_threads()} threads)"
