"""GraNd (Paul et al., NeurIPS 2021): the norm of the loss gradient w.r.t. the last layer."""

from __future__ import annotations

import numpy as np

from noisyprune.pruners.base import PrunerInputs, ScorePruner
from noisyprune.pruners.el2n import el2n_scores


def grand_scores(probs: np.ndarray, embedding: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Closed-form last-layer gradient norm of cross-entropy on ``labels``, ``(n,)``.

    For logits ``W e + b`` the gradient is ``(p − y) ⊗ e`` for ``W`` and ``p − y`` for ``b``, so its
    norm is ``‖p − y‖ · √(‖e‖² + 1)`` — no per-sample backward pass is needed.
    """
    embedding_norm2 = np.square(np.asarray(embedding, dtype=np.float64)).sum(axis=1)
    return el2n_scores(probs, labels) * np.sqrt(embedding_norm2 + 1.0)


class GraNd(ScorePruner):
    """Scores the last-layer gradient norm of the warm-up model's loss on the noisy label (weights
    and bias, as the Prune4ReL fork's ``[dL/dlogits, e ⊗ dL/dlogits]``) and keeps the **largest**
    (``keep: hard``, the original direction: samples that still move the model); ``keep: easy``
    keeps the smallest, the noise-robust direction.
    """

    requires = ("features",)

    def __init__(self, balance: str = "none", keep: str = "hard"):
        super().__init__(balance=balance)
        if keep not in ("hard", "easy"):
            raise ValueError(f"keep must be 'hard' or 'easy', got {keep!r}")
        self.keep = "high" if keep == "hard" else "low"

    def score(self, inputs: PrunerInputs, rng: np.random.Generator) -> np.ndarray:
        features = inputs.features
        return grand_scores(features.numpy("probs"), features.numpy("embedding"), inputs.noisy_label)
