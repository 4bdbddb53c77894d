"""SmallLoss: keep the samples the warm-up model fits best (lowest loss on their noisy label)."""

from __future__ import annotations

import numpy as np

from noisyprune.pruners.base import PrunerInputs, ScorePruner


class SmallLoss(ScorePruner):
    """Scores each candidate by the warm-up model's cross-entropy on its noisy label (eval mode,
    from ``features.parquet``) and keeps the **lowest** losses: networks fit clean labels before
    noisy ones (the memorisation effect), so small-loss samples are mostly correctly labelled.
    This trades noise for diversity: easy, redundant samples dominate at small fractions.
    """

    keep = "low"
    keeps = (
        "the samples the warm-up model fits best (lowest loss on the given label), which are mostly correctly labelled"
    )
    keeps_clean = True
    requires = ("features",)

    def score(self, inputs: PrunerInputs, rng: np.random.Generator) -> np.ndarray:
        return inputs.features.numpy("loss")
