"""The learner interface: what a robust-training method contributes to the shared loop."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

import numpy as np
import torch

from noisyprune.params import declare
from noisyprune.training.context import LabelsToCorrect, Phase, StepOutput, TrainContext
from noisyprune.training.inference import predict_logits
from noisyprune.training.inputs import Batch, TrainingInputs


@declare()
class Learner:
    """A robust-training method. Subclasses implement :meth:`training_step`; every other hook has a
    default that suits a single-network learner without per-sample state.

    Per-sample state (SOP's u/v, ELR's targets, …) is allocated in :meth:`setup`, sized to
    ``ctx.num_samples`` and indexed by the batch's global ``sample_id``. ``num_networks`` tells the
    loop how many networks to build (``ctx.models``).
    """

    num_networks: int = 1
    # Meta-learners (L2R) need the noise stage's clean probe set as ``ctx.probe``; the loop refuses
    # to start them without one.
    needs_probe: bool = False
    # Learners that correct labels before training from the warm-up's embeddings (RDIA) set this;
    # the workflow then hands the retrain job the warm-up's features and calls prepare_labels.
    needs_warmup_features: bool = False
    # Attributes holding state that changes during training, saved in resume files; attributes
    # starting with "_" are rebuilt within an epoch and never saved.
    state_keys: tuple[str, ...] = ()
    # Whether the networks may run compiled (``compile: true``). Learners whose step differentiates
    # through a gradient step (L2R's and IEG's second-order meta gradient) set False: torch.compile's
    # autograd does not support double backward, so the loop runs their networks uncompiled and the
    # job's log and provenance say so.
    compiles: bool = True
    # Learner-specific facts about the run, added to the retrain's metrics (e.g. RDIA's relabel
    # count); a learner replaces this read-only empty mapping with its own dict.
    report: Mapping[str, Any] = MappingProxyType({})

    def __init__(self) -> None:
        """A learner without hyperparameters; subclasses take theirs as keyword arguments, each
        declared with :func:`noisyprune.params.declare`."""

    def prepare_labels(self, given: LabelsToCorrect) -> np.ndarray:
        """The labels to train on, ``(n,)`` indexed by sample id, before the first epoch; called only
        when :attr:`needs_warmup_features`. By default the given ``noisy_label``."""
        return given.noisy_label

    def setup(self, ctx: TrainContext) -> None:
        """Allocate state before the first epoch."""

    def on_epoch_start(self, ctx: TrainContext) -> None:
        """Per-epoch preparation (e.g. DivideMix's co-divide)."""

    def epoch_phases(self, ctx: TrainContext) -> Sequence[Phase]:
        """Which network trains on which batches this epoch; by default the primary network on
        the shuffled training samples."""
        return [Phase(0, ctx.shuffled_batches())]

    def training_step(self, ctx: TrainContext, batch: Batch) -> StepOutput:
        """Compute the loss of one batch for network ``ctx.network`` (forward passes included);
        the loop does backward and the optimiser step."""
        raise NotImplementedError

    def after_step(self, ctx: TrainContext) -> None:
        """Called after the model's optimiser step (e.g. to step per-sample state optimisers)."""

    def on_epoch_end(self, ctx: TrainContext) -> None:
        """Per-epoch bookkeeping."""

    def predict_logits(self, ctx: TrainContext, x: torch.Tensor, batch_size: int) -> torch.Tensor:
        """Logits ``(n, C)`` used for evaluation and prediction (eval mode, no gradients)."""
        return predict_logits(ctx.model, x, batch_size)

    def relabel(
        self, ctx: TrainContext, sample_id: torch.Tensor, noisy_label: torch.Tensor, logits: torch.Tensor
    ) -> torch.Tensor:
        """The corrected label ``(n,)`` of the samples ``sample_id`` (global ids ``(n,)``) given their
        ``noisy_label`` ``(n,)`` and eval ``logits`` ``(n, C)`` from :meth:`predict_logits`.

        The default is the model's prediction; learners with per-sample label state override it
        for the samples they trained on.
        """
        return logits.argmax(dim=1)


class TwoNetworkLearner(Learner):
    """A learner that co-trains two networks (DivideMix, ELR+) and predicts with both: the sum of
    their logits (DivideMix's ``outputs1 + outputs2``; ELR+'s average has the same argmax)."""

    num_networks = 2

    def predict_logits(self, ctx: TrainContext, x: torch.Tensor, batch_size: int) -> torch.Tensor:
        """Summed logits ``(n, C)`` of both networks in eval mode."""
        return predict_logits(ctx.models[0], x, batch_size) + predict_logits(ctx.models[1], x, batch_size)


def draw_probe_batch(probe: TrainingInputs, size: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``size`` samples ``(x, y)`` of the clean probe set drawn without replacement by ``generator``
    (all of them if it holds no more), for a meta-learner's step."""
    if len(probe) <= size:
        return probe.x, probe.y
    rows = torch.randperm(len(probe), generator=generator)[:size].to(probe.x.device)
    return probe.x[rows], probe.y[rows]


def sharpen(probs: torch.Tensor, temperature: float) -> torch.Tensor:
    """Temperature sharpening ``p^(1/T) / Σ p^(1/T)`` of probability rows ``(B, C)``."""
    powered = probs ** (1.0 / temperature)
    return powered / powered.sum(dim=1, keepdim=True)


def mixup_coefficient(alpha: float) -> float:
    """λ ~ Beta(α, α) folded to ``max(λ, 1 − λ)`` so the first input dominates, as MixMatch does.

    Drawn from torch's global generator, which the training run seeds."""
    if alpha <= 0:
        return 1.0
    value = float(torch.distributions.Beta(float(alpha), float(alpha)).sample())
    return max(value, 1.0 - value)
