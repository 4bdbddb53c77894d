"""ELR (Liu et al., NeurIPS 2020): early-learning regularisation towards temporal-ensemble targets.

Every sample keeps a target ``t_i ∈ R^C``, an exponential moving average of the model's (clamped,
renormalised) predictions for it: ``t_i ← β t_i + (1 − β) p_i / Σ p_i``, updated from the batch
*before* the loss, starting from zero. The loss is ``CE(z_i, ỹ_i) + λ · mean log(1 − ⟨t_i, p_i⟩)``:
the regulariser pulls predictions towards what the model predicted early in training, before it
memorised the wrong labels.

``reset_targets: every_epoch`` reproduces the Prune4ReL copy, which constructs a new loss module
(targets back to zero) every epoch; the original keeps them for the whole run (``never``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from noisyprune.params import declare, param
from noisyprune.training.context import StepOutput, TrainContext
from noisyprune.training.inputs import Batch
from noisyprune.training.learners.base import Learner

CLAMP = 1e-4  # predictions are clamped to [1e-4, 1 − 1e-4] as in the original


BETA = param(
    "beta",
    "EMA weight of the per-sample temporal-ensemble targets (original: 0.7 CIFAR-10 sym, 0.9 otherwise).",
    type="number",
    minimum=0,
    exclusiveMaximum=1,
)


LAM = param(
    "lam",
    "Weight of the regulariser `log(1 − ⟨t, p⟩)` (original: 3 CIFAR-10 sym, 1 asym, 7 CIFAR-100).",
    type="number",
    minimum=0,
)


@declare(
    BETA,
    LAM,
    param(
        "reset_targets",
        (
            "`never` keeps the targets for the whole run (the original); `every_epoch` zeroes them each epoch, as the"
            " Prune4ReL copy does by building a new loss every epoch. Readout: argmax of the target."
        ),
        choices=["never", "every_epoch"],
    ),
)
class ELR(Learner):
    """ELR with EMA weight ``beta`` (0.7 for CIFAR-10 sym, 0.9 otherwise in the original configs)
    and regulariser weight ``lam`` (3 for CIFAR-10 sym, 1 asym, 7 CIFAR-100).

    State: targets ``(N, C)`` indexed by global sample id. Re-labeling readout: ``argmax t_i`` for
    trained samples (the original README's "identify wrong labels" rule), the model's prediction
    for the others.
    """

    state_keys = ("targets",)  # restored on resume

    def __init__(self, beta: float = 0.7, lam: float = 3.0, reset_targets: str = "never"):
        self.beta, self.lam, self.reset_targets = float(beta), float(lam), reset_targets
        self.targets: torch.Tensor | None = None

    def setup(self, ctx: TrainContext) -> None:
        """Allocate zero targets ``(N, C)``."""
        self.targets = torch.zeros(ctx.num_samples, ctx.num_classes, device=ctx.device)

    def on_epoch_start(self, ctx: TrainContext) -> None:
        if self.reset_targets == "every_epoch":
            self.targets.zero_()

    def training_step(self, ctx: TrainContext, batch: Batch) -> StepOutput:
        logits = ctx.network(ctx.augment.weak(batch.x))
        probs = F.softmax(logits, dim=1).clamp(CLAMP, 1 - CLAMP)
        update_targets(self.targets, batch.sample_id, probs, self.beta)
        regulariser = elr_regulariser(self.targets[batch.sample_id], probs)
        loss = F.cross_entropy(logits, batch.y) + self.lam * regulariser
        return StepOutput(loss=loss, logits=logits.detach())

    @torch.no_grad()
    def relabel(
        self, ctx: TrainContext, sample_id: torch.Tensor, noisy_label: torch.Tensor, logits: torch.Tensor
    ) -> torch.Tensor:
        from_state = self.targets[sample_id].argmax(dim=1)
        has_state = ctx.trains_on(sample_id) & (self.targets[sample_id].sum(dim=1) > 0)
        return torch.where(has_state, from_state, logits.argmax(dim=1))


@torch.no_grad()
def update_targets(targets: torch.Tensor, sample_id: torch.Tensor, probs: torch.Tensor, beta: float) -> None:
    """Temporal ensembling in place: ``t_i ← β t_i + (1 − β) p_i / Σ p_i`` for the rows ``sample_id``
    of ``targets`` ``(N, C)``, with predictions ``probs`` ``(B, C)`` (not differentiated)."""
    probs = probs.detach()
    targets[sample_id] = beta * targets[sample_id] + (1 - beta) * probs / probs.sum(dim=1, keepdim=True)


def elr_regulariser(targets: torch.Tensor, probs: torch.Tensor) -> torch.Tensor:
    """``mean log(1 − ⟨t_i, p_i⟩)`` over a batch of targets and clamped predictions ``(B, C)``."""
    return torch.log(1 - (targets * probs).sum(dim=1)).mean()
