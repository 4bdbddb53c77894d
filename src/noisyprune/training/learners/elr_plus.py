"""ELR+ (Liu et al., NeurIPS 2020): ELR with two networks, weight averaging and mixup.

Each epoch trains network 1 and then network 2 on the shuffled data. For network k on a batch:
draw λ ~ Beta(α, α) (folded to ≥ 0.5) and a permutation π; mix inputs and one-hot labels; update
network k's temporal-ensemble targets ``h_k`` with the prediction of the *other* network's weight
average (EMA) on the un-mixed inputs; mix the targets with the same λ and π; minimise
``CE(mixed labels) + w(t) · λ_ELR · mean log(1 − ⟨q, p⟩)`` with ``w`` the sigmoid ramp-up
``exp(−5 (1 − t / coef_step)²)`` at the step's number ``t`` (1 for network k's first step). After
the step network k's EMA copy moves towards it with ``α = ramp(t + 1, ema_step) · ema_alpha``.
Both counts are the original's (``ELR_plus/trainer/trainer.py``): its loss reads
``global_step + local_step`` with ``local_step`` counted from 1, its EMA update
``sigmoid_rampup(global_step + local_step + 1, ema_step)``. Prediction: both networks' logits summed.

``reweight_labels`` multiplies the mixed labels by the mixed targets and renormalises, which the
original does on CIFAR-100 only.
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F

from noisyprune.params import declare, param
from noisyprune.training.context import Phase, StepOutput, TrainContext
from noisyprune.training.inputs import Batch
from noisyprune.training.learners.base import TwoNetworkLearner, mixup_coefficient
from noisyprune.training.learners.elr import BETA, CLAMP, LAM, elr_regulariser, update_targets


def sigmoid_rampup(step: int, length: int) -> float:
    """``exp(−5 (1 − step/length)²)`` for ``step < length``, 1 afterwards (1 when ``length`` is 0)."""
    if length <= 0:
        return 1.0
    phase = 1.0 - min(step, length) / length
    return float(math.exp(-5.0 * phase * phase))


@declare(
    BETA,
    LAM,
    param("mixup_alpha", "Beta(α, α) of mixup.", type="number", minimum=0),
    param("coef_step", "Steps of the sigmoid ramp-up of the ELR weight (0 = none).", type="integer", minimum=0),
    param(
        "ema_alpha",
        (
            "Rate of each network's weight average, which produces the *other* network's targets. 0.997 averages over"
            " ~330 steps: about an epoch on CIFAR, but many epochs on a small set, so lower it there."
        ),
        type="number",
        minimum=0,
        exclusiveMaximum=1,
    ),
    param("ema_step", "Steps of the ramp-up of the weight-average rate.", type="integer", minimum=0),
    param(
        "reweight_labels",
        "Multiply the mixed labels by the mixed targets (the original does on CIFAR-100).",
        type="boolean",
    ),
)
class ELRPlus(TwoNetworkLearner):
    """ELR+ with ``beta``/``lam`` as ELR, ``mixup_alpha``, ``coef_step`` (steps of the λ ramp-up,
    0 = none), ``ema_alpha`` and ``ema_step`` (steps of the EMA-rate ramp-up; the CIFAR configs
    use 0.997 and 40,000, which at laptop scale means shorter ramps), ``reweight_labels``.

    State: targets ``h`` ``(N, C)`` per network and an EMA copy of each network.
    Re-labeling readout: argmax of the summed logits of both networks for every sample.
    """

    state_keys = ("targets", "ema", "steps")  # restored on resume

    def __init__(
        self,
        beta: float = 0.7,
        lam: float = 3.0,
        mixup_alpha: float = 1.0,
        coef_step: int = 0,
        ema_alpha: float = 0.997,
        ema_step: int = 40000,
        reweight_labels: bool = False,
    ):
        self.beta, self.lam, self.mixup_alpha = float(beta), float(lam), float(mixup_alpha)
        self.coef_step, self.ema_alpha, self.ema_step = int(coef_step), float(ema_alpha), int(ema_step)
        self.reweight_labels = bool(reweight_labels)

    def setup(self, ctx: TrainContext) -> None:
        """Zero targets per network and EMA copies initialised to the networks' weights."""
        self.targets = [torch.zeros(ctx.num_samples, ctx.num_classes, device=ctx.device) for _ in range(2)]
        self.ema = [copy.deepcopy(network) for network in ctx.models]
        for ema in self.ema:
            ema.requires_grad_(False)
        self.steps = [0, 0]

    def epoch_phases(self, ctx: TrainContext) -> list[Phase]:
        return [Phase(0, ctx.shuffled_batches()), Phase(1, ctx.shuffled_batches())]

    def training_step(self, ctx: TrainContext, batch: Batch) -> StepOutput:
        k = ctx.active
        x = ctx.augment.weak(batch.x)
        onehot = F.one_hot(batch.y, ctx.num_classes).float()
        lam = mixup_coefficient(self.mixup_alpha)
        perm = torch.randperm(len(batch), device=x.device)
        with torch.no_grad():
            # train mode, as the original: batch statistics for BatchNorm, and the average's own
            # running statistics follow its weights instead of the live network's
            other_ema = self.ema[1 - k].train()
            other_probs = F.softmax(other_ema(x), dim=1)
            update_targets(self.targets[k], batch.sample_id, other_probs, self.beta)
            batch_targets = self.targets[k][batch.sample_id]
            mixed_targets = lam * batch_targets + (1 - lam) * batch_targets[perm]
            mixed_labels = lam * onehot + (1 - lam) * onehot[perm]
            if self.reweight_labels:
                mixed_labels = mixed_labels * mixed_targets
                mixed_labels = mixed_labels / mixed_labels.sum(dim=1, keepdim=True).clamp_min(1e-12)
        logits = ctx.network(lam * x + (1 - lam) * x[perm])
        probs = F.softmax(logits, dim=1).clamp(CLAMP, 1 - CLAMP)
        cross_entropy = -(mixed_labels * F.log_softmax(logits, dim=1)).sum(dim=1).mean()
        regulariser = elr_regulariser(mixed_targets, probs)
        # the original's step number t = global_step + local_step starts at 1
        weight = sigmoid_rampup(self.steps[k] + 1, self.coef_step)
        return StepOutput(loss=cross_entropy + weight * self.lam * regulariser, logits=None)

    @torch.no_grad()
    def after_step(self, ctx: TrainContext) -> None:
        """Move the trained network's EMA copy towards it (parameters only, as the original; its
        BatchNorm statistics come from its own train-mode forwards)."""
        k = ctx.active
        self.steps[k] += 1  # now the number t of the step just taken
        alpha = sigmoid_rampup(self.steps[k] + 1, self.ema_step) * self.ema_alpha
        for ema_param, weight in zip(self.ema[k].parameters(), ctx.network.parameters()):
            ema_param.mul_(alpha).add_(weight, alpha=1 - alpha)
