"""How many samples to keep, and the class-balance mechanism shared by every score-based pruner."""

from __future__ import annotations

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
    if balance == "none" or budget == n:
        return order[:budget]
    if balance not in BALANCE_MODES:
        raise ValueError(f"unknown balance {balance!r}; use one of {BALANCE_MODES}")
    class_sizes = np.bincount(labels, minlength=num_classes)
    quotas = (proportional_quotas if balance == "proportional" else equal_quotas)(class_sizes, budget)
    ordered_labels = labels[order]
    # The k-th best sample of its class is kept if k < its class quota.
    rank_in_class = np.empty(n, dtype=np.int64)
    for label in range(num_classes):
        members = ordered_labels == label
        rank_in_class[members] = np.arange(members.sum())
    chosen = rank_in_class < quotas[ordered_labels]
    shortfall = budget - int(chosen.sum())
    if shortfall > 0:
        chosen[np.flatnonzero(~chosen)[:shortfall]] = True
    return order[chosen]
