"""In-memory training data that yields batches carrying global sample ids."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class Batch:
    """One mini-batch: inputs ``x`` ``(B, …)``, noisy labels ``y`` ``(B,)``, global ``sample_id`` ``(B,)``."""

    x: torch.Tensor
    y: torch.Tensor
    sample_id: torch.Tensor

    def __len__(self) -> int:
        return len(self.y)


@dataclass(frozen=True)
class TensorData:
    """A set of samples held as tensors on the training device.

    ``sample_id`` holds each row's global index in the full training set, so per-sample learner
    state (sized to the full set) is indexed the same way whether the data is pruned or not.
    """

    x: torch.Tensor
    y: torch.Tensor
    sample_id: torch.Tensor

    @classmethod
    def from_numpy(
        cls, x: np.ndarray, y: np.ndarray, sample_id: np.ndarray, device: torch.device
    ) -> TensorData:
        """Copy numpy arrays ``x`` ``(n, …)`` float, ``y`` ``(n,)`` int and ``sample_id`` ``(n,)`` to ``device``."""
        return cls(
            x=torch.as_tensor(np.ascontiguousarray(x), dtype=torch.float32, device=device),
            y=torch.as_tensor(np.asarray(y), dtype=torch.int64, device=device),
            sample_id=torch.as_tensor(np.asarray(sample_id), dtype=torch.int64, device=device),
        )

    def __len__(self) -> int:
        return len(self.y)

    def batches(self, batch_size: int, generator: torch.Generator | None = None) -> Iterator[Batch]:
        """Yield batches of at most ``batch_size`` rows, shuffled by ``generator`` if one is given."""
        if generator is None:
            order = torch.arange(len(self))
        else:
            order = torch.randperm(len(self), generator=generator)
        order = order.to(self.x.device)
        for start in range(0, len(self), batch_size):
            rows = order[start : start + batch_size]
            yield Batch(x=self.x[rows], y=self.y[rows], sample_id=self.sample_id[rows])
