"""Uncertainty: rank samples by how unsure the warm-up model is about them (DeepCore's Uncertainty)."""

from __future__ import annotations

import numpy as np

from noisyprune.errors import ArtifactError
from noisyprune.method_inputs import CLASS_SCORES, MethodInputs
from noisyprune.params import declare, param
from noisyprune.pruners.base import DetectionScore, PrunerInputs, ScorePruner, offers

SCORES = ("least_confidence", "entropy", "margin", "max_logit")
KEEPS = ("hard", "easy")


def uncertainty_scores(probs: np.ndarray, kind: str) -> np.ndarray:
    """Per-sample uncertainty ``(n,)`` from probabilities ``(n, C)``; larger = more uncertain.

    ``least_confidence``: 1 − max p; ``entropy``: −Σ p log p (nats); ``margin``: −(p₁ − p₂), the
    negated gap between the two most probable classes. (``max_logit`` needs the logits:
    :meth:`Uncertainty.score`.)
    """
    probs = np.asarray(probs, dtype=np.float64)
    if kind == "least_confidence":
        return 1.0 - probs.max(axis=1)
    if kind == "entropy":
        return -(probs * np.log(np.clip(probs, 1e-30, None))).sum(axis=1)
    if kind == "margin":
        top2 = -np.partition(-probs, 1, axis=1)[:, :2] if probs.shape[1] > 1 else np.c_[probs, np.zeros(len(probs))]
        return -(top2[:, 0] - top2[:, 1])
    raise ValueError(f"unknown uncertainty score {kind!r}; use one of {SCORES}")


@declare(
    param(
        "score",
        (
            '`least_confidence` (1 − max p), `entropy`, `margin` (the README\'s "Margin" baseline) or `max_logit` (the'
            " largest raw logit, negated: what DeepCore and the Prune4ReL scripts' `--uncertainty LeastConfidence` "
            "compute; the paper-scale presets run it with `balance: proportional`, the scripts' `--balance True`)."
        ),
        choices=SCORES,
    ),
    param(
        "keep",
        (
            "`hard` keeps the most uncertain (as the Prune4ReL fork), `easy` the most confident (what DeepCore's "
            "unbalanced branch really does)."
        ),
        choices=KEEPS,
    ),
)
class Uncertainty(ScorePruner):
    """Scores the warm-up model's uncertainty (``score``: least_confidence, entropy or margin) from
    its softmax probabilities on the clean view.

    ``keep: hard`` (default) keeps the **most uncertain** samples, as the Prune4ReL fork does: they
    lie near decision boundaries and are the informative ones for a clean-label learner.
    ``keep: easy`` keeps the most confident ones — which is what DeepCore's unbalanced branch
    actually does despite the method's name (``argsort(scores)[::-1]`` on a confidence score).
    Under label noise the hard end is rich in mislabelled samples; the easy end in clean ones.
    ``least_confidence`` is 1 − the top probability; ``max_logit`` is what DeepCore and the Prune4ReL
    fork call LeastConfidence: the negated largest *raw logit* (no softmax), so ``keep: hard`` keeps
    the smallest top logits, as their ascending sort does. The original scripts run it with
    ``--balance True``, i.e. ``balance: proportional`` (docs/methods.md#uncertainty).
    """

    inputs = MethodInputs(CLASS_SCORES, {("score", "max_logit"): ("labels", "logits")})

    requires = ("features",)
    detection_scores = offers(
        **{
            kind: DetectionScore(lambda inputs, kind=kind: uncertainty_scores(inputs.features.numpy("probs"), kind))
            for kind in ("least_confidence", "entropy", "margin")
        }
    )
    keeps = (
        "samples at its `keep` end of the warm-up model's uncertainty; the hard end (the default) is rich in "
        "wrong labels"
    )

    def __init__(self, balance: str = "none", score: str = "margin", keep: str = "hard"):
        super().__init__(balance=balance)
        self.kind = score
        self.keep = "high" if keep == "hard" else "low"

    def score(self, inputs: PrunerInputs, rng: np.random.Generator) -> np.ndarray:
        if self.kind == "max_logit":
            if inputs.features.table.column("max_logit").null_count:
                raise ArtifactError(
                    f"{inputs.features.path}: score max_logit needs the raw logits, and this warm-up gave "
                    "probabilities only (a precomputed representation without logits); use score "
                    "least_confidence, or add logits to the file"
                )
            return -np.asarray(inputs.features.numpy("max_logit"), dtype=np.float64)
        return uncertainty_scores(inputs.features.numpy("probs"), self.kind)
