"""RDIA-LS (Kong, Shen, Huang, ICLR 2022): small-loss selection plus relabeling of the harmful band.

Per batch of ``B`` samples the cross-entropy losses on the given labels are sorted. The smallest
``int((1 − forget_rate) · B)`` are taken as clean (R_clean); the largest ``int(noise_rate / 2 · B)``
are dropped; the band in between (R_harm) is treated as mislabelled. In the epochs before
``init_epoch`` (epochs count from 1, so ``init_epoch: 10`` warms up for 9 epochs, as the original's
``epoch < init_epoch``) the learner trains on R_clean only; from ``init_epoch`` on the loss is

    γ · mean_{R_clean} CE(f(x), ỹ)  +  (1 − γ) · (1 / B) · mean_{R_harm} −log(1 − p(ỹ | x)),

where the second term pushes probability away from a harmful sample's given label (its
"relabeling"); as in the original's ``loss_RDIA`` it is a mean over the band, then divided by the
batch size once more, so the published γ values carry over. ``forget_rate`` ramps linearly from 0 to
the noise rate (which the method assumes known) over ``num_gradual`` epochs, indexed as the
original's ``rate_schedule[epoch]``: ``noise_rate · min(epoch, num_gradual − 1) / (num_gradual − 1)``.

Choices kept apart from the original, each offered by name (docs/methods.md#rdia-and-rdia-ls):

- ``double_softmax`` (default false): the original feeds *softmax outputs* to the clean term's
  cross-entropy (a double softmax that flattens its gradients); ``true`` reproduces that. Ranking,
  warm-up and the relabel term use one softmax either way, as in the original.
- ``warmup_loss`` (default ``mean``): the clean-set mean; ``original`` divides it once more by the
  number of samples remembered, as the original's ``loss_warmup`` (a scale that Adam, the
  original's optimiser, nearly ignores and SGD does not).
- It runs on any device (the original hard-codes ``cuda:2``); the constant the original subtracts
  (no effect on gradients) and its never-updated second network are left out. The optimiser and
  schedule are the training entry's (``optimizer: adam``, ``schedule: linear_decay`` reproduce the
  original's). The re-labeling readout is the model's prediction, as the original's.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from noisyprune.params import declare, param
from noisyprune.training.context import StepOutput, TrainContext
from noisyprune.training.inputs import Batch
from noisyprune.training.learners.base import Learner


def forget_rate(epoch: int, noise_rate: float, num_gradual: int) -> float:
    """The share of each batch not taken as clean in ``epoch`` (counting from 1): the original's
    ``np.linspace(0, noise_rate, num_gradual)[epoch]``, i.e. ``noise_rate · epoch / (num_gradual − 1)``
    up to epoch ``num_gradual − 1``, ``noise_rate`` from there on."""
    if num_gradual <= 1:
        return float(noise_rate)
    return float(noise_rate) * min(epoch, num_gradual - 1) / (num_gradual - 1)


def split_by_loss(losses: torch.Tensor, forget: float, drop: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Positions ``(clean, harmful)`` of a batch's per-sample ``losses`` ``(B,)``: the
    ``int((1 − forget) · B)`` smallest losses, and the band above them below the ``int(drop · B)``
    largest (ties broken by position, stably)."""
    batch = len(losses)
    order = torch.sort(losses, stable=True).indices
    keep = int((1.0 - forget) * batch)
    dropped = int(drop * batch)
    return order[:keep], order[keep : max(keep, batch - dropped)]


WARMUP_LOSSES = ("mean", "original")
# The original clamps 1 − p(ỹ) to [1e-7, 1] before the log: a harmful sample the model is certain
# of would otherwise give log(0).
MIN_COMPLEMENT = 1e-7


@declare(
    param(
        "noise_rate",
        (
            "RDIA-LS (Kong et al. 2022): per batch, the `int((1 − forget_rate)·B)` smallest-loss samples are clean, "
            "the largest `int(noise_rate / 2 · B)` are dropped, the band between is relabelled by −log(1 − p(ỹ)). The"
            " method assumes the noise rate known; `forget_rate` ramps linearly to it as the original's "
            "`rate_schedule[epoch]`: `noise_rate · min(epoch, num_gradual − 1) / (num_gradual − 1)`."
        ),
        type="number",
        minimum=0,
        exclusiveMaximum=1,
    ),
    param(
        "clean_weight",
        (
            "γ: the loss is γ·mean CE(clean) + (1 − γ)·(mean over the band of −log(1 − p(ỹ))) / B, the original's "
            "`loss_RDIA` (README of the original: γ 0.2 MNIST, 0.05 CIFAR-10 at 80% noise)."
        ),
        type="number",
        minimum=0,
        maximum=1,
    ),
    param(
        "init_epoch",
        (
            "First epoch of the full loss; epochs 1 … `init_epoch` − 1 warm up on the clean term only, as the "
            "original's `epoch < init_epoch` (original: 10 MNIST/CIFAR-10, 20 CIFAR-100)."
        ),
        type="integer",
        minimum=0,
    ),
    param(
        "num_gradual",
        "Length of the forget-rate ramp (`np.linspace(0, noise_rate, num_gradual)`).",
        type="integer",
        minimum=1,
    ),
    param(
        "double_softmax",
        (
            "`true` takes the clean term's cross-entropy on softmax outputs, as the original does (flatter "
            "gradients); ranking, warm-up and relabel term use one softmax either way, as in the original."
        ),
        type="boolean",
    ),
    param(
        "warmup_loss",
        (
            "`mean`: the clean-set mean in the warm-up epochs; `original`: divided again by the number of samples "
            "remembered, as the original's `loss_warmup` (a scale Adam nearly ignores; under SGD it shrinks the step "
            "~B-fold)."
        ),
        choices=WARMUP_LOSSES,
    ),
)
class RDIALS(Learner):
    """Small-loss training with relabeling of the harmful band (module docstring).

    ``noise_rate``: the assumed noise rate of the training labels (the original needs it known);
    ``clean_weight``: γ, the weight of the clean term (README: 0.2 for MNIST, 0.05 for CIFAR-10 at
    80% noise; named apart from the step schedule's ``gamma``);
    ``init_epoch``: the first epoch of the full loss; the epochs before it warm up on the clean set
    (10 for MNIST/CIFAR-10, 20 for CIFAR-100, as the original);
    ``num_gradual``: epochs of the forget-rate ramp (10); ``double_softmax``, ``warmup_loss``: the
    original's choices (module docstring).
    """

    def __init__(
        self,
        noise_rate: float = 0.2,
        clean_weight: float = 0.2,
        init_epoch: int = 10,
        num_gradual: int = 10,
        double_softmax: bool = False,
        warmup_loss: str = "mean",
    ):
        self.noise_rate, self.clean_weight = noise_rate, clean_weight
        self.init_epoch, self.num_gradual, self.double_softmax = init_epoch, num_gradual, double_softmax
        self.warmup_loss = warmup_loss

    def batch_loss(self, logits: torch.Tensor, labels: torch.Tensor, epoch: int) -> torch.Tensor:
        """The RDIA-LS loss of one batch (``logits`` ``(B, C)``, ``labels`` ``(B,)``) in ``epoch``."""
        losses = F.cross_entropy(logits, labels, reduction="none")  # ranked on one softmax, as the original
        clean, harmful = split_by_loss(
            losses.detach(), forget_rate(epoch, self.noise_rate, self.num_gradual), self.noise_rate / 2
        )
        if len(clean) == 0:  # the original then takes the whole batch as clean
            clean = torch.arange(len(labels), device=labels.device)
        if epoch < self.init_epoch:
            clean_mean = losses[clean].mean()
            return clean_mean / len(clean) if self.warmup_loss == "original" else clean_mean
        clean_scores = F.softmax(logits[clean], dim=1) if self.double_softmax else logits[clean]
        clean_loss = F.cross_entropy(clean_scores, labels[clean])
        if len(harmful) == 0:
            relabel_loss = logits.sum() * 0.0
        else:
            given_prob = F.softmax(logits[harmful], dim=1).gather(1, labels[harmful, None]).squeeze(1)
            complement = (1.0 - given_prob).clamp(MIN_COMPLEMENT, 1.0)
            relabel_loss = -torch.log(complement).mean() / len(labels)
        return self.clean_weight * clean_loss + (1.0 - self.clean_weight) * relabel_loss

    def training_step(self, ctx: TrainContext, batch: Batch) -> StepOutput:
        logits = ctx.network(ctx.augment.weak(batch.x))
        return StepOutput(loss=self.batch_loss(logits, batch.y, ctx.epoch), logits=logits.detach())
