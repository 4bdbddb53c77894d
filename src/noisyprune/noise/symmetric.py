"""Symmetric (uniform) label noise, with both conventions found in the literature, chosen by name."""

from __future__ import annotations

import numpy as np

from noisyprune.noise.base import exact_count
from noisyprune.params import declare, param

CONVENTIONS = ("other_class", "any_class")


@declare(
    param(
        "rate",
        "In [0, 1]: exactly `round(rate · n)` samples, chosen uniformly, are relabelled.",
        type="number",
        minimum=0,
        maximum=1,
    ),
    param(
        "convention",
        (
            "`other_class`: the new label is uniform over the other C − 1 classes, so `rate` is the probability of a "
            "wrong label (Prune4ReL). `any_class`: uniform over all C classes, so some resampled labels stay correct "
            "and the realised rate is about `rate · (C − 1)/C` (SOP, ELR, DivideMix)."
        ),
        choices=["other_class", "any_class"],
    ),
)
def symmetric_noise(
    clean: np.ndarray,
    num_classes: int,
    rng: np.random.Generator,
    rate: float,
    convention: str = "other_class",
) -> np.ndarray:
    """Return noisy labels for ``clean`` (``(n,)`` int in ``[0, C)``).

    Exactly ``round(rate · n)`` samples, drawn uniformly without replacement, get a new label:

    - ``other_class`` (default; Prune4ReL, RDIA-LS): uniform over the ``C − 1`` *other* classes, so
      ``rate`` is the probability of a wrong label and the realised rate equals it (up to rounding).
    - ``any_class`` (SOP, ELR, DivideMix, IEG): uniform over all ``C`` classes, so a resampled label
      may stay correct and the realised rate is about ``rate · (C − 1) / C``.
    """
    if convention not in CONVENTIONS:
        raise ValueError(f"unknown symmetric-noise convention {convention!r}; use one of {CONVENTIONS}")
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"noise rate must be in [0, 1], got {rate}")
    if num_classes < 2:
        raise ValueError("symmetric noise needs at least 2 classes")
    noisy = clean.copy()
    chosen = rng.permutation(len(clean))[: exact_count(rate, len(clean))]
    if convention == "other_class":
        # An offset in 1..C-1 added modulo C is uniform over the other classes and never 0.
        offsets = rng.integers(1, num_classes, size=len(chosen))
        noisy[chosen] = (clean[chosen] + offsets) % num_classes
    else:
        noisy[chosen] = rng.integers(0, num_classes, size=len(chosen))
    return noisy
