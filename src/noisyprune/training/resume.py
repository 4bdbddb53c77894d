"""Resumable training: the loop's full state saved every few epochs, so a killed job (preemption,
node failure, SIGKILL) restarts from its last saved epoch and ends exactly where an uninterrupted
run would (bit-identical on CPU).

The state holds every network, optimiser and schedule, the learner's per-sample state, the
callbacks' records, and every random generator the run draws from (batch order, augmentation,
torch's global generator). Learners and callbacks name what to save in ``state_keys``; attributes
not named there are either constant (hyperparameters) or rebuilt within an epoch.

A resume file carries a fingerprint of what the job computes (entries, seed, samples, code hash):
a file written by a different configuration is ignored, never resumed.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from noisyprune.artifacts import atomic_output

log = logging.getLogger(__name__)


def to_savable(value: Any) -> Any:
    """Convert learner/callback state into what ``torch.load(weights_only=True)`` accepts: tensors,
    containers and plain scalars (numpy arrays and modules are wrapped so they can be restored)."""
    if isinstance(value, torch.nn.Module):
        return {"__module__": value.state_dict()}
    if isinstance(value, np.ndarray):
        return {"__ndarray__": torch.from_numpy(np.ascontiguousarray(value))}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {key: to_savable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_savable(item) for item in value]
    if value is None or isinstance(value, bool | int | float | str | torch.Tensor):
        return value
    raise TypeError(f"cannot save state of type {type(value).__name__}")


def from_savable(saved: Any, current: Any) -> Any:
    """Rebuild a value saved by :func:`to_savable`; modules are loaded into ``current`` in place."""
    if isinstance(saved, dict) and "__module__" in saved:
        current.load_state_dict(saved["__module__"])
        return current
    if isinstance(saved, dict) and "__ndarray__" in saved:
        return saved["__ndarray__"].numpy()
    if isinstance(saved, dict):
        return {
            key: from_savable(item, current.get(key) if isinstance(current, dict) else None)
            for key, item in saved.items()
        }
    if isinstance(saved, list):
        currents = list(current) if isinstance(current, list | tuple) else [None] * len(saved)
        currents += [None] * (len(saved) - len(currents))
        restored = [from_savable(item, cur) for item, cur in zip(saved, currents)]
        return tuple(restored) if isinstance(current, tuple) else restored
    return saved


def capture(obj: Any) -> dict[str, Any]:
    """The attributes named in ``obj.state_keys`` in savable form."""
    return {key: to_savable(getattr(obj, key)) for key in getattr(obj, "state_keys", ())}


def restore(obj: Any, state: dict[str, Any]) -> None:
    """Set the attributes captured by :func:`capture` back on ``obj``."""
    for key, value in state.items():
        setattr(obj, key, from_savable(value, getattr(obj, key, None)))


class ResumeFile:
    """A resume file at ``path`` for the job identified by ``fingerprint``, written every ``every``
    epochs (atomically, so a kill during the write leaves the previous one intact)."""

    def __init__(self, path: str | os.PathLike, fingerprint: str, every: int):
        if every < 1:
            raise ValueError(f"resume: every must be ≥ 1 epoch, got {every}")
        self.path, self.fingerprint, self.every = Path(path), fingerprint, int(every)

    def load(self) -> dict[str, Any] | None:
        """The saved state, or ``None`` if there is none or it belongs to another job."""
        if not self.path.is_file():
            return None
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as err:  # a damaged resume file only costs the restart
            log.warning("%s: unreadable resume file ignored (%s); starting from scratch", self.path, err)
            return None
        if state.get("fingerprint") != self.fingerprint:
            log.warning("%s: resume file of a different job configuration ignored", self.path)
            return None
        log.info("%s: resuming after epoch %d", self.path, state["epoch"])
        return state

    def save(self, state: dict[str, Any]) -> None:
        """Write ``state`` (with the fingerprint) atomically."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(self.path, record=False) as tmp:  # rewritten every few epochs, read by no rule
            torch.save({**state, "fingerprint": self.fingerprint}, tmp)

    def due(self, epoch: int, last_epoch: int) -> bool:
        """Whether to save after ``epoch`` (never after the last: the job's outputs follow)."""
        return epoch % self.every == 0 and epoch < last_epoch

    def remove(self) -> None:
        """Delete the file once the job's outputs are written."""
        self.path.unlink(missing_ok=True)
