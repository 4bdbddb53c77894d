"""Choosing the torch device and the CPU threads a job may use."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import torch

from noisyprune.errors import ConfigError
from noisyprune.training.execution import Execution, current, notes, set_current

log = logging.getLogger(__name__)


def configure_torch(device: str, threads: int, execution: Mapping[str, Any] | None = None) -> torch.device:
    """Return the torch device for ``device`` (``auto``, ``cpu`` or ``cuda``) and limit CPU threads;
    set this process's execution settings from ``execution`` (the config's ``precision``,
    ``channels_last``, ``compile``; :mod:`noisyprune.training.execution`).

    ``threads`` is the number of cores Snakemake gave the job (``threads:`` of the rule); torch's
    default of one thread per core would oversubscribe the machine when jobs run side by side.
    ``cuda`` on a machine without a GPU is an error rather than a silent CPU fallback, and so is
    ``compile: true`` on a CPU without the C++ compiler torch's inductor needs. The job's log says
    what the execution settings resolved to (:func:`noisyprune.training.execution.notes`).
    """
    torch.set_num_threads(max(1, int(threads)))
    if device == "auto":
        chosen = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    elif device not in ("cpu", "cuda"):
        raise ConfigError(f"config key 'device': unknown device {device!r}; use auto, cpu or cuda")
    else:
        check_requested_device(device)
        chosen = torch.device(device)
    resolved = Execution.from_config(execution, chosen)
    if resolved.compile:
        check_compiler(chosen)
    set_current(resolved)
    log.info(
        "execution on %s: %s%s", chosen.type, resolved.describe(), "".join(f"; {n}" for n in notes(execution, chosen))
    )
    return chosen


def check_compiler(device: torch.device) -> None:
    """Refuse ``compile: true`` on a CPU where torch's inductor finds no C++ compiler (``$CXX`` or
    ``g++``): without the check the job fails only at its first training step, deep in the compiler."""
    if device.type != "cpu":
        return
    from torch._inductor import cpp_builder  # imported only when compiling: it costs a second or two

    try:
        compiler = cpp_builder.get_cpp_compiler()
    except Exception as err:  # InvalidCxxCompiler, or whatever a future torch raises for "none found"
        raise ConfigError(
            "config key 'compile': torch.compile on a CPU builds C++ kernels, but torch finds no C++ compiler "
            f"here ({type(err).__name__}; it looks for $CXX, else g++); install g++ or set compile: false"
        ) from err
    log.debug("compile on a CPU with %s", compiler)


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
