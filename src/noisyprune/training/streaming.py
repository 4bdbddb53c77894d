"""The streaming data path: inputs read from host storage per batch, for datasets that do not fit
in memory (image folders and file lists with ``storage: stream``).

The images stay uint8 in the memory-mapped cache (:class:`~noisyprune.data.stored.StoredImages`);
DataLoader worker processes read and standardise each batch's rows, into pinned memory when the
device is CUDA, and the main process copies the batch to the device without waiting. Everything
else is the in-memory path's: the same shuffled order from the run's generator, the same batches
with their labels and sample ids, the same values (the standardisation is shared), so a run
computes exactly what it would with the images in memory (tested).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from noisyprune.data.stored import StoredImages
from noisyprune.training.inputs import Batch, TrainingInputs, batch_rows


class _RowBatches(Dataset):
    """Item ``i`` is batch ``i``: the standardised rows ``positions[i]`` of ``store`` as a tensor."""

    def __init__(self, store: StoredImages, positions: Sequence[np.ndarray]):
        self.store = store
        self.positions = positions

    def __len__(self) -> int:
        return len(self.positions)

    def __getitem__(self, index: int) -> torch.Tensor:
        return torch.from_numpy(self.store[self.positions[index]])


def load_batches(store: StoredImages, positions: Sequence[np.ndarray], device: torch.device) -> Iterator[torch.Tensor]:
    """Yield ``store[positions[i]]`` ``(b_i, C, H, W)`` float32 on ``device`` for each ``i`` in
    order, read ahead by ``store.workers`` worker processes (0 = in this process; never more than
    there are batches)."""
    if not len(positions):
        return
    loader = DataLoader(
        _RowBatches(store, positions),
        batch_size=None,
        # a worker reads whole batches: more workers than batches would only be started (forked
        # with the job's networks in memory) to do nothing, on every short pass
        num_workers=min(store.workers, len(positions)),
        pin_memory=device.type == "cuda",
        # its own generator: a DataLoader otherwise draws its worker seed from torch's global
        # generator, and the run would differ from the in-memory one in later global draws
        generator=torch.Generator(),
    )
    for x in loader:
        yield x.to(device, non_blocking=True)


class StreamedInputs:
    """Stands in for an inputs tensor ``x`` ``(n, C, H, W)`` on ``device`` whose rows are rows
    ``positions`` ``(n,)`` of ``store``: ``len``, ``shape``, ``device`` and indexing (integer,
    slice, integer array or tensor → a float32 tensor on the device) work as on the tensor, and
    :meth:`chunks` reads it in order through the workers, for inference over a whole set."""

    dtype = torch.float32

    def __init__(self, store: StoredImages, positions: np.ndarray, device: torch.device):
        self.store = store
        self.positions = np.asarray(positions, dtype=np.int64)
        self.device = torch.device(device)

    def __len__(self) -> int:
        return len(self.positions)

    @property
    def shape(self) -> torch.Size:
        """``(n, C, H, W)``."""
        return torch.Size((len(self), *self.store.shape[1:]))

    def _rows(self, key) -> np.ndarray | int:
        if isinstance(key, torch.Tensor):
            key = key.cpu().numpy()
        return self.positions[key]

    def __getitem__(self, key) -> torch.Tensor:
        return torch.from_numpy(self.store[self._rows(key)]).to(self.device)

    def subset(self, rows) -> StreamedInputs:
        """The inputs ``self[rows]``, still streamed."""
        return StreamedInputs(self.store, np.atleast_1d(self._rows(rows)), self.device)

    def chunks(self, batch_size: int) -> Iterator[torch.Tensor]:
        """Yield the inputs in order, ``batch_size`` rows at a time, on the device."""
        starts = range(0, len(self), batch_size)
        yield from load_batches(self.store, [self.positions[s : s + batch_size] for s in starts], self.device)

    def new_zeros(self, size) -> torch.Tensor:
        """A float32 zero tensor of ``size`` on the device (as ``Tensor.new_zeros``)."""
        return torch.zeros(size, dtype=self.dtype, device=self.device)


@dataclass(frozen=True)
class StreamedData(TrainingInputs):
    """Training samples whose inputs are streamed (:class:`StreamedInputs`); labels ``y`` ``(n,)``
    and global ``sample_id`` ``(n,)`` are int64 tensors on the device (:class:`TrainingInputs`)."""

    x: StreamedInputs
    y: torch.Tensor
    sample_id: torch.Tensor

    def batches(
        self, batch_size: int, generator: torch.Generator | None = None, drop_last: bool = False
    ) -> Iterator[Batch]:
        """The same batches, in the same order, as ``TensorData.batches`` with the same generator."""
        chunks = batch_rows(len(self), batch_size, generator, drop_last)
        inputs = load_batches(self.x.store, [self.x.positions[rows.numpy()] for rows in chunks], self.x.device)
        for rows, x in zip(chunks, inputs):
            rows = rows.to(self.y.device)
            yield Batch(x=x, y=self.y[rows], sample_id=self.sample_id[rows])

    def subset(self, rows: torch.Tensor) -> StreamedData:
        """The samples at positions ``rows`` ``(m,)``, still streamed."""
        return StreamedData(x=self.x.subset(rows), y=self.y[rows], sample_id=self.sample_id[rows])
