"""Where a pruner may compute: the run's ``device`` setting, for the pruners that can use a GPU.

The workflow's select stage sets it from the config's ``device`` (``auto``, ``cpu``, ``cuda``), so
``device: cpu`` keeps Prune4ReL's torch engine off a GPU that the machine happens to have; outside
a select job (the API, the shell) it is ``auto``: a GPU when torch sees one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

DEVICES = ("auto", "cpu", "cuda")
_DEVICE: ContextVar[str] = ContextVar("noisyprune_pruner_device", default="auto")


@contextmanager
def on_device(device: str) -> Iterator[None]:
    """Run the selections made inside the block with the device setting ``device``."""
    if device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
    token = _DEVICE.set(device)
    try:
        yield
    finally:
        _DEVICE.reset(token)


def cuda_allowed() -> bool:
    """Whether a pruner may compute on a CUDA device now: torch sees one and the setting is not
    ``cpu``."""
    if _DEVICE.get() == "cpu":
        return False
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()
