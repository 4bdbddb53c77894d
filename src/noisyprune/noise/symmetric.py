"""Symmetric (uniform) label noise, with both conventions found in the literature, chosen by name,
and the two ways the originals decide which samples flip (``realisation``)."""

from __future__ import annotations

import numpy as np

from noisyprune.noise.base import exact_count
from noisyprune.params import declare, param

CONVENTIONS = ("other_class", "any_class")
REALISATIONS = ("exact", "per_sample")


def symmetric_transition(rate: float, num_classes: int, convention: str) -> np.ndarray:
    """The ``(C, C)`` row-stochastic matrix a per-sample draw uses: ``other_class`` keeps a label
    with probability ``1 − rate`` and moves it to each other class with ``rate / (C − 1)``
    (Co-teaching's ``noisify_multiclass_symmetric``); ``any_class`` redraws it over all ``C``
    classes with probability ``rate``, so it stays with ``1 − rate + rate / C``."""
    if convention == "other_class":
        matrix = np.full((num_classes, num_classes), rate / (num_classes - 1))
        np.fill_diagonal(matrix, 1.0 - rate)
    else:
        matrix = np.full((num_classes, num_classes), rate / num_classes)
        np.fill_diagonal(matrix, 1.0 - rate + rate / num_classes)
    return matrix


def legacy_multinomial_draws(clean: np.ndarray, matrix: np.ndarray, seed: int) -> np.ndarray:
    """Noisy labels ``(n,)`` drawn as Co-teaching's and RDIA-LS's ``multiclass_noisify`` does: one
    ``RandomState(seed).multinomial(1, matrix[clean[i]])`` per sample, in order, from one legacy
    generator. Only numpy's legacy ``RandomState`` reproduces those draws bit for bit."""
    flipper = np.random.RandomState(seed)
    noisy = np.empty_like(clean)
    for i, label in enumerate(clean):
        noisy[i] = int(flipper.multinomial(1, matrix[label], 1)[0].argmax())
    return noisy


@declare(
    param(
        "rate",
        (
            "In [0, 1]: the share of samples relabelled — exactly `round(rate · n)` of them, chosen uniformly "
            "(`realisation: exact`), or each with probability `rate` (`per_sample`)."
        ),
        type="number",
        minimum=0,
        maximum=1,
    ),
    param(
        "convention",
        (
            "`other_class`: the new label is uniform over the other C − 1 classes, so `rate` is the probability of a "
            "wrong label (Prune4ReL, RDIA-LS). `any_class`: uniform over all C classes, so some resampled labels stay "
            "correct and the realised rate is about `rate · (C − 1)/C` (SOP, ELR, DivideMix, IEG)."
        ),
        choices=CONVENTIONS,
    ),
    param(
        "realisation",
        (
            "Which samples are relabelled. `exact`: exactly `round(rate · n)`, drawn without replacement. "
            "`per_sample`: each sample independently with probability `rate`, so the count varies around "
            "`rate · n` (IEG's `rand(n) <= rate`, Co-teaching's and RDIA-LS's per-sample transition draws)."
        ),
        choices=REALISATIONS,
    ),
    param(
        "fixed_seed",
        (
            "(`realisation: per_sample`) Draw with numpy's legacy `RandomState(fixed_seed)`: one multinomial draw per "
            "sample from its clean class's row of the transition matrix, in training-set order, whatever the run's "
            "seed — Co-teaching's and RDIA-LS's `multiclass_noisify(random_state=0)`, which gives every seed of the "
            "sweep the original's labels (on the same data in the same order). `null`: the run's seeded generator."
        ),
        oneOf=[{"type": "integer", "minimum": 0}, {"type": "null"}],
    ),
)
def symmetric_noise(
    clean: np.ndarray,
    num_classes: int,
    rng: np.random.Generator,
    rate: float,
    convention: str = "other_class",
    realisation: str = "exact",
    fixed_seed: int | None = None,
) -> np.ndarray:
    """Return noisy labels for ``clean`` (``(n,)`` int in ``[0, C)``).

    ``realisation`` says which samples get a new label: ``exact`` (default) exactly
    ``round(rate · n)``, drawn uniformly without replacement; ``per_sample`` each sample
    independently with probability ``rate`` (IEG, Co-teaching, RDIA-LS). ``convention`` says what
    the new label is:

    - ``other_class`` (default; Prune4ReL, RDIA-LS): uniform over the ``C − 1`` *other* classes, so
      ``rate`` is the probability of a wrong label and the realised rate equals it (up to rounding).
    - ``any_class`` (SOP, ELR, DivideMix, IEG): uniform over all ``C`` classes, so a resampled label
      may stay correct and the realised rate is about ``rate · (C − 1) / C``.

    ``fixed_seed`` (``per_sample`` only) replaces ``rng`` by the originals' legacy generator
    (:func:`legacy_multinomial_draws`), the same for every run.
    """
    if num_classes < 2:
        raise ValueError("symmetric noise needs at least 2 classes")
    if fixed_seed is not None:
        if realisation != "per_sample":
            raise ValueError(
                f"symmetric noise: fixed_seed {fixed_seed} draws per sample; set realisation: per_sample (it is "
                f"{realisation!r}) or leave fixed_seed out"
            )
        return legacy_multinomial_draws(clean, symmetric_transition(rate, num_classes, convention), fixed_seed)
    noisy = clean.copy()
    if realisation == "exact":
        chosen = rng.permutation(len(clean))[: exact_count(rate, len(clean))]
    else:
        chosen = np.flatnonzero(rng.random(len(clean)) < rate)
    if convention == "other_class":
        # An offset in 1..C-1 added modulo C is uniform over the other classes and never 0.
        offsets = rng.integers(1, num_classes, size=len(chosen))
        noisy[chosen] = (clean[chosen] + offsets) % num_classes
    else:
        noisy[chosen] = rng.integers(0, num_classes, size=len(chosen))
    return noisy
