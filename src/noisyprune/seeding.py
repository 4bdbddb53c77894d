"""Deterministic seeds derived from a run's wildcards.

Every random draw in the workflow is seeded from the base seed of the sweep plus the names that
identify the stage (dataset, noise spec, …). Hashing the names, rather than adding offsets, keeps
seeds of different stages and runs unrelated while staying reproducible across machines.
"""

import hashlib

import numpy as np


def derive_seed(base_seed: int, *parts: object) -> int:
    """Return a 31-bit seed determined by ``base_seed`` and the ordered ``parts``.

    ``parts`` are stringified (e.g. ``"noise", "digits", "sym40"``). The result fits both
    ``numpy.random.default_rng`` and ``torch.manual_seed``.
    """
    key = "|".join([str(int(base_seed)), *map(str, parts)])
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def make_rng(seed: int) -> np.random.Generator:
    """Return a numpy ``Generator`` (PCG64) seeded with ``seed``."""
    return np.random.default_rng(seed)


# The seed of each stage. Retraining deliberately ignores the method and fraction: every subset of
# one sweep seed is trained from the same initial weights and shuffling stream, so differences
# between pruners are not blurred by initialisation noise (common random numbers).


def noise_seed(seed: int, dataset: str, noise: str) -> int:
    """Seed of the noise injection of ``(dataset, noise)`` in repetition ``seed``."""
    return derive_seed(seed, "noise", dataset, noise)


def warmup_seed(seed: int, dataset: str, noise: str, warmup: str) -> int:
    """Seed of the warm-up training (weight init and batch order)."""
    return derive_seed(seed, "warmup", dataset, noise, warmup)


def select_seed(seed: int, dataset: str, noise: str, warmup: str, method: str, fraction: str) -> int:
    """Seed of a selection (random pruners, random tie-breaking)."""
    return derive_seed(seed, "select", dataset, noise, warmup, method, fraction)


def retrain_seed(seed: int, dataset: str, noise: str, learner: str) -> int:
    """Seed of a retraining (weight init and batch order); shared by all methods and fractions."""
    return derive_seed(seed, "retrain", dataset, noise, learner)
