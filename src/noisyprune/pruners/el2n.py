"""EL2N (Paul et al., NeurIPS 2021): the L2 norm of the warm-up model's error on the noisy label."""

from __future__ import annotations

import numpy as np

from noisyprune.method_inputs import CLASS_SCORES, MethodInputs
from noisyprune.params import declare, param
from noisyprune.pruners.base import DetectionScore, PrunerInputs, ScorePruner, offers


def el2n_scores(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``‖softmax − onehot(label)‖₂`` per sample, ``(n,)``, from probabilities ``(n, C)``."""
    error = np.asarray(probs, dtype=np.float64).copy()
    error[np.arange(len(labels)), labels] -= 1.0
    return np.linalg.norm(error, axis=1)


@declare(
    param(
        "keep",
        "`hard` keeps the largest ‖p − onehot(y)‖₂ (the original direction), `easy` the smallest (the noise-robust "
        "direction).",
        choices=["hard", "easy"],
    ),
)
class EL2N(ScorePruner):
    """Scores ``‖p − onehot(noisy label)‖₂`` (0 = fitted exactly, √2 = confidently wrong).

    ``keep: hard`` (default, as in Paul et al.) keeps the **largest** errors: on clean data they
    are the informative, rarely-seen examples. Under label noise the largest errors are mostly the
    mislabelled samples, so ``keep: easy`` (smallest errors) is the noise-robust direction.
    """

    inputs = MethodInputs(CLASS_SCORES)

    requires = ("features",)
    detection_scores = offers(
        el2n=DetectionScore(lambda inputs: el2n_scores(inputs.features.numpy("probs"), inputs.noisy_label))
    )
    keeps = (
        "samples at its `keep` end of the warm-up model's error on the given label; the hard end (the "
        "default) holds most of the wrong labels"
    )

    def __init__(self, balance: str = "none", keep: str = "hard"):
        super().__init__(balance=balance)
        self.keep = "high" if keep == "hard" else "low"

    def score(self, inputs: PrunerInputs, rng: np.random.Generator) -> np.ndarray:
        return el2n_scores(inputs.features.numpy("probs"), inputs.noisy_label)
