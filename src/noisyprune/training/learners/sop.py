"""SOP and SOP+ (Liu et al., ICML 2022): sparse over-parameterisation of the label noise.

Each training sample i gets a scalar ``u_i`` (mass added to its labelled class) and a vector
``v_i ∈ R^C`` (mass moved to the other classes). The model's softmax is corrected by
``U_i − V_i`` (``U_i = clamp(u_i² y_i, 0, 1)``, ``V_i = clamp(v_i² (1 − y_i), 0, 1)``) before the
cross-entropy, and an MSE term ties ``onehot(argmax z_i) + U_i − V_i`` to the noisy one-hot label.
``u`` learns from the CE, MSE and balance terms, ``v`` from the MSE term only (it is detached in
the corrected prediction), exactly as in the original code.

u and v have their own *plain* SGD (no momentum, no weight decay) applied to the batch's rows
only: rows of samples outside the batch never move, which is what makes the parameterisation
sparse. We update the rows directly (``row -= lr · grad``, the same arithmetic as ``torch.optim.SGD``
without momentum) instead of stepping a dense N×C optimiser, so a step costs O(B·C), not O(N·C).

SOP+ adds two terms with their weights: ``ratio_consistency`` × KL(softmax(weak) ‖ softmax(strong))
(the strong view of the same images; the target side detached) and ``ratio_balance`` × the
cross-entropy between a uniform class prior and the batch-mean corrected prediction.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from noisyprune.params import declare, param
from noisyprune.training.context import StepOutput, TrainContext
from noisyprune.training.inputs import Batch
from noisyprune.training.learners.base import Learner

PROB_FLOOR = 1e-4  # the original clamps corrected probabilities to [1e-4, 1]


@declare(
    param(
        "lr_u",
        (
            "Learning rate of the per-sample scalar u (mass added to the labelled class). Plain SGD on the batch's "
            "rows only: no momentum, no weight decay, so rows outside the batch never move. Prune4ReL uses 10 on "
            "CIFAR-10N, 1 on CIFAR-100N."
        ),
        type="number",
        minimum=0,
    ),
    param(
        "lr_v",
        (
            "Learning rate of the per-sample vector v (mass moved to the other classes); Prune4ReL uses 100. u and v "
            "start at 1e-8 and grow geometrically, so short schedules need the larger rates."
        ),
        type="number",
        minimum=0,
    ),
    param("init_std", "Standard deviation of u and v at initialisation.", type="number", minimum=0),
    param(
        "ratio_consistency",
        "Weight of KL(weak ‖ strong) between the predictions on the two views.",
        type="number",
        minimum=0,
    ),
    param(
        "ratio_balance",
        "Weight of the cross-entropy between a uniform class prior and the batch-mean corrected prediction.",
        type="number",
        minimum=0,
    ),
)
class SOP(Learner):
    """SOP: the single-view loss (``ratio_consistency = ratio_balance = 0``); see the module docstring.

    ``lr_u``/``lr_v``: learning rates of u and v (the original's CIFAR-100 default 1 / 10;
    Prune4ReL's CIFAR-10N preset 10 / 100); ``init_std``: std of their N(0, std²) initialisation.
    Re-labeling readout: ``argmax(y_i − U_i + V_i)`` for trained samples (the label the learned
    noise model implies), the model's prediction for samples it never trained on.
    """

    state_keys = ("u", "v")  # restored on resume

    def __init__(
        self,
        lr_u: float = 1.0,
        lr_v: float = 10.0,
        init_std: float = 1e-8,
        ratio_consistency: float = 0.0,
        ratio_balance: float = 0.0,
    ):
        self.lr_u, self.lr_v, self.init_std = float(lr_u), float(lr_v), float(init_std)
        self.ratio_consistency, self.ratio_balance = float(ratio_consistency), float(ratio_balance)
        self.u: torch.Tensor | None = None
        self.v: torch.Tensor | None = None
        self._rows: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None

    def setup(self, ctx: TrainContext) -> None:
        """Allocate u ``(N, 1)`` and v ``(N, C)`` for every sample of the full training set."""
        generator = torch.Generator().manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=ctx.generator)))
        self.u = (torch.randn(ctx.num_samples, 1, generator=generator) * self.init_std).to(ctx.device)
        self.v = (torch.randn(ctx.num_samples, ctx.num_classes, generator=generator) * self.init_std).to(ctx.device)

    def training_step(self, ctx: TrainContext, batch: Batch) -> StepOutput:
        weak = ctx.augment.weak(batch.x)
        use_strong = self.ratio_consistency > 0
        inputs = torch.cat([weak, ctx.augment.strong(batch.x)]) if use_strong else weak
        all_logits = ctx.network(inputs)
        logits = all_logits[: len(batch)]
        u_rows = self.u[batch.sample_id].requires_grad_(True)
        v_rows = self.v[batch.sample_id].requires_grad_(True)
        self._rows = (batch.sample_id, u_rows, v_rows)
        onehot = F.one_hot(batch.y, ctx.num_classes).float()
        loss, corrected = sop_loss(logits, onehot, u_rows, v_rows)
        if self.ratio_balance > 0:
            mean_prediction = corrected.mean(dim=0).clamp(PROB_FLOOR, 1.0)
            loss = loss + self.ratio_balance * -(torch.log(mean_prediction) / ctx.num_classes).sum()
        if use_strong:
            strong_logits = all_logits[len(batch) :]
            consistency = F.kl_div(
                F.log_softmax(strong_logits, dim=1), F.softmax(logits.detach(), dim=1), reduction="batchmean"
            )
            loss = loss + self.ratio_consistency * consistency
        return StepOutput(loss=loss, logits=logits.detach())

    @torch.no_grad()
    def after_step(self, ctx: TrainContext) -> None:
        """Plain SGD on the batch's rows of u and v (their gradients came with the model's backward)."""
        sample_id, u_rows, v_rows = self._rows
        if u_rows.grad is not None:
            self.u[sample_id] = u_rows - self.lr_u * u_rows.grad
        if v_rows.grad is not None:
            self.v[sample_id] = v_rows - self.lr_v * v_rows.grad
        self._rows = None

    @torch.no_grad()
    def relabel(
        self, ctx: TrainContext, sample_id: torch.Tensor, noisy_label: torch.Tensor, logits: torch.Tensor
    ) -> torch.Tensor:
        onehot = F.one_hot(noisy_label, ctx.num_classes).float()
        u_term, v_term = label_noise_terms(self.u[sample_id], self.v[sample_id], onehot)
        from_state = (onehot - u_term + v_term).argmax(dim=1)
        return torch.where(ctx.trains_on(sample_id), from_state, logits.argmax(dim=1))


class SOPPlus(SOP):
    """SOP+: SOP with the consistency (weak vs strong view) and class-balance terms on, at the
    original's weights ``ratio_consistency = 0.9``, ``ratio_balance = 0.1`` (SOP's declarations,
    these defaults)."""

    def __init__(
        self,
        lr_u: float = 1.0,
        lr_v: float = 10.0,
        init_std: float = 1e-8,
        ratio_consistency: float = 0.9,
        ratio_balance: float = 0.1,
    ):
        super().__init__(lr_u, lr_v, init_std, ratio_consistency, ratio_balance)


def label_noise_terms(u_rows: torch.Tensor, v_rows: torch.Tensor, onehot: torch.Tensor):
    """``U = clamp(u² y, 0, 1)`` (mass added to the labelled class) and ``V = clamp(v² (1 − y), 0, 1)``
    (mass on the other classes), each ``(B, C)``, for rows ``u`` ``(B, 1)``, ``v`` ``(B, C)``."""
    return (u_rows**2 * onehot).clamp(0, 1), (v_rows**2 * (1 - onehot)).clamp(0, 1)


def sop_loss(logits: torch.Tensor, onehot: torch.Tensor, u_rows: torch.Tensor, v_rows: torch.Tensor):
    """The SOP loss of one batch: mean CE of the corrected prediction plus the MSE term.

    ``logits`` ``(B, C)``, ``onehot`` noisy labels ``(B, C)``, ``u_rows`` ``(B, 1)``, ``v_rows``
    ``(B, C)``. Returns ``(loss, corrected)`` with the corrected, renormalised prediction ``(B, C)``.
    """
    u_term, v_term = label_noise_terms(u_rows, v_rows, onehot)
    corrected = (F.softmax(logits, dim=1) + u_term - v_term.detach()).clamp(min=PROB_FLOOR)
    corrected = (corrected / corrected.sum(dim=1, keepdim=True)).clamp(PROB_FLOOR, 1.0)
    cross_entropy = -(onehot * torch.log(corrected)).sum(dim=1).mean()
    predicted = F.one_hot(logits.detach().argmax(dim=1), onehot.shape[1]).float()
    mse = ((predicted + u_term - v_term - onehot) ** 2).sum() / len(logits)
    return cross_entropy + mse, corrected
