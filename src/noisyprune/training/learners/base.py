"""The learner interface: what a robust-training method contributes to the shared loop."""

from __future__ import annotations

import torch

from noisyprune.training.data import Batch
from noisyprune.training.inference import predict_logits
from noisyprune.training.loop import StepOutput, TrainContext


class Learner:
    """A robust-training method. Subclasses implement :meth:`training_step`; every other hook has a
    default that suits a single-network learner without per-sample state.

    Per-sample state (SOP's u/v, ELR's targets, …) is allocated in :meth:`setup`, sized to
    ``ctx.num_samples`` and indexed by the batch's global ``sample_id``.
    """

    def setup(self, ctx: TrainContext) -> None:
        """Allocate state before the first epoch."""

    def on_epoch_start(self, ctx: TrainContext) -> None:
        """Per-epoch preparation (e.g. DivideMix's co-divide)."""

    def training_step(self, ctx: TrainContext, batch: Batch) -> StepOutput:
        """Compute the loss of one batch (forward passes included); the loop does backward/step."""
        raise NotImplementedError

    def after_step(self, ctx: TrainContext) -> None:
        """Called after the model's optimiser step (e.g. to step per-sample state optimisers)."""

    def on_epoch_end(self, ctx: TrainContext) -> None:
        """Per-epoch bookkeeping."""

    def predict_logits(self, ctx: TrainContext, x: torch.Tensor, batch_size: int) -> torch.Tensor:
        """Logits ``(n, C)`` used for evaluation and prediction (eval mode, no gradients)."""
        return predict_logits(ctx.model, x, batch_size)

    def relabel(self, ctx: TrainContext, sample_id: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        """The corrected label ``(n,)`` of the samples ``sample_id`` given their eval ``logits``.

        The default is the model's prediction; learners with per-sample label state override it
        for the samples they trained on.
        """
        return logits.argmax(dim=1)
