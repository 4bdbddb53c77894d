"""The check after a selection: does the kept subset hold a larger share of wrong labels than its
input? Some pruners keep such subsets by design (Prune4ReL keeps what a re-labeling learner can
correct, not clean samples); the user is told so, in the words the pruner declares (``keeps``), and
which registered methods keep clean samples instead (``keeps_clean``)."""

from __future__ import annotations

import math


class NoisierSubsetWarning(UserWarning):
    """A pruner kept a subset with a larger share of wrong labels (true or estimated) than its input."""


def share_tolerance(all_share: float, budget: int, num_candidates: int) -> float:
    """How much larger than ``all_share`` (a fraction of wrong labels among ``num_candidates``) the
    share among ``budget`` kept samples may be before the subset counts as noisier: the larger of
    one sample (``1 / budget``) and two standard deviations of the share in a uniformly random
    subset of the same size (hypergeometric: ``√(s(1 − s)/b · (n − b)/(n − 1))``), so that a
    random subset is called noisier only about 2.5% of the time."""
    if num_candidates > 1:
        finite = (num_candidates - budget) / (num_candidates - 1)
        spread = math.sqrt(max(all_share * (1.0 - all_share), 0.0) / budget * finite)
    else:
        spread = 0.0
    return max(1.0 / budget, 2.0 * spread)


def is_noisier(kept_share: float | None, all_share: float | None, budget: int, num_candidates: int) -> bool:
    """True when ``kept_share`` exceeds ``all_share`` by more than :func:`share_tolerance`; False
    when either share is unknown (``None`` or NaN)."""
    if kept_share is None or all_share is None or math.isnan(kept_share) or math.isnan(all_share):
        return False
    return kept_share - all_share > share_tolerance(all_share, budget, num_candidates)


def clean_keeping_methods() -> list[str]:
    """The registered method names whose pruner declares ``keeps_clean`` (designed to keep
    correctly labelled samples, no re-labeling learner needed), sorted by name."""
    from noisyprune.pruners.registry import PRUNERS

    return [name for name in PRUNERS.names() if getattr(PRUNERS.get(name), "keeps_clean", False)]


def noisier_message(
    method: str, pruner, kept_share: float, all_share: float, budget: int, num_candidates: int, source: str
) -> str:
    """The warning text: ``method`` (its ``pruner`` instance or class) kept ``kept_share`` wrong
    labels against ``all_share`` in its input (``source``: ``true`` or ``estimated``), what the
    method keeps, and which methods keep clean samples instead."""
    from noisyprune.pruners.base import Pruner

    tolerance = share_tolerance(all_share, budget, num_candidates)
    keeps = getattr(pruner, "keeps", Pruner.keeps)  # a plugin's pruner need not subclass Pruner
    alternatives = [name for name in clean_keeping_methods() if name != method]
    text = (
        f"{method} kept a subset with more wrong labels than its input: {kept_share:.1%} of the {budget} kept "
        f"against {all_share:.1%} of all {num_candidates} ({source} shares; tolerance {tolerance:.1%}). "
        f"{method} keeps {keeps}."
    )
    if alternatives and not getattr(pruner, "keeps_clean", False):
        text += f" For a subset with fewer wrong labels without a re-labeling learner, use {' or '.join(alternatives)}."
    return text
