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
    "relabel_acc_all",
    "relabel_acc_subset_noisy",
    "subset_noise_rate",
)
# Metrics where a smaller value is the better one (the best cell of a column is its minimum).
LOWER_IS_BETTER = frozenset({"subset_noise_rate"})

METRIC_TITLES = {
    "test_acc_best": "Clean test accuracy, best epoch (%)",
    "test_acc_last": "Clean test accuracy, last epoch (%)",
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


def ranking_table(
    runs: pd.DataFrame,
    methods: Sequence[str],
    metric: str,
    setting_keys: Sequence[str] = ("dataset", "noise", "warmup", "learner"),
) -> pd.DataFrame:
    """Mean rank of each pruner across every (setting, fraction) cell where it has a value.

    In each cell the pruners are ranked by their mean ``metric`` over seeds (rank 1 = best; ties get
    the average rank; the ``full`` reference is not ranked). Columns: ``method``, ``mean_rank``,
    ``cells`` (how many cells the pruner was ranked in), ``wins`` (cells where it ranked first) and
    ``mean`` (its mean metric over those cells, fraction in [0, 1]). Sorted by mean rank.
    """
    competitors = [m for m in method_order(methods) if m != REFERENCE_METHOD]
    columns = ["method", "mean_rank", "cells", "wins", "mean"]
    if runs.empty or metric not in runs.columns:
        return pd.DataFrame(columns=columns)
    mine = runs[runs["method"].isin(competitors)].dropna(subset=[metric])
    cell_means = mine.groupby([*setting_keys, "fraction", "method"])[metric].mean().reset_index()
    ascending = metric in LOWER_IS_BETTER
    cell_means["rank"] = cell_means.groupby([*setting_keys, "fraction"])[metric].rank(
        ascending=ascending, method="average"
    )
    records = []
    for method in competitors:
        ranked = cell_means[cell_means["method"] == method]
        if ranked.empty:
            continue
        records.append(
            {
                "method": method,
                "mean_rank": float(ranked["rank"].mean()),
                "cells": len(ranked),
                "wins": int((ranked["rank"] == 1.0).sum()),
                "mean": float(ranked[metric].mean()),
            }
        )
    table = pd.DataFrame(records, columns=columns)
    return table.sort_values(["mean_rank", "method"], kind="stable").reset_index(drop=True)


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


def composition_row(metadata: dict) -> dict:
    """Noise rate and class balance of one subset, from its ``subset.parquet`` metadata.

    Returns the budget, the realised noise rate, the number of classes, the balance of the (noisy)
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
        "num_classes": len(counts),
        **class_balance(counts),
        **{f"clean_{key}": value for key, value in clean.items()},
    }
