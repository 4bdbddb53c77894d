"""Asymmetric class-pair noise: samples of each source class are relabelled as its target class.

Which classes map where is ``pairs``; how many samples flip, and which, is ``realisation`` — the
originals differ there, and published numbers need their own convention (docs/methods.md#asymmetric):

======================  ===============================  ===================================
paper's code            CIFAR-10                         CIFAR-100
======================  ===============================  ===================================
ELR                     ``cifar10`` + ``in_place``       ``block5_next`` + ``per_sample``
SOP                     ``cifar10`` + ``in_place``       ``block5_random_pair`` + ``per_sample``
DivideMix               ``cifar10`` + ``global``         (none: its map has no CIFAR-100 classes)
IEG                     ``cifar10`` + ``per_sample``     (none: asymmetric noise on CIFAR-10 only)
noisyprune's default    ``exact``: ``round(rate · n_c)`` of each source class, chosen uniformly
======================  ===============================  ===================================
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from noisyprune.noise.base import exact_count
from noisyprune.params import declare, param

# CIFAR-10's map in SOP, ELR, DivideMix and Co-teaching: truck→automobile, bird→airplane,
# deer→horse, cat↔dog.
CIFAR10_PAIRS = ((9, 1), (2, 0), (4, 7), (3, 5), (5, 3))
NAMED_PAIRS = ("next", "cifar10", "superclass_next", "block5_next", "block5_random_pair")
REALISATIONS = ("exact", "in_place", "per_sample", "global")
BLOCK = 5  # ELR's and SOP's CIFAR-100 "superclasses": blocks of 5 consecutive class ids


def next_in_group(groups: Sequence[Sequence[int]]) -> dict[int, int]:
    """Each class of each group (of two or more) → the next class of its group, cyclically."""
    return {group[i]: group[(i + 1) % len(group)] for group in groups for i in range(len(group)) if len(group) > 1}


def resolve_pairs(
    pairs: str | Sequence[Sequence[int]],
    num_classes: int,
    class_groups=None,
    rng: np.random.Generator | None = None,
) -> dict[int, int]:
    """Turn a ``pairs`` spec into a ``{source: target}`` class map.

    ``"next"`` maps every class ``i`` to ``(i + 1) mod C`` (the "pair-flip" noise); ``"cifar10"`` is
    :data:`CIFAR10_PAIRS`; ``"superclass_next"`` maps each class to the next class of its group
    (CIFAR-100: within the superclass, cyclically), which needs ``class_groups``;
    ``"block5_next"`` maps each class to the next one within its block of 5 consecutive ids,
    cyclically (ELR's CIFAR-100 ``build_for_cifar100``); ``"block5_random_pair"`` swaps one pair of
    distinct classes drawn with ``rng`` in each block and leaves the other 3 clean (SOP's
    ``build_for_cifar100``, whose ``np.random.choice(range(5), size=2, replace=False)`` also draws
    two distinct classes, from numpy's global generator); otherwise a list of ``[source, target]``
    pairs.
    """
    if pairs in ("block5_next", "block5_random_pair"):
        if num_classes % BLOCK:
            raise ValueError(f"pairs {pairs!r} needs a multiple of {BLOCK} classes; this dataset has {num_classes}")
        blocks = [tuple(range(start, start + BLOCK)) for start in range(0, num_classes, BLOCK)]
        if pairs == "block5_next":
            return next_in_group(blocks)
        if rng is None:
            raise ValueError("pairs 'block5_random_pair' draws its pairs: pass rng")
        mapping = {}
        for block in blocks:
            first, second = (block[int(c)] for c in rng.choice(BLOCK, size=2, replace=False))
            mapping.update({first: second, second: first})
        return mapping
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
            return next_in_group(class_groups)
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


@declare(
    param(
        "rate",
        "In [0, 1]: the share of each source class relabelled as its target (how many and which: `realisation`).",
        type="number",
        minimum=0,
        maximum=1,
    ),
    param(
        "pairs",
        (
            "`next` maps class i to i + 1 mod C; `cifar10` is CIFAR-10's map in SOP, ELR and DivideMix "
            "(truck→automobile, bird→airplane, deer→horse, cat↔dog); `superclass_next` maps each CIFAR-100 class to "
            "the next class of its superclass (cyclically); `block5_next` maps each class to the next one within its "
            "block of 5 consecutive ids (ELR's CIFAR-100); `block5_random_pair` swaps one randomly drawn pair per "
            "block of 5 and leaves the other 3 classes clean (SOP's CIFAR-100); or a list of `[source, target]` "
            "pairs."
        ),
        oneOf=[
            {"enum": ["next", "cifar10", "superclass_next", "block5_next", "block5_random_pair"]},
            {
                "type": "array",
                "minItems": 1,
                "items": {"type": "array", "minItems": 2, "maxItems": 2, "items": {"type": "integer", "minimum": 0}},
            },
        ],
    ),
    param(
        "realisation",
        (
            "Which samples flip. `exact`: exactly `round(rate · n_c)` of each source class. `in_place`: class by "
            "class in id order on the labels flipped so far, the first `j < rate · n` of each class's shuffled "
            "members (ELR's and SOP's CIFAR-10: cats flipped to dog can flip back, so about 24% of cats end up wrong "
            "at rate 0.4). `per_sample`: every sample of a source class flips with probability `rate` (ELR's and "
            "SOP's CIFAR-100). `global`: `int(rate · N)` samples drawn from the whole set take their class's target "
            "(DivideMix; samples of non-source classes stay clean, so about `rate / 2` flip on CIFAR-10). The papers'"
            " conventions: ELR CIFAR-10 `cifar10` + `in_place`, CIFAR-100 `block5_next` + `per_sample`; SOP CIFAR-10 "
            "the same, CIFAR-100 `block5_random_pair` + `per_sample`; DivideMix CIFAR-10 `cifar10` + `global`; IEG "
            "CIFAR-10 `cifar10` + `per_sample`."
        ),
        choices=REALISATIONS,
    ),
)
def pair_noise(
    clean: np.ndarray,
    num_classes: int,
    rng: np.random.Generator,
    rate: float,
    pairs: str | Sequence[Sequence[int]] = "next",
    realisation: str = "exact",
    data=None,
) -> np.ndarray:
    """Return noisy labels under the class map ``pairs`` (:func:`resolve_pairs`); classes that are
    no source keep their labels. ``realisation`` says which samples flip:

    - ``exact``: exactly ``round(rate · n_c)`` samples of each source class ``c``, chosen uniformly;
    - ``in_place`` (ELR's and SOP's CIFAR-10): classes in id order, each on the labels as flipped
      so far — the first ``j < rate · n`` of its shuffled current members take the target — so a
      cat flipped to dog can be flipped back (at rate 0.4 about 24% of cats end up wrong);
    - ``per_sample`` (ELR's and SOP's CIFAR-100 ``multiclass_noisify``): every sample of a source
      class flips independently with probability ``rate``;
    - ``global`` (DivideMix): ``int(rate · N)`` samples drawn from the whole set take their class's
      target, from the clean labels (samples of classes that are no source stay clean, so about
      ``rate · N · (share of source classes)`` flip).
    """
    noisy = clean.copy()
    mapping = resolve_pairs(pairs, num_classes, getattr(data, "class_groups", None), rng)
    if realisation == "global":
        chosen = rng.permutation(len(clean))[: int(rate * len(clean))]
        noisy[chosen] = [mapping.get(int(label), int(label)) for label in clean[chosen]]
        return noisy
    for source, target in sorted(mapping.items()):
        members = np.flatnonzero((noisy if realisation == "in_place" else clean) == source)
        if realisation == "exact":
            chosen = rng.permutation(members)[: exact_count(rate, len(members))]
        elif realisation == "in_place":
            chosen = rng.permutation(members)[np.arange(len(members)) < rate * len(members)]
        else:  # per_sample
            chosen = members[rng.random(len(members)) < rate]
        noisy[chosen] = target
    return noisy
