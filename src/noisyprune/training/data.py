"""In-memory training data, and the choice between it and streamed data for a dataset's inputs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from noisyprune.data.stored import StoredImages
from noisyprune.training.inputs import Batch, TrainingInputs, batch_rows
from noisyprune.training.streaming import StreamedData, StreamedInputs


@dataclass(frozen=True)
class TensorData(TrainingInputs):
    """Training samples held as tensors on the training device: inputs ``x`` ``(n, …)`` float32,
    labels ``y`` ``(n,)`` and global ``sample_id`` ``(n,)`` int64 (:class:`TrainingInputs`)."""

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

    def batches(
        self, batch_size: int, generator: torch.Generator | None = None, drop_last: bool = False
    ) -> Iterator[Batch]:
        """Yield batches of at most ``batch_size`` rows, shuffled by ``generator`` if one is given,
        without a last partial batch when ``drop_last``."""
        for rows in batch_rows(len(self), batch_size, generator, drop_last):
            rows = rows.to(self.x.device)
            yield Batch(x=self.x[rows], y=self.y[rows], sample_id=self.sample_id[rows])

    def subset(self, rows: torch.Tensor) -> TensorData:
        """The samples at positions ``rows`` ``(m,)``."""
        return TensorData(self.x[rows], self.y[rows], self.sample_id[rows])


def device_data(
    inputs: np.ndarray | StoredImages, labels: np.ndarray, sample_id: np.ndarray, device: torch.device
) -> TrainingInputs:
    """Samples ``sample_id`` ``(n,)`` (positions in ``inputs``) with ``labels`` ``(n,)`` for
    training or evaluation on ``device``: a :class:`TensorData` copied to the device when
    ``inputs`` is an in-memory array, a :class:`~noisyprune.training.streaming.StreamedData` when it
    is stored images (``storage: stream``), as :func:`device_inputs` decides."""
    sample_id = np.asarray(sample_id, dtype=np.int64)
    x = device_inputs(inputs, sample_id, device)
    y = torch.as_tensor(np.asarray(labels), dtype=torch.int64, device=device)
    ids = torch.as_tensor(sample_id, device=device)
    if isinstance(x, StreamedInputs):
        return StreamedData(x=x, y=y, sample_id=ids)
    return TensorData(x=x, y=y, sample_id=ids)


def device_inputs(
    inputs: np.ndarray | StoredImages, positions: np.ndarray, device: torch.device
) -> torch.Tensor | StreamedInputs:
    """The inputs at ``positions`` ``(n,)`` of ``inputs`` on ``device``, for inference: a float32
    tensor ``(n, …)``, or a :class:`~noisyprune.training.streaming.StreamedInputs` for stored images."""
    if isinstance(inputs, StoredImages):
        return StreamedInputs(inputs, positions, device)
    return torch.as_tensor(np.ascontiguousarray(inputs[positions]), dtype=torch.float32, device=device)
