"""Uniform: a seeded uniformly random subset (stratified by noisy label when balanced)."""

from __future__ import annotations

import numpy as np

from noisyprune.method_inputs import MethodInputs
from noisyprune.pruners.base import PrunerInputs, ScorePruner


class Uniform(ScorePruner):
    """Scores each candidate with an independent U(0, 1) draw from the selection seed and keeps the
    lowest draws: a uniformly random subset of the budget's size (direction is arbitrary). With
    ``balance: proportional`` it is stratified sampling over noisy-label classes.

    Needs nothing from the warm-up, so its selection never reruns when the warm-up changes.
    """

    inputs = MethodInputs(("labels",))

    keep = "low"
    keeps = "a uniformly random subset, whose share of wrong labels is its input's up to chance"

    def score(self, inputs: PrunerInputs, rng: np.random.Generator) -> np.ndarray:
        return rng.random(len(inputs))
