"""The optimisation settings shared by every learner, read from a warm-up or learner config entry."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import torch

# Keys of a training entry that are not optimisation settings nor learner hyperparameters.
ENTRY_KEYS = ("learner", "model", "score_epochs", "init")


@dataclass(frozen=True)
class TrainingSpec:
    """SGD settings and schedule: ``epochs`` passes over the data in batches of ``batch_size``.

    ``lr`` is the initial learning rate; ``schedule`` is ``cosine`` (annealed per epoch to
    ``min_lr``, as Prune4ReL's ``CosineAnnealingLR(T_max=epochs)``), ``step`` (multiplied by
    ``gamma`` at each epoch in ``milestones``, the originals' ``MultiStepLR``) or ``constant``. ``augment``
    says whether training inputs are augmented with the dataset's weak/strong policies at all.
    """

    epochs: int
    batch_size: int = 128
    lr: float = 0.02
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    schedule: str = "cosine"
    min_lr: float = 1e-4
    augment: bool = True
    milestones: tuple[int, ...] = ()
    gamma: float = 0.1

    @classmethod
    def from_entry(cls, entry: Mapping[str, Any]) -> TrainingSpec:
        """Pick the optimisation keys out of a training config entry."""
        names = {f.name for f in fields(cls)}
        values = {key: value for key, value in entry.items() if key in names}
        if "milestones" in values:
            values["milestones"] = tuple(values["milestones"])
        return cls(**values)

    @staticmethod
    def learner_params(entry: Mapping[str, Any]) -> dict[str, Any]:
        """Return the entry's learner hyperparameters: every key that is not an optimisation setting."""
        names = {f.name for f in fields(TrainingSpec)} | set(ENTRY_KEYS)
        return {key: value for key, value in entry.items() if key not in names}

    def build_optimizer(self, parameters) -> torch.optim.Optimizer:
        """SGD over ``parameters`` with this spec's lr, momentum, Nesterov flag and weight decay."""
        return torch.optim.SGD(
            parameters,
            lr=self.lr,
            momentum=self.momentum,
            nesterov=self.nesterov and self.momentum > 0,
            weight_decay=self.weight_decay,
        )

    def build_scheduler(self, optimizer: torch.optim.Optimizer) -> torch.optim.lr_scheduler.LRScheduler:
        """The per-epoch learning-rate schedule for ``optimizer``."""
        if self.schedule == "cosine":
            return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, self.epochs), eta_min=self.min_lr)
        if self.schedule == "step":
            return torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=list(self.milestones), gamma=self.gamma)
        if self.schedule == "constant":
            return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 1.0)
        raise ValueError(f"unknown schedule {self.schedule!r}")
