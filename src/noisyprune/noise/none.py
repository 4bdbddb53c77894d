"""No injected noise: the labels as given (a clean baseline, or data whose noise is intrinsic)."""

from __future__ import annotations

import numpy as np

from noisyprune.params import declare


@declare()
def no_noise(clean: np.ndarray, num_classes: int, rng: np.random.Generator) -> np.ndarray:
    """Return a copy of ``clean`` unchanged."""
    return clean.copy()
