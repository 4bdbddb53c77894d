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
    def from_numpy(cls, x: np.ndarray, y: np.ndarray, sample_id: np.ndarray, device: torch.device) -> TensorData:
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
        for rows in batch_rows(len(self), batch_size, generator):
            rows = rows.to(self.x.device)
            yield Batch(x=self.x[rows], y=self.y[rows], sample_id=self.sample_id[rows])

    def subset(self, rows: torch.Tensor) -> TensorData:
        """The samples at positions ``rows`` ``(m,)``."""
        return TensorData(self.x[rows], self.y[rows], self.sample_id[rows])


def batch_rows(count: int, batch_size: int, generator: torch.Generator | None = None) -> list[torch.Tensor]:
    """The positions ``0 … count-1`` split into batches of at most ``batch_size`` (CPU tensors): in
    order, or shuffled by one ``randperm`` from ``generator``. Both data paths batch through this,
    so they yield the same batches for the same generator."""
    order = torch.arange(count) if generator is None else torch.randperm(count, generator=generator)
    return list(order.split(batch_size)) if count else []


def device_data(inputs, labels: np.ndarray, sample_id: np.ndarray, device: torch.device):
    """Samples ``sample_id`` ``(n,)`` (positions in ``inputs``) with ``labels`` ``(n,)`` for
    training or evaluation on ``device``: a :class:`TensorData` copied to the device when
    ``inputs`` is an in-memory array, a :class:`~noisyprune.training.streaming.StreamedData` when it
    is stored images (``storage: stream``), as :func:`device_inputs` decides."""
    sample_id = np.asarray(sample_id, dtype=np.int64)
    x = device_inputs(inputs, sample_id, device)
    y = torch.as_tensor(np.asarray(labels), dtype=torch.int64, device=device)
    ids = torch.as_tensor(sample_id, device=device)
    if isinstance(x, torch.Tensor):
        return TensorData(x=x, y=y, sample_id=ids)
    from noisyprune.training.streaming import StreamedData

    return StreamedData(x=x, y=y, sample_id=ids)


def device_inputs(inputs, positions: np.ndarray, device: torch.device):
    """The inputs at ``positions`` ``(n,)`` of ``inputs`` on ``device``, for inference: a float32
    tensor, or a :class:`~noisyprune.training.streaming.StreamedInputs` for stored images."""
    from noisyprune.data.stored import StoredImages

    if isinstance(inputs, StoredImages):
        from noisyprune.training.streaming import StreamedInputs

        return StreamedInputs(inputs, positions, device)
    return torch.as_tensor(np.ascontiguousarray(inputs[positions]), dtype=torch.float32, device=device)
