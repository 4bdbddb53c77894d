"""SmallLoss: keep the samples the warm-up model fits best (lowest loss on their noisy label)."""

from __future__ import annotations

import numpy as np

from noisyprune.method_inputs import CLASS_SCORES, MethodInputs
from noisyprune.pruners.base import DetectionScore, PrunerInputs, ScorePruner, offers


def warmup_loss(inputs: PrunerInputs) -> np.ndarray:
    """The warm-up model's loss on each noisy label, ``(n,)`` float64 (larger = more likely mislabelled)."""
    return inputs.features.numpy("loss").astype(np.float64)


class SmallLoss(ScorePruner):
    """Scores each candidate by the warm-up model's cross-entropy on its noisy label (eval mode,
    from ``features.parquet``) and keeps the **lowest** losses: networks fit clean labels before
    noisy ones (the memorisation effect), so small-loss samples are mostly correctly labelled.
    This trades noise for diversity: easy, redundant samples dominate at small fractions.
    """

    inputs = MethodInputs(CLASS_SCORES)

    keep = "low"
    keeps = (
        "the samples the warm-up model fits best (lowest loss on the given label), which are mostly correctly labelled"
    )
    keeps_clean = True
    requires = ("features",)
    detection_scores = offers(loss=DetectionScore(warmup_loss))

    def score(self, inputs: PrunerInputs, rng: np.random.Generator) -> np.ndarray:
        return inputs.features.numpy("loss")
