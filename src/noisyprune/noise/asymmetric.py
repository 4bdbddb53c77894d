"""Asymmetric class-pair noise: a fixed fraction of each source class is relabelled as its target."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from noisyprune.noise.base import exact_count

# CIFAR-10's map in SOP, ELR, DivideMix and Co-teaching: truck→automobile, bird→airplane,
# deer→horse, cat↔dog.
CIFAR10_PAIRS = ((9, 1), (2, 0), (4, 7), (3, 5), (5, 3))
NAMED_PAIRS = ("next", "cifar10", "superclass_next")


def resolve_pairs(pairs: str | Sequence[Sequence[int]], num_classes: int, class_groups=None) -> dict[int, int]:
    """Turn a ``pairs`` spec into a ``{source: target}`` class map.

    ``"next"`` maps every class ``i`` to ``(i + 1) mod C`` (the "pair-flip" noise); ``"cifar10"`` is
    :data:`CIFAR10_PAIRS`; ``"superclass_next"`` maps each class to the next class of its group
    (CIFAR-100: within the superclass, cyclically), which needs ``class_groups``; otherwise a list
    of ``[source, target]`` pairs.
    """
    if isinstance(pairs, str):
        if pairs == "next":
            return {c: (c + 1) % num_classes for c in range(num_classes)}
        if pairs == "cifar10":
            if num_classes != 10:
                raise ValueError(f"pairs 'cifar10' is CIFAR-10's class map; this dataset has {num_classes} classes")
            return dict(CIFAR10_PAIRS)
        if pairs == "superclass_next":
            if not class_groups:
                raise ValueError("pairs 'superclass_next' needs a dataset with class groups (e.g. cifar100)")
            return {
                group[i]: group[(i + 1) % len(group)]
                for group in class_groups
                for i in range(len(group))
                if len(group) > 1
            }
        raise ValueError(f"unknown pairs {pairs!r}; use one of {NAMED_PAIRS} or a list of [source, target]")
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
    data=None,
) -> np.ndarray:
    """Return noisy labels where exactly ``round(rate · n_c)`` samples of each source class ``c``
    (chosen uniformly) take the label ``pairs[c]``; classes that are no source keep their labels.
    """
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"noise rate must be in [0, 1], got {rate}")
    noisy = clean.copy()
    groups = getattr(data, "class_groups", None)
    for source, target in sorted(resolve_pairs(pairs, num_classes, groups).items()):
        members = np.flatnonzero(clean == source)
        chosen = rng.permutation(members)[: exact_count(rate, len(members))]
        noisy[chosen] = target
    return noisy
