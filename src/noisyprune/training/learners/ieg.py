"""IEG, distilling effective supervision from severe label noise (Zhang, Zhang, Arik, Lee, Pfister,
CVPR 2020), after google-research/ieg ``models/model.py`` (TensorFlow 1; this is a PyTorch rewrite).

Each batch (weak view ``x``, strong view ``x̂``, given labels ``y``) and a batch of the clean probe set:

1. **Label guessing.** ``g = sharpen(½ softmax(n(f(x))) + ½ softmax(n(f(x̂))), T)``, where ``n`` is the
   original's ``logit_norm`` (logits divided by their root mean square over the whole batch).
2. **Meta step.** Per-example weights ``w₀ = 1/B`` and label mixes ``ε₀ = grad_eps_init`` enter the
   look-ahead loss ``Σ_i w_i · CE(ε_i·onehot(y_i) + (1 − ε_i)·g_i, f(x_i))``; one SGD step of size
   ``meta_lr`` (with the optimiser's momentum buffer times ``meta_momentum`` added, as the original)
   gives θ'. The probe loss under θ' is differentiated w.r.t. w and ε:
   ``w = normalise(max(−∂L_probe/∂w, 0))`` and the binary switch ``ε_i = 1`` (keep the given label)
   where ``∂L_probe/∂ε_i < 0``, else ``0`` (use the guessed label).
3. **Loss.** ``½ [mean_i CE(mix_i(ε), f(x_i)) + Σ_i w_i CE(mix_i(ε₀), f(x_i))]``
   ``+ L_mixup + consistency_factor · C · mean(KL(softmax(f(x)) ‖ softmax(f(x̂))))``, where
   ``L_mixup`` mixes ``B`` probe samples (one-hot labels) with ``[x, x̂]`` (guessed labels) under one
   random partner and a per-sample coefficient ``max(m, 1 − m)``, ``m = u^{1/β}/2`` (the original's
   Beta approximation, β = 0.5), and is ``CE_probe + ce_factor · CE_unlabelled`` on normalised logits.
4. An exponential moving average of the weights (decay ``min(ema_decay, (1 + t)/(10 + t))`` at step
   t, TensorFlow's ``num_updates`` warm-up) evaluates and predicts; its BatchNorm statistics are the
   live network's, since TensorFlow averages trainable variables only.

Re-labeling readout: each trained sample's *effective label* the last time it was seen (its given
label where the switch kept it, the guessed label otherwise); the prediction for samples never seen.

The look-ahead step and the probe loss both carry the weight decay λ/2 ‖θ‖² (λ the optimiser's), as
the original's ``lookahead_loss`` (``+ net.regularization_loss``) and ``meta_loss``
(``+ meta_net.get_regularization_loss(net.wd)``); ``probe_weight_decay: false`` leaves it out of the
probe loss.

The original's look-ahead loss reads the guessed labels *before* their stop-gradient
(``meta_optimize`` mixes ``self.guessed_label``, which ``crossentropy_minimize`` stores before it
applies ``tf.stop_gradient``), so the look-ahead gradient, and through it the example weights and
the switch, also follow how the guess moves with θ. ``meta_guess_gradient: true`` does that;
the default ``false`` treats the guess as a constant there. The final loss treats it as a constant
either way, as the original's ``tf.losses.softmax_cross_entropy`` stops the gradient of its labels.

Departures: the probe batch is ``probe_batch_size`` samples drawn at random (the original streams the
probe set unshuffled, in batches of the training batch size); and the first meta step has no
momentum, where the original makes one throwaway optimiser step to create the buffers.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch.func import functional_call

from noisyprune.params import declare, param
from noisyprune.training.context import StepOutput, TrainContext
from noisyprune.training.inference import predict_logits
from noisyprune.training.inputs import Batch
from noisyprune.training.learners.base import Learner, draw_probe_batch, sharpen
from noisyprune.training.learners.l2r import PROBE_BATCH_SIZE, weights_from_meta_gradient


def logit_norm(logits: torch.Tensor) -> torch.Tensor:
    """``logits`` ``(B, C)`` divided by their root mean square over the whole tensor (IEG's
    ``logit_norm``): the scale of a batch's logits no longer sharpens its softmax."""
    return logits * torch.rsqrt(logits.pow(2).mean() + 1e-8)


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Per-sample cross-entropy ``(B,)`` of ``logits`` ``(B, C)`` against target distributions ``(B, C)``."""
    return -(targets * F.log_softmax(logits, dim=1)).sum(dim=1)


def guess_labels(
    weak_logits: torch.Tensor, strong_logits: torch.Tensor, temperature: float, normalise: bool = True
) -> torch.Tensor:
    """Guessed label distributions ``(B, C)``: the sharpened mean softmax of the two views' logits
    ``(B, C)`` each (each view's logits normalised by :func:`logit_norm` first when ``normalise``)."""
    views = [logit_norm(view) if normalise else view for view in (weak_logits, strong_logits)]
    probs = torch.stack([F.softmax(view, dim=1) for view in views]).mean(dim=0)
    return sharpen(probs, temperature)


def approximate_beta_mix(count: int, beta: float, device: torch.device) -> torch.Tensor:
    """Per-sample mixing coefficients ``(count,)`` in [0.5, 1]: ``max(m, 1 − m)`` with
    ``m = u^{1/β} / 2``, u uniform — the original's stand-in for a folded Beta(β, β) draw."""
    mix = torch.rand(count, device=device).pow(1.0 / beta) / 2
    return torch.maximum(mix, 1 - mix)


@dataclass
class MetaDecision:
    """The meta step's output for a batch of B samples: ``weights`` ``(B,)`` (non-negative, sum 1
    unless all 0), ``keep_label`` ``(B,)`` bool (True: train on the given label; False: on the guess)
    and the look-ahead ``probe_loss`` (scalar, detached)."""

    weights: torch.Tensor
    keep_label: torch.Tensor
    probe_loss: torch.Tensor


def ieg_meta_step(
    network: torch.nn.Module,
    logits: torch.Tensor,
    onehot: torch.Tensor,
    guessed: torch.Tensor,
    probe_x: torch.Tensor,
    probe_y: torch.Tensor,
    *,
    meta_lr: float,
    grad_eps_init: float,
    optimizer: torch.optim.Optimizer | None = None,
    meta_momentum: float = 0.0,
    probe_weight_decay: bool = False,
) -> MetaDecision:
    """IEG's meta step (module docstring, step 2) for a batch whose train-mode ``logits`` ``(B, C)``
    were computed by ``network`` (with their graph), given labels ``onehot`` ``(B, C)`` and guessed
    labels ``guessed`` ``(B, C)``, against the probe batch ``probe_x``, ``probe_y`` ``(P,)``.

    ``optimizer`` (SGD) supplies the momentum buffers and weight decay of the look-ahead step, and
    with ``probe_weight_decay`` the probe loss carries that weight decay of θ' too. The
    look-ahead's probe forward runs on copies of the BatchNorm buffers, so they never move; the graph
    of ``logits`` is kept for the final loss. A ``guessed`` that carries its graph from the
    network's parameters (not detached) puts its dependence on θ into the look-ahead gradient, as
    the original; a detached one is a constant there.
    """
    params = dict(network.named_parameters())
    buffers = {name: value.clone() for name, value in network.named_buffers()}
    batch = len(onehot)
    weight0 = torch.full((batch,), 1.0 / batch, device=logits.device, requires_grad=True)
    eps0 = torch.full((batch,), float(grad_eps_init), device=logits.device, requires_grad=True)
    mixed = eps0[:, None] * onehot + (1 - eps0[:, None]) * guessed
    lookahead = (weight0 * soft_cross_entropy(logits, mixed)).sum()
    grads = torch.autograd.grad(lookahead, list(params.values()), create_graph=True)
    stepped = {}
    for (name, weight), grad in zip(params.items(), grads, strict=True):
        grad = grad + look_ahead_extras(optimizer, weight, meta_momentum)
        stepped[name] = weight - meta_lr * grad
    probe_loss = F.cross_entropy(functional_call(network, (stepped, buffers), (probe_x,)), probe_y)
    meta_objective = probe_loss
    if probe_weight_decay and optimizer is not None:
        decay = optimizer.param_groups[0].get("weight_decay", 0.0)
        meta_objective = probe_loss + decay / 2 * sum(p.pow(2).sum() for p in stepped.values())
    # retain_graph: the final loss backpropagates through ``logits`` afterwards
    grad_weight, grad_eps = torch.autograd.grad(meta_objective, [weight0, eps0], retain_graph=True)
    weights = weights_from_meta_gradient(grad_weight)
    return MetaDecision(weights=weights.detach(), keep_label=(grad_eps < 0).detach(), probe_loss=probe_loss.detach())


def look_ahead_extras(optimizer: torch.optim.Optimizer | None, param: torch.Tensor, meta_momentum: float):
    """What the real SGD step would add to ``param``'s gradient: its weight decay times the parameter,
    plus ``meta_momentum`` times its momentum buffer (0 before the first step). Constants for the
    meta gradient (no graph)."""
    if optimizer is None:
        return 0.0
    group = next(g for g in optimizer.param_groups if any(p is param for p in g["params"]))
    extra = group.get("weight_decay", 0.0) * param.detach()
    buffer = optimizer.state.get(param, {}).get("momentum_buffer")
    if meta_momentum > 0 and buffer is not None:
        extra = extra + meta_momentum * buffer
    return extra


@declare(
    param(
        "meta_lr",
        (
            "IEG (Zhang et al. 2020): per batch, labels are guessed from a weak and a strong view (sharpened mean "
            "softmax); one look-ahead step of this size on the loss with per-example weights and label mixes gives, "
            "from the clean probe loss's gradient, the example weights and a binary switch per sample: keep the given"
            " label or train on the guessed one. Plus a MixUp with the probe set and a weak/strong consistency term. "
            "Needs `probe_per_class`. Readout: each sample's last effective label (given or guessed). A run costs "
            "about 7× a CE run (L2R about 4×; Fashion-MNIST benchmark, small CNN, CPU)."
        ),
        type="number",
        exclusiveMinimum=0,
    ),
    param(
        "meta_momentum",
        "Factor on the optimiser's momentum buffer added to the look-ahead gradient, as the original.",
        type="number",
        minimum=0,
    ),
    param(
        "grad_eps_init",
        "Initial label mix ε₀ (ε·given + (1 − ε)·guessed) of the meta step and of the weighted loss term.",
        type="number",
        minimum=0,
        maximum=1,
    ),
    param(
        "ce_factor",
        "Weight of the unlabelled part of the MixUp with the probe set (0 = no MixUp term).",
        type="number",
        minimum=0,
    ),
    param(
        "consistency_factor",
        "Weight of KL(weak ‖ strong) (0 = none). The strong view is the dataset's `augment.strong`.",
        type="number",
        minimum=0,
    ),
    param(
        "mixup_beta",
        "β of the original's per-sample MixUp coefficient max(m, 1 − m), m = u^{1/β}/2.",
        type="number",
        exclusiveMinimum=0,
    ),
    param("temperature", "Sharpening temperature of the guessed labels.", type="number", exclusiveMinimum=0),
    param(
        "logit_norm",
        "Divide logits by their batch RMS before guessing and in the MixUp loss (the original).",
        type="boolean",
    ),
    param(
        "ema_decay",
        (
            "Weight average used to evaluate and predict, with TensorFlow's warm-up min(decay, (1+t)/(10+t)); 0 = the"
            " live weights."
        ),
        type="number",
        minimum=0,
        exclusiveMaximum=1,
    ),
    PROBE_BATCH_SIZE,
    param(
        "meta_guess_gradient",
        (
            "The look-ahead gradient also flows through the guessed labels (the original: its meta step mixes the "
            "guess before the stop-gradient), so the example weights and the keep/guess switch follow how the guess "
            "moves with θ too; `false` treats the guess as a constant there. The final loss never differentiates the "
            "guess."
        ),
        type="boolean",
    ),
    param(
        "probe_weight_decay",
        (
            "The probe loss carries the weight decay λ/2 ‖θ′‖² of the look-ahead parameters (the look-ahead step "
            "always does), as the original's `meta_loss`; `false` leaves it out."
        ),
        type="boolean",
    ),
)
class IEG(Learner):
    """IEG's full step (module docstring).

    ``meta_lr`` (``meta_stepsize``, 0.1), ``meta_momentum`` (0.9), ``grad_eps_init`` (0.9): the meta
    step; ``ce_factor`` (5) and ``consistency_factor`` (20): weights of the probe-MixUp and the
    weak/strong consistency terms (0 turns a term off); ``mixup_beta`` (0.5); ``temperature`` (0.5)
    of the sharpening; ``logit_norm`` (true); ``ema_decay`` (0.999; 0 evaluates the live weights);
    ``probe_batch_size`` probe samples per step; ``meta_guess_gradient`` (false; the original:
    true) differentiates the look-ahead loss through the guessed labels.

    State: the weight average and each sample's last effective label (−1 until seen).
    """

    needs_probe = True
    # the meta step differentiates through a look-ahead step: double backward, which compiled
    # autograd refuses ("does not currently support double backward")
    compiles = False
    state_keys = ("ema", "effective_label", "steps")

    def __init__(
        self,
        meta_lr: float = 0.1,
        meta_momentum: float = 0.9,
        grad_eps_init: float = 0.9,
        ce_factor: float = 5.0,
        consistency_factor: float = 20.0,
        mixup_beta: float = 0.5,
        temperature: float = 0.5,
        logit_norm: bool = True,
        ema_decay: float = 0.999,
        probe_batch_size: int = 100,
        probe_weight_decay: bool = True,
        meta_guess_gradient: bool = False,
    ):
        self.meta_lr, self.meta_momentum, self.grad_eps_init = (
            float(meta_lr),
            float(meta_momentum),
            float(grad_eps_init),
        )
        self.ce_factor, self.consistency_factor = float(ce_factor), float(consistency_factor)
        self.mixup_beta, self.temperature, self.logit_norm = float(mixup_beta), float(temperature), bool(logit_norm)
        self.ema_decay, self.probe_batch_size = float(ema_decay), int(probe_batch_size)
        self.probe_weight_decay = bool(probe_weight_decay)
        self.meta_guess_gradient = bool(meta_guess_gradient)

    def setup(self, ctx: TrainContext) -> None:
        """A weight average initialised to the network, and no effective labels yet."""
        self.ema = copy.deepcopy(ctx.model).requires_grad_(False)
        self.effective_label = torch.full((ctx.num_samples,), -1, dtype=torch.long, device=ctx.device)
        self.steps = 0

    def training_step(self, ctx: TrainContext, batch: Batch) -> StepOutput:
        network = ctx.network
        probe_x, probe_y = draw_probe_batch(ctx.probe, self.probe_batch_size, ctx.generator)
        weak, strong = ctx.augment.weak(batch.x), ctx.augment.strong(batch.x)
        logits = network(weak)
        strong_logits = network(strong)
        if self.meta_guess_gradient:
            # the meta step differentiates through the guess; every other use reads it as a constant
            guessed_graph = guess_labels(logits, strong_logits, self.temperature, self.logit_norm)
            guessed = guessed_graph.detach()
        else:
            with torch.no_grad():
                guessed = guess_labels(logits, strong_logits, self.temperature, self.logit_norm)
            guessed_graph = guessed
        onehot = F.one_hot(batch.y, ctx.num_classes).float()
        decision = ieg_meta_step(
            network,
            logits,
            onehot,
            guessed_graph,
            probe_x,
            probe_y,
            meta_lr=self.meta_lr,
            grad_eps_init=self.grad_eps_init,
            optimizer=ctx.optimizers[ctx.active],
            meta_momentum=self.meta_momentum,
            probe_weight_decay=self.probe_weight_decay,
        )
        keep = decision.keep_label.float()[:, None]
        chosen = keep * onehot + (1 - keep) * guessed
        initial = self.grad_eps_init * onehot + (1 - self.grad_eps_init) * guessed
        loss = 0.5 * (
            soft_cross_entropy(logits, chosen).mean() + (decision.weights * soft_cross_entropy(logits, initial)).sum()
        )
        if self.ce_factor > 0:
            loss = loss + self.probe_mixup_loss(network, probe_x, probe_y, weak, strong, guessed, ctx.num_classes)
        if self.consistency_factor > 0:
            loss = loss + self.consistency_factor * consistency_loss(logits.detach(), strong_logits)
        with torch.no_grad():
            self.effective_label[batch.sample_id] = torch.where(decision.keep_label, batch.y, guessed.argmax(dim=1))
        return StepOutput(loss=loss, logits=logits.detach())

    def probe_mixup_loss(self, network, probe_x, probe_y, weak, strong, guessed, num_classes) -> torch.Tensor:
        """``CE_probe + ce_factor · CE_unlabelled`` on a MixUp of B probe samples (drawn with
        replacement, one-hot labels) and the batch's two views (guessed labels) under one random
        partner per row; each part's logits are normalised separately, as the original."""
        batch = len(weak)
        rows = torch.randint(len(probe_y), (batch,), device=probe_y.device)
        inputs = torch.cat([probe_x[rows], weak, strong])
        targets = torch.cat([F.one_hot(probe_y[rows], num_classes).float(), guessed, guessed])
        mix = approximate_beta_mix(len(inputs), self.mixup_beta, inputs.device)
        partner = torch.randperm(len(inputs), device=inputs.device)
        shape = (-1,) + (1,) * (inputs.dim() - 1)
        mixed_inputs = mix.view(shape) * inputs + (1 - mix.view(shape)) * inputs[partner]
        mixed_targets = mix[:, None] * targets + (1 - mix[:, None]) * targets[partner]
        parts = network(mixed_inputs).split(batch)
        if self.logit_norm:
            parts = [logit_norm(part) for part in parts]
        probe_loss = soft_cross_entropy(parts[0], mixed_targets[:batch]).mean()
        unlabelled_loss = soft_cross_entropy(torch.cat(parts[1:]), mixed_targets[batch:]).mean()
        return probe_loss + self.ce_factor * unlabelled_loss

    @torch.no_grad()
    def after_step(self, ctx: TrainContext) -> None:
        """Move the weight average towards the network; copy its BatchNorm statistics."""
        self.steps += 1
        decay = min(self.ema_decay, (1 + self.steps) / (10 + self.steps))
        for average, weight in zip(self.ema.parameters(), ctx.model.parameters(), strict=True):
            average.lerp_(weight, 1 - decay)
        for average, buffer in zip(self.ema.buffers(), ctx.model.buffers(), strict=True):
            average.copy_(buffer)

    def predict_logits(self, ctx: TrainContext, x: torch.Tensor, batch_size: int) -> torch.Tensor:
        """Logits ``(n, C)`` of the weight average (the live network when ``ema_decay`` is 0)."""
        return predict_logits(self.ema if self.ema_decay > 0 else ctx.model, x, batch_size)

    def relabel(
        self, ctx: TrainContext, sample_id: torch.Tensor, noisy_label: torch.Tensor, logits: torch.Tensor
    ) -> torch.Tensor:
        """Each sample's last effective label where it was trained on, else the prediction."""
        effective = self.effective_label[sample_id.to(self.effective_label.device)].to(logits.device)
        return torch.where(effective >= 0, effective, logits.argmax(dim=1))


def consistency_loss(weak_logits: torch.Tensor, strong_logits: torch.Tensor) -> torch.Tensor:
    """IEG's consistency term before its factor: ``C · mean over (B, C)`` of
    ``q (log q − log p)`` with q from the weak view's (detached) logits and p from the strong view's,
    i.e. the batch mean of KL(q ‖ p)."""
    q_log = F.log_softmax(weak_logits, dim=1)
    return (q_log.exp() * (q_log - F.log_softmax(strong_logits, dim=1))).sum(dim=1).mean()
