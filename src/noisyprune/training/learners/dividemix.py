"""DivideMix (Li, Socher & Hoi, ICLR 2020): co-divide with per-network GMMs, then MixMatch.

Warm-up epochs (``warmup_epochs``): both networks train with plain CE on every sample (batches of
twice the batch size, as the original), plus the negative-entropy confidence penalty if
``confidence_penalty`` (the original uses it for asymmetric noise).

Every later epoch, for each network: the per-sample CE of every trained sample (no augmentation,
eval mode) is min-max normalised (optionally averaged over the last ``loss_history`` epochs, the
original's choice at 90% noise) and a two-component scikit-learn ``GaussianMixture`` is fitted;
the posterior of the low-mean component is the sample's clean probability ``w``. Co-divide:
network 1 trains on network 2's split (labelled = ``w > p_threshold``) and vice versa, the other
network fixed in eval mode. A MixMatch step on a labelled and an unlabelled batch: co-guessed,
sharpened targets for the unlabelled samples (both networks, two weak views each), co-refined
targets ``sharpen(w y + (1 − w) p)`` for the labelled ones, mixup of everything, CE on the labelled
part, MSE on the unlabelled part weighted by ``lambda_u`` ramped linearly over
``rampup_epochs`` after the warm-up, and a uniform-prior penalty. The unlabelled batches cycle.

``variant: prune4rel`` reproduces the Prune4ReL copy: no warm-up of the freshly created networks
(the first GMM is fitted on an untrained network's losses) and a constant ``lambda_u``.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.mixture import GaussianMixture

from noisyprune.params import declare, param
from noisyprune.training.context import Phase, StepOutput, TrainContext
from noisyprune.training.inference import predict_logits
from noisyprune.training.inputs import Batch
from noisyprune.training.learners.base import (
    TwoNetworkLearner,
    mixup_coefficient,
    sharpen,
)


def clean_probability(losses: np.ndarray, seed: int = 0) -> np.ndarray:
    """Posterior of the low-mean component of a 2-component GMM fitted to ``losses`` ``(n,)``
    (already normalised to [0, 1]), with the original's settings (max_iter 10, tol 1e-2,
    reg_covar 5e-4). Returns ``(n,)`` probabilities that each sample is clean."""
    if len(losses) < 2 or np.ptp(losses) == 0:
        return np.full(len(losses), 0.5)
    gmm = GaussianMixture(n_components=2, max_iter=10, tol=1e-2, reg_covar=5e-4, random_state=seed)
    column = losses.reshape(-1, 1).astype(np.float64)
    gmm.fit(column)
    return gmm.predict_proba(column)[:, int(np.argmin(gmm.means_.ravel()))]


@declare(
    param(
        "warmup_epochs",
        (
            "Epochs of CE on every sample (batches of 2 × `batch_size`) before co-dividing (original: 10 CIFAR-10, 30"
            " CIFAR-100). These count towards `epochs`."
        ),
        type="integer",
        minimum=0,
    ),
    param("lambda_u", "Weight of the unlabelled MSE loss.", type="number", minimum=0),
    param(
        "p_threshold",
        "Clean probability (per-sample GMM posterior) above which a sample is labelled.",
        type="number",
        exclusiveMinimum=0,
        exclusiveMaximum=1,
    ),
    param("temperature", "Sharpening temperature.", type="number", exclusiveMinimum=0),
    param("alpha", "Beta(α, α) of MixMatch's mixup.", type="number", minimum=0),
    param("rampup_epochs", "Linear ramp of λ_u after the warm-up (0 = constant).", type="integer", minimum=0),
    param(
        "confidence_penalty",
        "Negative-entropy penalty in the warm-up (the original's choice for asymmetric noise).",
        type="boolean",
    ),
    param(
        "loss_history",
        "Epochs of normalised losses averaged before each GMM (the original uses 5 at 90% noise).",
        type="integer",
        minimum=1,
    ),
    param(
        "variant",
        ("`prune4rel` reproduces the Prune4ReL copy: no warm-up of the freshly created networks and a constant λ_u."),
        choices=["original", "prune4rel"],
    ),
)
class DivideMix(TwoNetworkLearner):
    """DivideMix with the original's CIFAR defaults: ``warmup_epochs`` 10, ``lambda_u`` 25,
    ``p_threshold`` 0.5, ``temperature`` 0.5, ``alpha`` 4 (mixup), ``rampup_epochs`` 16.

    Re-labeling readout: argmax of the summed logits of both networks, for every sample (DivideMix
    keeps no corrected label; its targets are rebuilt in every batch).
    """

    state_keys = ("loss_histories", "clean_prob")  # restored on resume

    def __init__(
        self,
        warmup_epochs: int = 10,
        lambda_u: float = 25.0,
        p_threshold: float = 0.5,
        temperature: float = 0.5,
        alpha: float = 4.0,
        rampup_epochs: int = 16,
        confidence_penalty: bool = False,
        loss_history: int = 1,
        variant: str = "original",
    ):
        self.variant = variant
        self.warmup_epochs = 0 if variant == "prune4rel" else int(warmup_epochs)
        self.lambda_u, self.p_threshold, self.temperature = float(lambda_u), float(p_threshold), float(temperature)
        self.alpha, self.rampup_epochs = float(alpha), int(rampup_epochs)
        self.confidence_penalty, self.loss_history = bool(confidence_penalty), int(loss_history)

    def setup(self, ctx: TrainContext) -> None:
        """Empty loss histories and clean probabilities, one per network, over the trained samples."""
        self.loss_histories: list[list[np.ndarray]] = [[], []]
        self.clean_prob: list[np.ndarray | None] = [None, None]
        self._unlabelled = None
        self._iteration = 0
        self._iterations = 1

    def in_warmup(self, ctx: TrainContext) -> bool:
        """Whether epoch ``ctx.epoch`` is one of the CE warm-up epochs."""
        return ctx.epoch <= self.warmup_epochs

    def on_epoch_start(self, ctx: TrainContext) -> None:
        """After the warm-up: per-network GMM on normalised per-sample losses (the co-divide)."""
        if self.in_warmup(ctx):
            return
        seed = int(torch.randint(0, 2**31 - 1, (1,), generator=ctx.generator))
        for k, network in enumerate(ctx.models):
            logits = predict_logits(network, ctx.train.x, 1024)
            losses = F.cross_entropy(logits, ctx.train.y, reduction="none").cpu().numpy().astype(np.float64)
            span = losses.max() - losses.min() if len(losses) else 0.0
            normalised = (losses - losses.min()) / span if span > 0 else np.zeros_like(losses)
            history = self.loss_histories[k]
            history.append(normalised)
            del history[: -self.loss_history]
            self.clean_prob[k] = clean_probability(np.mean(history, axis=0), seed)

    def epoch_phases(self, ctx: TrainContext) -> list[Phase]:
        if self.in_warmup(ctx):
            batch = 2 * ctx.batch_size
            return [Phase(0, ctx.shuffled_batches(batch)), Phase(1, ctx.shuffled_batches(batch))]
        return [Phase(k, self._labelled_batches(ctx, split_from=1 - k)) for k in (0, 1)]

    def _labelled_batches(self, ctx: TrainContext, split_from: int):
        """Batches of the samples network ``split_from`` deems clean; sets up the cycling
        unlabelled stream and the clean probabilities the steps read."""
        probability = self.clean_prob[split_from]
        labelled = probability > self.p_threshold
        rows = torch.as_tensor(np.flatnonzero(labelled), device=ctx.device)
        unlabelled_rows = torch.as_tensor(np.flatnonzero(~labelled), device=ctx.device)
        train = ctx.train
        subset = train.subset(rows)
        self._weights = torch.as_tensor(probability, dtype=torch.float32, device=ctx.device)
        self._position = torch.full((ctx.num_samples,), -1, dtype=torch.int64, device=ctx.device)
        self._position[train.sample_id] = torch.arange(len(train), device=ctx.device)
        if len(unlabelled_rows):
            pool = train.subset(unlabelled_rows)
            self._unlabelled = itertools.chain.from_iterable(
                pool.batches(ctx.batch_size, generator=ctx.generator) for _ in itertools.count()
            )
        else:
            self._unlabelled = None
        self._iterations = max(1, -(-len(subset) // ctx.batch_size))
        labelled_batches = ctx.shuffled_batches(inputs=subset)
        for self._iteration, batch in enumerate(labelled_batches):
            yield batch
        # a streamed pool's reader holds worker processes: let it go with the phase
        self._unlabelled = None

    def lambda_u_now(self, ctx: TrainContext) -> float:
        """λ_u at the current step: ramped linearly over ``rampup_epochs`` after the warm-up
        (constant for the prune4rel variant)."""
        if self.variant == "prune4rel" or self.rampup_epochs == 0:
            return self.lambda_u
        progress = (ctx.epoch - 1) + self._iteration / self._iterations - self.warmup_epochs
        return self.lambda_u * float(np.clip(progress / self.rampup_epochs, 0.0, 1.0))

    def training_step(self, ctx: TrainContext, batch: Batch) -> StepOutput:
        if self.in_warmup(ctx):
            logits = ctx.network(ctx.augment.weak(batch.x))
            loss = F.cross_entropy(logits, batch.y)
            if self.confidence_penalty:
                probs = F.softmax(logits, dim=1)
                loss = loss + (probs * F.log_softmax(logits, dim=1)).sum(dim=1).mean()
            return StepOutput(loss=loss, logits=logits.detach())
        return self._mixmatch_step(ctx, batch)

    def _mixmatch_step(self, ctx: TrainContext, batch: Batch) -> StepOutput:
        network, other = ctx.network, ctx.models[1 - ctx.active]
        network.train()  # the previous phase may have left it in eval mode as the fixed network
        other.eval()
        weak = ctx.augment.weak
        x1, x2 = weak(batch.x), weak(batch.x)
        onehot = F.one_hot(batch.y, ctx.num_classes).float()
        w = self._weights[self._position[batch.sample_id]].unsqueeze(1)
        unlabelled = next(self._unlabelled) if self._unlabelled is not None else None
        with torch.no_grad():
            logits_x1 = network(x1)
            refined = w * onehot + (1 - w) * (F.softmax(logits_x1, 1) + F.softmax(network(x2), 1)) / 2
            target_x = sharpen(refined, self.temperature)
            inputs, targets = [x1, x2], [target_x, target_x]
            if unlabelled is not None:
                u1, u2 = weak(unlabelled.x), weak(unlabelled.x)
                guess = (
                    F.softmax(network(u1), 1)
                    + F.softmax(network(u2), 1)
                    + F.softmax(other(u1), 1)
                    + F.softmax(other(u2), 1)
                ) / 4
                target_u = sharpen(guess, self.temperature)
                inputs += [u1, u2]
                targets += [target_u, target_u]
        all_inputs, all_targets = torch.cat(inputs), torch.cat(targets)
        lam = mixup_coefficient(self.alpha)
        perm = torch.randperm(len(all_inputs), device=all_inputs.device)
        mixed_input = lam * all_inputs + (1 - lam) * all_inputs[perm]
        mixed_target = lam * all_targets + (1 - lam) * all_targets[perm]
        logits = network(mixed_input)
        labelled_count = 2 * len(batch)
        loss_x = -(F.log_softmax(logits[:labelled_count], 1) * mixed_target[:labelled_count]).sum(1).mean()
        loss = loss_x
        if unlabelled is not None:
            loss_u = ((F.softmax(logits[labelled_count:], 1) - mixed_target[labelled_count:]) ** 2).mean()
            loss = loss + self.lambda_u_now(ctx) * loss_u
        prior = torch.full((ctx.num_classes,), 1.0 / ctx.num_classes, device=logits.device)
        mean_prediction = F.softmax(logits, 1).mean(0)
        loss = loss + (prior * torch.log(prior / mean_prediction)).sum()
        return StepOutput(loss=loss, logits=logits_x1)
