"""How a job executes its training and inference on the device: autocast precision, memory
layout and compilation. Hardware settings, not method settings: the top-level config keys
``precision``, ``channels_last`` and ``compile`` (config/README.md), set once per job process by
:func:`noisyprune.training.device.configure_torch` and read by the training loop and inference.

On CUDA the defaults (``auto``) are bf16 autocast and channels-last convolutions, the settings the
fast CIFAR codebases train with; on a CPU both are off (bf16 is slower than fp32 on CPUs without
bf16 units). A value given explicitly is honoured on every device: ``precision: bf16`` autocasts on
a CPU too (torch's CPU autocast supports bfloat16), ``channels_last: true`` converts there as well,
and :func:`notes` says in the job's log what ``auto`` became and what an explicit setting costs on
the device. Parameters, optimiser state and per-sample learner state stay float32; autocast only
lowers the precision of the matmuls and convolutions inside a step.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from noisyprune.errors import ConfigError


@dataclass(frozen=True)
class Execution:
    """``autocast``: the autocast dtype (``None`` = float32 throughout); ``channels_last``: convert
    4-d inputs and conv weights to channels-last memory; ``compile``: ``nn.Module.compile`` each
    network (kept state-dict keys, so checkpoints stay loadable)."""

    autocast: torch.dtype | None = None
    channels_last: bool = False
    compile: bool = False

    @classmethod
    def from_config(cls, settings: Mapping[str, Any] | None, device: torch.device) -> Execution:
        """Resolve ``precision`` (``auto``/``fp32``/``bf16``), ``channels_last`` (``auto``/true/false)
        and ``compile`` (bool) for ``device``."""
        settings = dict(settings or {})
        precision = settings.get("precision", "auto")
        if precision not in ("auto", "fp32", "bf16"):
            raise ConfigError(f"config key 'precision': {precision!r} is not one of auto, fp32, bf16")
        on_cuda = device.type == "cuda"
        dtype = torch.bfloat16 if precision == "bf16" or (precision == "auto" and on_cuda) else None
        channels_last = settings.get("channels_last", "auto")
        channels_last = on_cuda if channels_last == "auto" else bool(channels_last)
        return cls(autocast=dtype, channels_last=channels_last, compile=bool(settings.get("compile", False)))

    def describe(self) -> str:
        """A short description for provenance, e.g. ``bf16 autocast, channels_last``."""
        parts = [f"{str(self.autocast).removeprefix('torch.')} autocast" if self.autocast else "fp32"]
        parts += ["channels_last"] * self.channels_last + ["compiled"] * self.compile
        return ", ".join(parts)

    def autocast_context(self, device: torch.device):
        """The autocast context for a step or an inference pass on ``device`` (a no-op for fp32)."""
        if self.autocast is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=device.type, dtype=self.autocast)

    def prepare(self, network: torch.nn.Module) -> torch.nn.Module:
        """Apply the memory layout and compilation to ``network`` in place; return it."""
        if self.channels_last:
            network.to(memory_format=torch.channels_last)
            network.register_forward_pre_hook(_channels_last_inputs)
        if self.compile:
            network.compile()
        return network


def notes(settings: Mapping[str, Any] | None, device: torch.device) -> list[str]:
    """What the job's log should say about resolving ``settings`` on ``device``: each ``auto`` and
    what it became, and the explicit settings whose cost differs on a CPU (none is ever dropped)."""
    settings = dict(settings or {})
    on_cuda = device.type == "cuda"
    said = []
    if settings.get("precision", "auto") == "auto":
        said.append(f"precision auto: {'bf16 autocast on CUDA' if on_cuda else 'fp32 on a CPU'}")
    elif settings["precision"] == "bf16" and not on_cuda:
        said.append("precision bf16 on a CPU: bf16 autocast, slower than fp32 on CPUs without bf16 units")
    if settings.get("channels_last", "auto") == "auto":
        said.append(f"channels_last auto: {'on' if on_cuda else 'off'} on {'CUDA' if on_cuda else 'a CPU'}")
    if settings.get("compile") and not on_cuda:
        said.append("compile on a CPU: C++ kernels built by torch inductor, tens of seconds per job")
    return said


def _channels_last_inputs(module, args):
    x = args[0]
    if isinstance(x, torch.Tensor) and x.dim() == 4:
        return (x.contiguous(memory_format=torch.channels_last), *args[1:])
    return None


_CURRENT = Execution()


def current() -> Execution:
    """The execution settings of this process (float32, default layout, not compiled unless set)."""
    return _CURRENT


def set_current(execution: Execution) -> None:
    """Set this process's execution settings (a job sets them once, before training)."""
    global _CURRENT
    _CURRENT = execution
