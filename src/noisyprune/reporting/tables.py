"""Numbers behind the paper-style tables: per-cell mean/std over seeds, the best pruner per column,
mean ranks across settings and the composition of each subset. Rendering lives in ``render.py``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from noisyprune.pruners.registry import REFERENCE_METHOD

# Metrics shown in the pivot tables (fractions in [0, 1], rendered as percent).
PIVOT_METRICS = (
    "test_acc_best",
    "test_acc_last",
    # the statistics published protocols report (Co-teaching+ and RDIA-LS: the last 10 epochs)
    "test_acc_mean_last10",
    "test_acc_mean_all",
    "relabel_acc_all",
    "relabel_acc_subset_noisy",
    "subset_noise_rate",
)
# Metrics where a smaller value is the better one (the best cell of a column is its minimum).
LOWER_IS_BETTER = frozenset({"subset_noise_rate"})

METRIC_TITLES = {
    "test_acc_best": "Clean test accuracy, best epoch (%)",
    "test_acc_last": "Clean test accuracy, last epoch (%)",
    "test_acc_mean_last10": "Clean test accuracy, mean of the last 10 epochs (%)",
    "test_acc_mean_all": "Clean test accuracy, mean over all epochs (%)",
    "relabel_acc_all": "Re-labeling accuracy, whole training set (%)",
    "relabel_acc_subset": "Re-labeling accuracy, kept subset (%)",
    "relabel_acc_subset_noisy": "Re-labeling accuracy, noisy part of the subset (%)",
    "subset_noise_rate": "Subset noise rate (%)",
}


@dataclass(frozen=True)
class PivotBlock:
    """One metric of one setting: ``mean``/``std``/``count`` are (method × fraction) frames in the
    metric's own unit (fractions in [0, 1]); NaN where no run exists or the metric is undefined.
    ``best`` is a boolean frame of the same shape marking the best pruner of each column."""

    metric: str
    mean: pd.DataFrame
    std: pd.DataFrame
    count: pd.DataFrame
    best: pd.DataFrame

    @property
    def methods(self) -> list[str]:
        return list(self.mean.index)

    @property
    def fractions(self) -> list[float]:
        return list(self.mean.columns)


def method_order(methods: Sequence[str]) -> list[str]:
    """Row order of every table and legend: the configured pruners, then the ``full`` reference."""
    return [m for m in methods if m != REFERENCE_METHOD] + [REFERENCE_METHOD]


def pivot_block(runs: pd.DataFrame, metric: str, methods: Sequence[str], fractions: Sequence[float]) -> PivotBlock:
    """Mean, sample std (ddof 1; NaN for one seed) and seed count of ``metric`` per method × fraction
    over the rows of ``runs`` (one setting's tidy rows). Missing runs and NaN metrics stay NaN —
    never 0 — so a table shows them as missing."""
    rows = method_order(methods)
    columns = sorted(float(f) for f in fractions)
    mean = pd.DataFrame(np.nan, index=rows, columns=columns)
    std = mean.copy()
    count = pd.DataFrame(0, index=rows, columns=columns)
    if not runs.empty and metric in runs.columns:
        for method in rows:
            mine = runs[runs["method"] == method]
            for fraction in columns:
                values = mine.loc[np.isclose(mine["fraction"], fraction), metric].astype(float).dropna()
                count.loc[method, fraction] = len(values)
                if len(values):
                    mean.loc[method, fraction] = values.mean()
                    std.loc[method, fraction] = values.std(ddof=1) if len(values) > 1 else np.nan
    return PivotBlock(metric, mean, std, count, best_cells(mean, metric))


def best_cells(mean: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Boolean frame marking, per fraction column, the pruner(s) with the best mean. The ``full``
    reference never competes, and a column with fewer than two pruners has no best."""
    best = pd.DataFrame(False, index=mean.index, columns=mean.columns)
    competitors = [m for m in mean.index if m != REFERENCE_METHOD]
    for column in mean.columns:
        values = mean.loc[competitors, column].dropna()
        if len(values) < 2:
            continue
        target = values.min() if metric in LOWER_IS_BETTER else values.max()
        # Ties share the mark; values are compared at the printed precision's scale.
        winners = values.index[np.isclose(values, target, rtol=0.0, atol=1e-12)]
        best.loc[winners, column] = True
    return best


def setting_blocks(
    runs: pd.DataFrame, methods: Sequence[str], fractions: Sequence[float], metrics: Sequence[str] = PIVOT_METRICS
) -> list[PivotBlock]:
    """One ``PivotBlock`` per metric for one setting's runs."""
    return [pivot_block(runs, metric, methods, fractions) for metric in metrics]


def class_balance(class_counts) -> dict:
    """How balanced per-class counts ``(C,)`` are: classes present, the smallest and largest class
    share, their ratio (``imbalance`` = largest / smallest count; inf when a class is absent) and
    the class entropy normalised to [0, 1] (1 = perfectly balanced)."""
    counts = np.asarray(class_counts, dtype=np.float64)
    total = counts.sum()
    shares = counts / total if total else np.full_like(counts, np.nan)
    present = shares[shares > 0]
    entropy = float(-(present * np.log(present)).sum() / np.log(len(counts))) if total and len(counts) > 1 else np.nan
    return {
        "classes_present": int((counts > 0).sum()),
        "min_class_share": float(shares.min()) if total else np.nan,
        "max_class_share": float(shares.max()) if total else np.nan,
        "imbalance": float(counts.max() / counts.min()) if counts.min() > 0 else np.inf,
        "class_entropy": entropy,
    }


def _float_or_nan(value) -> float:
    return np.nan if value is None else float(value)


def composition_row(metadata: dict) -> dict:
    """Noise rate and class balance of one subset, from its ``subset.parquet`` metadata.

    Returns the budget, the realised noise rate, the estimated noise rate of the subset and of all
    candidates, the number of classes, the balance of the (noisy)
    given labels (:func:`class_balance`) and, prefixed ``clean_``, the balance of the subset's true
    classes — a subset balanced by noisy label can still hold a true class at a few percent, which
    only the clean view shows (NaN when the clean labels are unknown)."""
    counts = np.asarray(metadata["class_counts"], dtype=np.float64)
    clean_counts = metadata.get("clean_class_counts")
    clean = class_balance(clean_counts) if clean_counts is not None else dict.fromkeys(class_balance(counts), np.nan)
    return {
        "budget": int(metadata["budget"]),
        # None (→ NaN, shown as missing) when the clean labels are unknown (intrinsic noise)
        "subset_noise_rate": np.nan if metadata["noise_rate"] is None else float(metadata["noise_rate"]),
        # the wrong-label share the warm-up's probabilities suggest, of the subset and of all
        # candidates (noisyprune.noise_estimate); NaN where the pruner read no probabilities
        **{key: _float_or_nan(metadata.get(key)) for key in ("estimated_noise_rate", "estimated_noise_rate_all")},
        "num_classes": len(counts),
        **class_balance(counts),
        **{f"clean_{key}": value for key, value in clean.items()},
    }


# Composition columns shown in percent in the human tables (shares, rates and normalised entropy),
# with the label each gets there; the rest are counts or ratios and keep their unit.
PERCENT_COLUMNS = {
    "subset_noise_rate": "noise rate (%)",
    "subset_estimated_noise_rate": "estimated noise rate (%)",
    "subset_estimated_noise_rate_all": "estimated noise rate, all (%)",
    "subset_min_class_share": "smallest class (%)",
    "subset_max_class_share": "largest class (%)",
    "subset_class_entropy": "class entropy (% of max)",
    "subset_clean_min_class_share": "true: smallest class (%)",
    "subset_clean_max_class_share": "true: largest class (%)",
    "subset_clean_class_entropy": "true: class entropy (% of max)",
    "select_coverage": "Prune4ReL coverage (%)",
    "select_picked_confidence_mean": "Prune4ReL picks' confidence (%)",
    "select_confidence_mean": "Prune4ReL confidence, all (%)",
}
OTHER_LABELS = {
    "fraction": "kept (%)",
    "subset_budget": "kept samples",
    "subset_classes_present": "classes",
    "subset_imbalance": "imbalance (largest / smallest)",
    "subset_clean_classes_present": "true: classes",
    "subset_clean_imbalance": "true: imbalance",
    "select_tau": "Prune4ReL τ",
    "select_neighbours_mean": "Prune4ReL τ-neighbours, mean",
    "select_neighbours_median": "Prune4ReL τ-neighbours, median",
    "select_picked_neighbours_mean": "Prune4ReL picks' τ-neighbours, mean",
}


def human_composition(table: pd.DataFrame) -> pd.DataFrame:
    """The composition table for people: shares, rates and entropies in percent, the kept fraction
    in percent, and an imbalance with an absent class (infinite: a class has no sample in some
    seed) as NaN, shown as missing — the classes column says how many are present."""
    human = table.copy()
    for column in PERCENT_COLUMNS:
        if column in human.columns:
            human[column] = 100.0 * human[column]
    human["fraction"] = 100.0 * human["fraction"]
    for column in ("subset_imbalance", "subset_clean_imbalance"):
        if column in human.columns:
            human[column] = human[column].replace([np.inf, -np.inf], np.nan)
    return human.rename(columns={**PERCENT_COLUMNS, **OTHER_LABELS})
