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
    """Optimiser settings and schedule: ``epochs`` passes over the data in batches of ``batch_size``.

    ``optimizer`` is ``sgd`` (``momentum``, ``nesterov``) or ``adam`` (``betas``), both with L2
    ``weight_decay`` added to the gradient. ``lr`` is the initial learning rate; ``schedule`` is
    ``cosine`` (annealed per epoch to ``min_lr``, as Prune4ReL's ``CosineAnnealingLR(T_max=epochs)``),
    ``step`` (multiplied by ``gamma`` at each epoch in ``milestones``, the originals' ``MultiStepLR``),
    ``constant`` or ``linear_decay`` (constant, then linear from ``decay_start``, with Adam's β1 set to
    ``beta1_after`` from then on: :class:`LinearDecay`). ``schedule_epochs`` (cosine only) anneals
    over that many epochs instead of ``epochs`` (``T_max``), as Prune4ReL's warm-up runs under the
    retrain's schedule and stops early. ``augment`` says whether training inputs are augmented with
    the dataset's weak/strong policies at all. ``drop_last`` leaves out each epoch's last partial
    batch.
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
    optimizer: str = "sgd"
    betas: tuple[float, float] = (0.9, 0.999)
    decay_start: int = 80
    beta1_after: float | None = None
    schedule_epochs: int | None = None
    drop_last: bool = False

    def __post_init__(self) -> None:
        if self.schedule_epochs is not None:
            if self.schedule != "cosine":
                raise ValueError(f"schedule_epochs is the cosine schedule's length; schedule is {self.schedule!r}")
            if self.schedule_epochs < self.epochs:
                raise ValueError(
                    f"schedule_epochs {self.schedule_epochs} is below epochs {self.epochs}: the cosine would rise again"
                )

    @classmethod
    def from_entry(cls, entry: Mapping[str, Any]) -> TrainingSpec:
        """Pick the optimisation keys out of a training config entry."""
        names = {f.name for f in fields(cls)}
        values = {key: value for key, value in entry.items() if key in names}
        for key in ("milestones", "betas"):
            if key in values:
                values[key] = tuple(values[key])
        return cls(**values)

    @staticmethod
    def learner_params(entry: Mapping[str, Any]) -> dict[str, Any]:
        """Return the entry's learner hyperparameters: every key that is not an optimisation setting."""
        names = {f.name for f in fields(TrainingSpec)} | set(ENTRY_KEYS)
        return {key: value for key, value in entry.items() if key not in names}

    def build_optimizer(self, parameters) -> torch.optim.Optimizer:
        """SGD (lr, momentum, Nesterov flag, weight decay) or Adam (lr, betas, weight decay) over
        ``parameters``."""
        if self.optimizer == "adam":
            return torch.optim.Adam(parameters, lr=self.lr, betas=self.betas, weight_decay=self.weight_decay)
        if self.optimizer != "sgd":
            raise ValueError(f"unknown optimizer {self.optimizer!r}")
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
            length = self.epochs if self.schedule_epochs is None else self.schedule_epochs
            return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, length), eta_min=self.min_lr)
        if self.schedule == "step":
            return torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=list(self.milestones), gamma=self.gamma)
        if self.schedule == "constant":
            return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 1.0)
        if self.schedule == "linear_decay":
            return LinearDecay(optimizer, self.epochs, self.decay_start, self.beta1_after)
        raise ValueError(f"unknown schedule {self.schedule!r}")


class LinearDecay(torch.optim.lr_scheduler.LRScheduler):
    """The Co-teaching family's schedule, as RDIA-LS runs it (its ``alpha_plan`` and ``beta1_plan``):
    in epoch ``e`` (from 1) the learning rate is ``lr`` before ``decay_start`` and
    ``lr · (epochs + 1 − e) / (epochs + 1 − decay_start)`` from it on — the original's
    ``(n_epoch − e) / (n_epoch − decay_start)`` with its ``n_epoch`` = ``epochs + 1``, since its loop
    trains epochs 1 … n_epoch − 1. From ``decay_start`` on, Adam's β1 is ``beta1_after`` (``None``
    leaves the betas alone)."""

    def __init__(self, optimizer: torch.optim.Optimizer, epochs: int, decay_start: int, beta1_after: float | None):
        self.epochs, self.decay_start, self.beta1_after = epochs, decay_start, beta1_after
        self.initial_betas = [group.get("betas") for group in optimizer.param_groups]
        super().__init__(optimizer)

    def factor(self, epoch: int) -> float:
        """The learning-rate multiplier of ``epoch`` (from 1)."""
        if epoch < self.decay_start:
            return 1.0
        return max(self.epochs + 1 - epoch, 0) / max(self.epochs + 1 - self.decay_start, 1)

    def get_lr(self) -> list[float]:
        epoch = self.last_epoch + 1  # the epoch about to run
        if self.beta1_after is not None:
            for group, betas in zip(self.optimizer.param_groups, self.initial_betas, strict=True):
                if betas is not None:
                    group["betas"] = (self.beta1_after if epoch >= self.decay_start else betas[0], betas[1])
        return [base * self.factor(epoch) for base in self.base_lrs]
