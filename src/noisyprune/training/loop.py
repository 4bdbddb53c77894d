"""The training loop: one loop for every learner, extended through learner hooks and callbacks.

A :class:`~noisyprune.training.learners.base.Learner` decides what a training step computes (its
loss, any per-sample state, extra networks); the loop owns everything else — shuffling, the
optimiser and schedule, the non-finite-loss guard — and tells :class:`Callback` objects what
happened (to record dynamics, evaluate on the test set, write history).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from noisyprune.errors import TrainingError
from noisyprune.models.base import Classifier
from noisyprune.training.data import Batch, TensorData
from noisyprune.training.spec import TrainingSpec


@dataclass
class StepOutput:
    """What a learner's training step returns: the scalar ``loss`` to minimise and the ``logits``
    ``(B, C)`` of the batch's primary view (detached), which callbacks use for statistics."""

    loss: torch.Tensor
    logits: torch.Tensor


@dataclass
class TrainContext:
    """State shared by the loop, the learner and the callbacks during one training run.

    ``num_samples`` is the size of the *full* training set: per-sample state is indexed by global
    ``sample_id`` even when training on a pruned subset. ``epoch`` counts from 1.
    """

    model: Classifier
    optimizer: torch.optim.Optimizer
    device: torch.device
    num_samples: int
    num_classes: int
    learner_name: str
    generator: torch.Generator
    epoch: int = 0
    epoch_loss_sum: torch.Tensor | None = field(default=None, repr=False)

    @property
    def lr(self) -> float:
        """Current learning rate of the model's optimiser."""
        return float(self.optimizer.param_groups[0]["lr"])


class Callback:
    """Observer of a training run; override any hook. All hooks default to doing nothing."""

    def on_epoch_start(self, ctx: TrainContext) -> None:
        """Called before the first batch of epoch ``ctx.epoch``."""

    def on_batch_end(self, ctx: TrainContext, batch: Batch, output: StepOutput) -> None:
        """Called after the optimiser step of each batch."""

    def on_epoch_end(self, ctx: TrainContext) -> None:
        """Called after the last batch of the epoch, before the learning rate is stepped."""


def fit(
    model: Classifier,
    learner,
    train: TensorData,
    spec: TrainingSpec,
    *,
    num_samples: int,
    num_classes: int,
    learner_name: str,
    seed: int,
    callbacks: Sequence[Callback] = (),
) -> TrainContext:
    """Train ``model`` on ``train`` with ``learner`` for ``spec.epochs`` epochs and return the context.

    Batches are shuffled by a generator seeded with ``seed``. A non-finite epoch loss stops training
    with a :class:`TrainingError` naming the epoch and learner (checked once per epoch, so the loop
    never waits on the device inside an epoch).
    """
    device = train.x.device
    model.to(device)
    optimizer = spec.build_optimizer(model.parameters())
    scheduler = spec.build_scheduler(optimizer)
    ctx = TrainContext(
        model=model,
        optimizer=optimizer,
        device=device,
        num_samples=num_samples,
        num_classes=num_classes,
        learner_name=learner_name,
        generator=torch.Generator().manual_seed(seed),
    )
    learner.setup(ctx)
    for epoch in range(1, spec.epochs + 1):
        ctx.epoch = epoch
        ctx.epoch_loss_sum = torch.zeros((), device=device)
        model.train()
        learner.on_epoch_start(ctx)
        for callback in callbacks:
            callback.on_epoch_start(ctx)
        for batch in train.batches(spec.batch_size, generator=ctx.generator):
            optimizer.zero_grad(set_to_none=True)
            output = learner.training_step(ctx, batch)
            output.loss.backward()
            optimizer.step()
            learner.after_step(ctx)
            ctx.epoch_loss_sum += output.loss.detach() * len(batch)
            for callback in callbacks:
                callback.on_batch_end(ctx, batch, output)
        if not torch.isfinite(ctx.epoch_loss_sum):
            raise TrainingError(
                f"learner {learner_name!r}: non-finite training loss in epoch {epoch} "
                f"(lr {ctx.lr:g}); lower the learning rate or check the inputs"
            )
        learner.on_epoch_end(ctx)
        for callback in callbacks:
            callback.on_epoch_end(ctx)
        scheduler.step()
    return ctx
