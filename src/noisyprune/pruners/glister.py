"""GLISTER (Killamsetty et al., AAAI 2021): keep the samples whose gradients best reduce a
validation loss, with the last-layer approximation."""

from __future__ import annotations

import numpy as np

from noisyprune.method_inputs import MethodInputs
from noisyprune.params import declare, param
from noisyprune.pruners.base import Pruner, PrunerInputs, Selection
from noisyprune.pruners.budget import class_quotas, select_by_score, within_quota

VARIANTS = ("greedy", "static")


class LastLayerModel:
    """The warm-up model's last layer seen through its outputs: logits are ``log p`` (up to a
    per-sample constant, which softmax ignores), so a gradient step ``ΔW`` on ``[W, b]`` moves them
    to ``log p − [e, 1] ΔWᵀ`` without needing the weights themselves."""

    def __init__(self, probs: np.ndarray, embedding: np.ndarray, labels: np.ndarray):
        self.log_probs = np.log(np.clip(np.asarray(probs, dtype=np.float64), 1e-30, None))
        self.inputs = np.hstack([np.asarray(embedding, dtype=np.float64), np.ones((len(labels), 1))])
        self.onehot = np.eye(probs.shape[1])[labels]

    def residuals(self, step: np.ndarray | None) -> np.ndarray:
        """``p − y`` ``(n, C)`` after the weight change ``step`` ``(C, d + 1)`` (``None``: none)."""
        logits = self.log_probs if step is None else self.log_probs - self.inputs @ step.T
        logits = logits - logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=1, keepdims=True)
        return probs - self.onehot

    def mean_gradient(self, residuals: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Mean last-layer gradient ``(C, d + 1)`` of the samples ``rows``."""
        return residuals[rows].T @ self.inputs[rows] / max(len(rows), 1)

    def alignment(self, residuals: np.ndarray, gradient: np.ndarray) -> np.ndarray:
        """``⟨g_i, gradient⟩`` for every sample's last-layer gradient ``g_i = (p_i − y_i) ⊗ [e_i, 1]``."""
        return np.einsum("ic,ic->i", residuals, self.inputs @ gradient.T)


@declare(
    param(
        "variant",
        (
            "`greedy`: after each of `updates` rounds the model takes an SGD step of size `lr` on the selected set's "
            "mean gradient and every gradient is re-evaluated; `static`: what the original runs (its update never "
            "happens because of a typo)."
        ),
        choices=VARIANTS,
    ),
    param(
        "lr",
        "(`greedy`) Step size of the model update between rounds.",
        type="number",
        exclusiveMinimum=0,
    ),
    param("updates", "(`greedy`) Rounds of selection, each followed by a model update.", type="integer", minimum=1),
    param(
        "validation_size",
        (
            "Samples whose mean gradient is the validation gradient (the noisy training set, as the fork); `null` = "
            "all, else a seeded sample."
        ),
        oneOf=[{"type": "integer", "minimum": 1}, {"type": "null"}],
    ),
)
class Glister(Pruner):
    """Scores each candidate by how well its last-layer gradient aligns with the validation
    gradient (a first-order estimate of how much a step on it lowers the validation loss) and keeps
    the **most aligned**. The validation set is the noisy training set itself (as in the Prune4ReL
    fork) or a seeded sample of ``validation_size`` of it.

    ``variant: greedy`` (default) does what GLISTER intends: picks come in ``updates`` rounds, and
    after each round the model is moved by one SGD step of size ``lr`` on the mean gradient of the
    selected set and all gradients are re-evaluated, so later picks serve what the subset still
    lacks. ``variant: static`` is what the original code actually runs: a typo
    (``upadate_state``) means the validation gradient is never updated, giving a plain top-k by
    alignment (without the original's double softmax, which we do not reproduce).
    """

    inputs = MethodInputs(("labels", "features", "probabilities"))

    requires = ("features",)
    keeps = "the samples whose gradients best lower the loss on the given (noisy) labels"

    def __init__(
        self,
        balance: str = "none",
        variant: str = "greedy",
        lr: float = 0.1,
        updates: int = 20,
        validation_size: int | None = None,
    ):
        super().__init__(balance=balance)
        self.variant, self.lr, self.updates, self.validation_size = variant, lr, updates, validation_size

    def select(self, inputs: PrunerInputs, budget: int, rng: np.random.Generator) -> Selection:
        labels, num_classes = inputs.noisy_label, inputs.num_classes
        model = LastLayerModel(inputs.features.numpy("probs"), inputs.features.numpy("embedding"), labels)
        n = len(labels)
        validation = np.arange(n)
        if self.validation_size and self.validation_size < n:
            validation = np.sort(rng.permutation(n)[: self.validation_size])
        residuals = model.residuals(None)
        if self.variant == "static":
            gains = model.alignment(residuals, model.mean_gradient(residuals, validation))
            positions = select_by_score(gains, "high", budget, labels, num_classes, self.balance)
            return Selection(positions=positions, scores=gains[positions])
        return self._greedy(model, residuals, validation, budget, labels, num_classes)

    def _greedy(self, model, initial_residuals, validation, budget, labels, num_classes) -> Selection:
        n = len(labels)
        remaining = class_quotas(labels, num_classes, budget, self.balance)
        selected = np.zeros(n, dtype=bool)
        picks: list[np.ndarray] = []
        scores: list[np.ndarray] = []
        per_round = -(-budget // self.updates)
        step = None
        while (done := sum(len(p) for p in picks)) < budget:
            residuals = model.residuals(step)
            gains = model.alignment(residuals, model.mean_gradient(residuals, validation))
            order = np.lexsort((np.arange(n), -gains))
            order = order[~selected[order]]
            if remaining is not None:
                order = order[within_quota(order, labels, remaining)]
                if not len(order):  # equal quotas filled with budget left: fill from everyone
                    remaining = None
                    continue
            chosen = order[: min(per_round, budget - done)]
            selected[chosen] = True
            if remaining is not None:
                remaining -= np.bincount(labels[chosen], minlength=num_classes)
            picks.append(chosen)
            scores.append(gains[chosen])
            step = self.lr * model.mean_gradient(initial_residuals, np.flatnonzero(selected))
        return Selection(positions=np.concatenate(picks), scores=np.concatenate(scores))
