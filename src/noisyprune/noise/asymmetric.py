"""Asymmetric class-pair noise: a fixed fraction of each source class is relabelled as its target."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from noisyprune.noise.base import exact_count


def resolve_pairs(pairs: str | Sequence[Sequence[int]], num_classes: int) -> dict[int, int]:
    """Turn a ``pairs`` spec into a ``{source: target}`` class map.

    ``"next"`` maps every class ``i`` to ``(i + 1) mod C`` (the "pair-flip" noise); otherwise a list
    of ``[source, target]`` pairs, e.g. CIFAR-10's ``[[9, 1], [2, 0], [4, 7], [3, 5], [5, 3]]``.
    """
    if isinstance(pairs, str):
        if pairs != "next":
            raise ValueError(f"unknown pairs {pairs!r}; use 'next' or a list of [source, target]")
        return {c: (c + 1) % num_classes for c in range(num_classes)}
    mapping: dict[int, int] = {}
    for pair in pairs:
        source, target = (int(v) for v in pair)
        if not (0 <= source < num_classes and 0 <= target < num_classes):
            raise ValueError(f"pair {[source, target]} names a class outside [0, {num_classes})")
        if source == target:
            raise ValueError(f"pair {[source, target]} maps a class onto itself")
        if source in mapping:
            raise ValueError(f"class {source} is the source of more than one pair")
        mapping[source] = target
    return mapping


def pair_noise(
    clean: np.ndarray,
    num_classes: int,
    rng: np.random.Generator,
    rate: float,
    pairs: str | Sequence[Sequence[int]] = "next",
) -> np.ndarray:
    """Return noisy labels where exactly ``round(rate · n_c)`` samples of each source class ``c``
    (chosen uniformly) take the label ``pairs[c]``; classes that are no source keep their labels.
    """
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"noise rate must be in [0, 1], got {rate}")
    noisy = clean.copy()
    for source, target in sorted(resolve_pairs(pairs, num_classes).items()):
        members = np.flatnonzero(clean == source)
        chosen = rng.permutation(members)[: exact_count(rate, len(members))]
        noisy[chosen] = target
    return noisy
