"""L2R, learning to reweight examples (Ren, Zeng, Yang, Urtasun, ICML 2018), as IEG's baseline
(google-research/ieg ``l2rmodel.py``): every batch's example weights come from one meta step on the
clean probe set.

Per batch, with per-example weights ε (zeros, so the look-ahead starts at θ) and the training
entry's weight decay λ:

    θ'(ε) = θ − meta_lr · ∇θ [Σ_i ε_i ℓ_i(θ) + λ/2 ‖θ‖²]    (one SGD step, no momentum)
    g     = ∂/∂ε  [mean_probe ℓ(θ'(ε)) + λ/2 ‖θ'(ε)‖²]        (second order: through the step)
    w     = max(−g, 0) / Σ max(−g, 0)                          (0 everywhere if all are ≤ 0)
    loss  = Σ_i w_i ℓ_i(θ)

An example whose up-weighting would lower the probe loss gets a positive weight; one that would
raise it (a mislabelled sample, typically) gets none. Both losses carry the weight decay, as IEG's
``l2rmodel.py`` (``net.regularization_loss`` and ``get_regularization_loss(wd)``, λ/2 ‖θ‖² over every
trainable variable) and Uber's ``reweight_model.py`` do; ``meta_weight_decay: false`` leaves it out,
as the PyTorch ports do. The look-ahead runs through ``torch.func``'s
functional call on copies of the BatchNorm buffers, so it never moves the running statistics.
The probe set is the noise stage's clean hold-out (``probe_per_class``); a batch of it is drawn per
step (all of it if smaller than ``probe_batch_size``). The re-labeling readout is the prediction
(L2R reweights, it does not relabel).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.func import functional_call

from noisyprune.params import declare, param
from noisyprune.training.context import StepOutput, TrainContext
from noisyprune.training.inputs import Batch
from noisyprune.training.learners.base import Learner, draw_probe_batch


def weights_from_meta_gradient(gradient: torch.Tensor) -> torch.Tensor:
    """Example weights ``(B,)`` from the probe loss's gradient w.r.t. them ``(B,)``: ``max(−g, 0)``
    normalised to sum 1 (all zero if none is positive)."""
    weights = torch.clamp(-gradient, min=0.0)
    total = weights.sum()
    # dividing by a tensor (not branching on it) keeps the host from waiting on the device every step
    return weights / torch.where(total > 0, total, torch.ones_like(total))


def l2r_weights(
    network: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    probe_x: torch.Tensor,
    probe_y: torch.Tensor,
    meta_lr: float,
    weight_decay: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Example weights ``(B,)`` (non-negative, summing to 1 unless all are 0) of the batch ``x``,
    ``y`` by one look-ahead step on the probe batch ``probe_x``, ``probe_y``, both losses carrying
    the L2 penalty ``weight_decay / 2 · ‖θ‖²``; also the per-example losses ``(B,)`` under the
    current parameters (with their graph, for the final loss)."""
    params = dict(network.named_parameters())
    # copies: the look-ahead's forward passes must not update the real BatchNorm statistics
    buffers = {name: value.clone() for name, value in network.named_buffers()}
    eps = torch.zeros(len(y), device=x.device, requires_grad=True)
    losses = F.cross_entropy(functional_call(network, (params, buffers), (x,)), y, reduction="none")
    grads = torch.autograd.grad((eps * losses).sum(), list(params.values()), create_graph=True)
    stepped = {
        name: p - meta_lr * (g + weight_decay * p.detach()) for (name, p), g in zip(params.items(), grads, strict=True)
    }
    probe_loss = F.cross_entropy(functional_call(network, (stepped, buffers), (probe_x,)), probe_y)
    if weight_decay:
        probe_loss = probe_loss + weight_decay / 2 * sum(p.pow(2).sum() for p in stepped.values())
    (grad_eps,) = torch.autograd.grad(probe_loss, eps)
    weights = weights_from_meta_gradient(grad_eps)
    return weights.detach(), losses


PROBE_BATCH_SIZE = param(
    "probe_batch_size",
    "Probe samples per meta step.",
    type="integer",
    minimum=1,
)


@declare(
    param(
        "meta_lr",
        (
            "L2R (Ren et al. 2018, as IEG's baseline): each batch's example weights come from one look-ahead SGD step"
            " of this size and the gradient of the clean probe loss w.r.t. the weights (clipped at 0, normalised to "
            "sum 1). Needs a probe set: `probe_per_class` in the noise entry (the run stops with a message naming it "
            "otherwise)."
        ),
        type="number",
        exclusiveMinimum=0,
    ),
    PROBE_BATCH_SIZE,
    param(
        "meta_weight_decay",
        (
            "The look-ahead step and the probe loss carry the optimiser's weight decay λ/2 ‖θ‖², as IEG's "
            "`l2rmodel.py` and Uber's L2R; `false` leaves it out, as the PyTorch ports."
        ),
        type="boolean",
    ),
)
class L2R(Learner):
    """Learning to reweight on the clean probe set (module docstring). ``meta_lr``: the look-ahead
    step size (IEG's ``meta_stepsize``, 0.1); ``probe_batch_size``: probe samples per meta step;
    ``meta_weight_decay``: the look-ahead and probe losses carry the optimiser's weight decay."""

    needs_probe = True
    # the meta step differentiates through a look-ahead step: double backward, which compiled
    # autograd refuses ("does not currently support double backward")
    compiles = False

    def __init__(self, meta_lr: float = 0.1, probe_batch_size: int = 100, meta_weight_decay: bool = True):
        self.meta_lr, self.probe_batch_size = meta_lr, probe_batch_size
        self.meta_weight_decay = meta_weight_decay

    def training_step(self, ctx: TrainContext, batch: Batch) -> StepOutput:
        probe_x, probe_y = draw_probe_batch(ctx.probe, self.probe_batch_size, ctx.generator)
        x = ctx.augment.weak(batch.x)
        decay = ctx.optimizers[ctx.active].param_groups[0].get("weight_decay", 0.0) if self.meta_weight_decay else 0.0
        weights, _ = l2r_weights(ctx.network, x, batch.y, probe_x, probe_y, self.meta_lr, decay)
        # The real forward for the update (it also moves BatchNorm statistics once, as plain training).
        logits = ctx.network(x)
        losses = F.cross_entropy(logits, batch.y, reduction="none")
        return StepOutput(loss=(weights * losses).sum(), logits=logits.detach())
