"""RDIA-LS (Kong, Shen, Huang, ICLR 2022): small-loss selection plus relabeling of the harmful band.

Per batch the cross-entropy losses on the given labels are sorted. The smallest ``1 − forget_rate``
fraction is taken as clean (R_clean); the largest ``noise_rate / 2`` fraction is dropped; the band in
between (R_harm) is treated as mislabelled. For the first ``init_epoch`` epochs the learner trains on
R_clean only (a small-loss warm-up); after that the loss is

    γ · mean_{R_clean} CE(f(x), ỹ)  +  (1 − γ) · (1 / B) · Σ_{R_harm} −log(1 − p(ỹ | x)),

where the second term pushes probability away from a harmful sample's given label (its "relabeling").
``forget_rate`` ramps linearly from 0 (first epoch) to the noise rate, which the method assumes known,
over ``num_gradual`` epochs: the co-teaching schedule the original uses.

Departures from the original (Viperccc/RDIA:RDIA-LS), on purpose: it runs on any device (the original
hard-codes ``cuda:2``); the losses are taken on the logits, whereas the original feeds *softmax
outputs* to the cross-entropy (a double softmax that flattens the gradients) — ``double_softmax: true``
reproduces that for a faithful comparison; the constant the original subtracts (no effect on
gradients) and its never-updated second network are left out. The re-labeling readout is the
model's prediction, as the original's.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from noisyprune.training.data import Batch
from noisyprune.training.learners.base import Learner
from noisyprune.training.loop import StepOutput, TrainContext


def forget_rate(epoch: int, noise_rate: float, num_gradual: int) -> float:
    """The share of each batch not taken as clean in ``epoch`` (counting from 1): ``noise_rate ·
    (epoch − 1) / (num_gradual − 1)`` for the first ``num_gradual`` epochs (0 in the first one), then
    ``noise_rate``."""
    if epoch >= num_gradual or num_gradual <= 1:
        return float(noise_rate)
    return float(noise_rate) * (epoch - 1) / (num_gradual - 1)


def split_by_loss(losses: torch.Tensor, forget: float, drop: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Positions ``(clean, harmful)`` of a batch's per-sample ``losses`` ``(B,)``: the
    ``int((1 − forget) · B)`` smallest losses, and the band above them below the ``int(drop · B)``
    largest (ties broken by position, stably)."""
    batch = len(losses)
    order = torch.sort(losses, stable=True).indices
    keep = int((1.0 - forget) * batch)
    dropped = int(drop * batch)
    return order[:keep], order[keep : max(keep, batch - dropped)]


class RDIALS(Learner):
    """Small-loss training with relabeling of the harmful band (module docstring).

    ``noise_rate``: the assumed noise rate of the training labels (the original needs it known);
    ``clean_weight``: γ, the weight of the clean term (README: 0.2 for MNIST, 0.05 for CIFAR-10 at
    80% noise; named apart from the step schedule's ``gamma``);
    ``init_epoch``: epochs of small-loss warm-up (10 for MNIST/CIFAR-10, 20 for CIFAR-100);
    ``num_gradual``: epochs of the forget-rate ramp (10); ``double_softmax``: the original's quirk.
    """

    def __init__(
        self,
        noise_rate: float = 0.2,
        clean_weight: float = 0.2,
        init_epoch: int = 10,
        num_gradual: int = 10,
        double_softmax: bool = False,
    ):
        if not 0.0 <= noise_rate < 1.0:
            raise ValueError(f"noise_rate must be in [0, 1), got {noise_rate}")
        if not 0.0 <= clean_weight <= 1.0:
            raise ValueError(f"clean_weight must be in [0, 1], got {clean_weight}")
        self.noise_rate, self.clean_weight = noise_rate, clean_weight
        self.init_epoch, self.num_gradual, self.double_softmax = init_epoch, num_gradual, double_softmax

    def batch_loss(self, logits: torch.Tensor, labels: torch.Tensor, epoch: int) -> torch.Tensor:
        """The RDIA-LS loss of one batch (``logits`` ``(B, C)``, ``labels`` ``(B,)``) in ``epoch``."""
        scores = F.softmax(logits, dim=1) if self.double_softmax else logits
        losses = F.cross_entropy(scores, labels, reduction="none")
        clean, harmful = split_by_loss(
            losses.detach(), forget_rate(epoch, self.noise_rate, self.num_gradual), self.noise_rate / 2
        )
        clean_loss = losses[clean].mean() if len(clean) else losses.sum() * 0.0
        if epoch <= self.init_epoch:
            return clean_loss
        given_prob = F.softmax(scores[harmful], dim=1).gather(1, labels[harmful, None]).squeeze(1)
        # clamp: a harmful sample the model is certain of would give log(0)
        relabel_loss = -torch.log((1.0 - given_prob).clamp_min(1e-12)).sum() / len(labels)
        return self.clean_weight * clean_loss + (1.0 - self.clean_weight) * relabel_loss

    def training_step(self, ctx: TrainContext, batch: Batch) -> StepOutput:
        logits = ctx.network(ctx.augment.weak(batch.x))
        return StepOutput(loss=self.batch_loss(logits, batch.y, ctx.epoch), logits=logits.detach())
