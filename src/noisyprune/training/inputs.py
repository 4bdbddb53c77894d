"""What training asks of a set of samples, however its inputs are held.

:class:`TrainingInputs` is the declared interface of a training (or test, or probe) set: the
in-memory :class:`~noisyprune.training.data.TensorData` and the streamed
:class:`~noisyprune.training.streaming.StreamedData` implement it, and the loop, the learners and
the callbacks depend on it alone. The :class:`Batch` both yield and the batch order both follow
(:func:`batch_rows`) live here too, so neither implementation imports the other.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol, Self

import torch


@dataclass(frozen=True)
class Batch:
    """One mini-batch: inputs ``x`` ``(B, …)``, noisy labels ``y`` ``(B,)``, global ``sample_id`` ``(B,)``."""

    x: torch.Tensor
    y: torch.Tensor
    sample_id: torch.Tensor

    def __len__(self) -> int:
        return len(self.y)


def batch_rows(
    count: int, batch_size: int, generator: torch.Generator | None = None, drop_last: bool = False
) -> list[torch.Tensor]:
    """The positions ``0 … count-1`` split into batches of at most ``batch_size`` (CPU tensors): in
    order, or shuffled by one ``randperm`` from ``generator``; ``drop_last`` leaves out the last
    batch when it is smaller than ``batch_size`` (PyTorch's ``DataLoader(drop_last=True)``: those
    ``count mod batch_size`` samples are not seen that epoch). Every implementation of
    :class:`TrainingInputs` batches through this, so all yield the same batches for the same
    generator."""
    order = torch.arange(count) if generator is None else torch.randperm(count, generator=generator)
    batches = list(order.split(batch_size)) if count else []
    if drop_last and batches and len(batches[-1]) < batch_size:
        batches.pop()
    return batches


class InputRows(Protocol):
    """The inputs ``x`` ``(n, …)`` of a set as training and inference read them: a float32 tensor
    on the training device, or a stand-in that reads its rows on demand (streamed images).
    Indexing by an integer, slice, integer array or tensor gives float32 rows on ``device``."""

    @property
    def device(self) -> torch.device: ...

    @property
    def shape(self) -> torch.Size: ...

    def __len__(self) -> int: ...

    def __getitem__(self, key: Any) -> torch.Tensor: ...

    def new_zeros(self, size: Any) -> torch.Tensor: ...


class TrainingInputs(ABC):
    """A set of ``n`` samples on the training device: inputs ``x`` ``(n, …)`` (:class:`InputRows`),
    noisy labels ``y`` ``(n,)`` int64 and ``sample_id`` ``(n,)`` int64, each row's global index in
    the full training set, so per-sample learner state (sized to the full set) is indexed the same
    way whether the data is pruned or not.

    Implementations differ only in where the inputs live; for the same generator they yield the
    same batches with the same values."""

    x: InputRows
    y: torch.Tensor
    sample_id: torch.Tensor

    def __len__(self) -> int:
        return len(self.y)

    @abstractmethod
    def batches(
        self, batch_size: int, generator: torch.Generator | None = None, drop_last: bool = False
    ) -> Iterator[Batch]:
        """Yield batches of at most ``batch_size`` samples: in order, or shuffled by ``generator``,
        without a last partial batch when ``drop_last`` (through :func:`batch_rows`)."""

    @abstractmethod
    def subset(self, rows: torch.Tensor) -> Self:
        """The samples at positions ``rows`` ``(m,)``, held the same way."""
