"""What the training loop shares with learners and callbacks: the run's state, a step's result,
an epoch's phases and the callback hooks.

Learners (:mod:`noisyprune.training.learners`) and callbacks (:mod:`noisyprune.training.callbacks`)
are written against these types alone; :func:`noisyprune.training.loop.fit` drives them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import torch

from noisyprune.models.base import Classifier
from noisyprune.training.augment import Augmenter
from noisyprune.training.inputs import Batch, TrainingInputs


@dataclass(frozen=True)
class LabelsToCorrect:
    """What a learner that corrects labels before training reads (``Learner.prepare_labels``):
    the noisy labels ``(n,)`` and the warm-up model's embeddings ``(n, d)``, both indexed by sample
    id, the ids of the samples it will train on ``(m,)`` and of the clean probe set ``(k,)``."""

    noisy_label: np.ndarray
    sample_ids: np.ndarray
    probe_ids: np.ndarray
    embeddings: np.ndarray
    num_classes: int


@dataclass
class StepOutput:
    """What a learner's training step returns: the scalar ``loss`` to minimise and the ``logits``
    ``(B, C)`` of the batch's samples under the trained network (detached), which callbacks use for
    per-sample statistics; ``None`` where the step has no per-sample logits (e.g. mixed inputs)."""

    loss: torch.Tensor
    logits: torch.Tensor | None


@dataclass
class Phase:
    """Part of an epoch: network ``network`` (an index into ``TrainContext.models``) trains on
    ``batches``. Single-network learners have one phase per epoch over the shuffled data."""

    network: int
    batches: Iterable[Batch]


@dataclass
class TrainContext:
    """State shared by the loop, the learner and the callbacks during one training run.

    ``num_samples`` is the size of the *full* training set: per-sample state is indexed by global
    ``sample_id`` even when training on a pruned subset; ``train`` holds the samples trained on.
    ``models``/``optimizers`` hold one entry per network (two for DivideMix and ELR+); ``active`` is
    the index of the network the current phase trains. ``epoch`` counts from 1.
    """

    models: list[Classifier]
    optimizers: list[torch.optim.Optimizer]
    device: torch.device
    num_samples: int
    num_classes: int
    learner_name: str
    generator: torch.Generator
    train: TrainingInputs
    batch_size: int
    augment: Augmenter
    # The clean probe set (meta-learners' validation batches), when the noise stage held one out.
    probe: TrainingInputs | None = None
    # Leave out each epoch's last partial training batch (the spec's ``drop_last``).
    drop_last: bool = False
    epoch: int = 0
    active: int = 0
    epoch_loss_sum: torch.Tensor | None = field(default=None, repr=False)
    epoch_samples: int = 0

    @property
    def model(self) -> Classifier:
        """The primary network (the one saved as the warm-up checkpoint)."""
        return self.models[0]

    @property
    def network(self) -> Classifier:
        """The network the current phase trains."""
        return self.models[self.active]

    @property
    def lr(self) -> float:
        """Current learning rate of the primary network's optimiser."""
        return float(self.optimizers[0].param_groups[0]["lr"])

    def trains_on(self, sample_id: torch.Tensor) -> torch.Tensor:
        """``(n,)`` bool: which of the global ``sample_id`` are among the samples trained on."""
        return torch.isin(sample_id, self.train.sample_id)

    def shuffled_batches(self, batch_size: int | None = None, inputs: TrainingInputs | None = None) -> Iterable[Batch]:
        """The training samples (or those of ``inputs``, e.g. a learner's chosen part of them) in
        batches of ``batch_size`` (default: the spec's), freshly shuffled, without the last partial
        batch when ``drop_last``."""
        samples = self.train if inputs is None else inputs
        return samples.batches(batch_size or self.batch_size, generator=self.generator, drop_last=self.drop_last)


class Callback:
    """Observer of a training run; override any hook. All hooks default to doing nothing.

    ``state_keys`` names the attributes a resumed run must restore (records kept so far)."""

    state_keys: tuple[str, ...] = ()

    def on_epoch_start(self, ctx: TrainContext) -> None:
        """Called before the first batch of epoch ``ctx.epoch``."""

    def on_batch_end(self, ctx: TrainContext, batch: Batch, output: StepOutput) -> None:
        """Called after the optimiser step of each batch (``ctx.active`` names the network)."""

    def on_epoch_end(self, ctx: TrainContext) -> None:
        """Called after the last batch of the epoch, before the learning rate is stepped."""
