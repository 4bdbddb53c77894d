"""How many samples to keep, and the class-balance mechanism shared by every score-based pruner."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np

BALANCE_MODES = ("none", "proportional", "equal")


def budget_for(fraction: float, num_candidates: int) -> int:
    """Number of samples kept at ``fraction`` of ``num_candidates``: ``round(fraction · n)``, halves
    rounded up, at least 1 (if there is any candidate) and at most ``n``."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    if num_candidates == 0:
        return 0
    return int(min(num_candidates, max(1, np.floor(fraction * num_candidates + 0.5))))


def proportional_quotas(class_sizes: np.ndarray, budget: int) -> np.ndarray:
    """Per-class quotas proportional to ``class_sizes`` summing to ``budget`` (largest remainder;
    ties go to the lower class index)."""
    total = class_sizes.sum()
    exact = budget * class_sizes / total
    quotas = np.floor(exact).astype(np.int64)
    remainder = exact - quotas
    order = np.lexsort((np.arange(len(class_sizes)), -remainder))
    quotas[order[: budget - quotas.sum()]] += 1
    return quotas


def equal_quotas(class_sizes: np.ndarray, budget: int) -> np.ndarray:
    """Per-class quotas as equal as the class sizes allow (water-filling: a class smaller than its
    share gives the surplus to the others). The sum can fall short of ``budget`` by less than the
    number of classes that still have samples; :func:`select_by_score` fills that from the global
    order, like Prune4ReL's fall-back to global picks once the round-robin cannot continue."""
    quotas = np.zeros_like(class_sizes)
    remaining = budget
    open_classes = np.flatnonzero(class_sizes > 0)
    while remaining > 0 and len(open_classes):
        share = remaining // len(open_classes)
        if share == 0:
            break
        take = np.minimum(share, class_sizes[open_classes] - quotas[open_classes])
        quotas[open_classes] += take
        remaining -= int(take.sum())
        open_classes = open_classes[quotas[open_classes] < class_sizes[open_classes]]
    return quotas


def class_quotas(labels: np.ndarray, num_classes: int, budget: int, balance: str) -> np.ndarray | None:
    """Per-class quotas ``(C,)`` of ``budget`` over noisy-label classes under ``balance``
    (``None`` for ``none``): ``proportional`` or ``equal`` (:func:`equal_quotas`)."""
    if balance == "none":
        return None
    if balance not in BALANCE_MODES:
        raise ValueError(f"unknown balance {balance!r}; use one of {BALANCE_MODES}")
    sizes = np.bincount(labels, minlength=num_classes)
    return (proportional_quotas if balance == "proportional" else equal_quotas)(sizes, budget)


def within_quota(order: np.ndarray, labels: np.ndarray, quotas: np.ndarray) -> np.ndarray:
    """Mask over ``order`` (positions, best first): the first ``quotas[c]`` entries of each class ``c``."""
    ordered = labels[order]
    rank_in_class = np.empty(len(order), dtype=np.int64)
    for label in np.unique(ordered):
        members = ordered == label
        rank_in_class[members] = np.arange(members.sum())
    return rank_in_class < quotas[ordered]


def select_by_score(
    scores: np.ndarray,
    keep: Literal["low", "high"],
    budget: int,
    labels: np.ndarray,
    num_classes: int,
    balance: str = "none",
) -> np.ndarray:
    """Return the positions of the ``budget`` best candidates, best first.

    ``scores`` ``(n,)``: ``keep="low"`` prefers small scores, ``"high"`` large ones; ties go to the
    lower position (candidates are sorted by sample id, so results do not depend on file order).
    ``balance``: ``none`` (global top-k), ``proportional`` (each noisy-label class keeps its share of
    the budget) or ``equal`` (each class keeps the same number where it can).
    """
    n = len(scores)
    if keep not in ("low", "high"):
        raise ValueError(f"keep must be 'low' or 'high', got {keep!r}")
    budget = min(budget, n)
    key = scores if keep == "low" else -scores
    order = np.lexsort((np.arange(n), key))  # global preference order, best first
    quotas = class_quotas(labels, num_classes, budget, balance)
    if quotas is None or budget == n:
        return order[:budget]
    chosen = within_quota(order, labels, quotas)
    shortfall = budget - int(chosen.sum())
    if shortfall > 0:
        chosen[np.flatnonzero(~chosen)[:shortfall]] = True
    return order[chosen]


def class_members(labels: np.ndarray, num_classes: int) -> list[np.ndarray]:
    """Positions of each class's samples, ascending, for classes ``0..C−1``."""
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(num_classes + 1))
    return [order[bounds[c] : bounds[c + 1]] for c in range(num_classes)]


def select_per_class(
    choose: Callable[[np.ndarray, int], np.ndarray],
    labels: np.ndarray,
    num_classes: int,
    budget: int,
    balance: str,
) -> np.ndarray:
    """Apply a selector class by class under the shared balance quotas.

    ``choose(positions, k)`` returns ``k`` of the candidate ``positions`` (best first). With
    ``balance: none`` it runs once on all candidates; otherwise once per class with the class's
    quota, and, for ``equal``, once more on the leftovers to fill the shortfall. Classes are
    concatenated in class order.
    """
    n = len(labels)
    quotas = class_quotas(labels, num_classes, budget, balance)
    if quotas is None or budget >= n:
        return choose(np.arange(n), min(budget, n))
    members = class_members(labels, num_classes)
    chosen = [choose(members[c], int(quotas[c])) for c in range(num_classes) if quotas[c]]
    chosen = np.concatenate(chosen) if chosen else np.zeros(0, dtype=np.int64)
    shortfall = budget - len(chosen)
    if shortfall > 0:
        rest = np.setdiff1d(np.arange(n), chosen)
        chosen = np.concatenate([chosen, choose(rest, shortfall)])
    return chosen
