"""Which pruner won, by how much, and whether the lead is beyond seed noise.

The unit of evidence is a *paired* difference: two pruners retrained at the same seed saw the same
noisy labels and the same warm-up model, so their per-seed difference cancels what the seed did to
both. A cell is one (dataset, noise, warm-up, learner, kept fraction); in each cell the pruner with
the best mean is compared with the baseline (config ``report.baseline``, Uniform by default) and
with the runner-up. Across cells each pruner's lead over the baseline is averaged per seed (every
seed is one replicate of the whole study), so pruners are ordered by how much they gain on
average — never by mean rank alone, which can favour a pruner that wins narrowly in most cells and
loses badly in the rest.

Intervals are Student-t confidence intervals of the mean paired difference over seeds
(``scipy.stats.ttest_1samp(...).confidence_interval``): exact for normal seed noise, and honest
(very wide) for the 2–5 seeds a study can afford, where a bootstrap over seeds has too few
resamples to mean anything. A comparison *wins* when its interval lies above 0, *loses* when it
lies below, and is *tied* when it covers 0; with one seed there is no interval and no word.

Differences are in percentage points of the metric (fractions × 100).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats

from noisyprune.pruners.registry import REFERENCE_METHOD
from noisyprune.reporting.tables import LOWER_IS_BETTER, method_order

SETTING_KEYS = ("dataset", "noise", "warmup", "learner")
CELL_KEYS = (*SETTING_KEYS, "fraction")
WINS, TIED, LOSES, ONE_SEED = "wins", "tied", "loses", "one seed"


@dataclass(frozen=True)
class Comparison:
    """A paired comparison of ``method`` with ``other`` over ``seeds`` seeds: the mean per-seed
    difference (method − other, percentage points, positive = ``method`` better) and its confidence
    interval (NaN with one seed), and the word for it."""

    method: str
    other: str
    seeds: int
    difference: float
    low: float
    high: float
    word: str


def paired_comparison(method: str, other: str, differences: Sequence[float], confidence: float = 0.95) -> Comparison:
    """Compare ``method`` with ``other`` from their per-seed ``differences`` (points, method −
    other, better-is-positive): the mean, its two-sided Student-t ``confidence`` interval over the
    seeds and the word — *wins* (interval above 0), *loses* (below), *tied* (covers 0), *one seed*
    (a single difference has no interval). No seeds: NaN difference and an empty word."""
    values = np.asarray(differences, dtype=np.float64)
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return Comparison(method, other, 0, math.nan, math.nan, math.nan, "")
    mean = float(values.mean())
    if len(values) == 1:
        return Comparison(method, other, 1, mean, math.nan, math.nan, ONE_SEED)
    if np.ptp(values) == 0.0:  # identical differences: the interval is the point
        low = high = mean
    else:
        with warnings.catch_warnings():  # scipy warns about precision when differences nearly agree
            warnings.simplefilter("ignore", RuntimeWarning)
            interval = stats.ttest_1samp(values, 0.0).confidence_interval(confidence)
        low, high = float(interval.low), float(interval.high)
    return Comparison(method, other, len(values), mean, low, high, word_for(low, high))


def word_for(low: float, high: float) -> str:
    """*wins* when the interval [low, high] lies above 0, *loses* below 0, *tied* when it covers 0."""
    if low > 0.0:
        return WINS
    if high < 0.0:
        return LOSES
    return TIED


def _per_seed(runs: pd.DataFrame, metric: str) -> pd.DataFrame:
    """(cell keys + seed) × method table of ``metric`` in points, better-is-larger (a lower-is-better
    metric is negated), the ``full`` reference dropped."""
    sign = -1.0 if metric in LOWER_IS_BETTER else 1.0
    mine = runs[runs["method"] != REFERENCE_METHOD].dropna(subset=[metric])
    if mine.empty:
        return pd.DataFrame()
    values = mine.assign(_points=sign * 100.0 * mine[metric].astype(float))
    return values.pivot_table(index=[*CELL_KEYS, "seed"], columns="method", values="_points", aggfunc="mean")


def cell_verdicts(
    runs: pd.DataFrame, methods: Sequence[str], metric: str, baseline: str, confidence: float = 0.95
) -> pd.DataFrame:
    """One row per cell (dataset, noise, warm-up, learner, kept fraction): the best pruner by mean
    ``metric`` over seeds, its mean (percent), and its paired comparison with ``baseline`` and with
    the runner-up.

    ``runs``: the tidy rows (``runs.parquet``; metric as a fraction in [0, 1]). Columns: the cell
    keys, ``seeds``, ``pruners`` (how many competed), ``best``, ``best_mean``, ``runner_up``,
    ``runner_up_mean``, ``baseline``, ``baseline_mean`` (percent), and for ``vs_baseline`` and
    ``vs_runner_up`` the ``_difference``, ``_low``, ``_high`` (points) and ``_word``. When the best
    pruner is the baseline itself, the comparison with the baseline is empty (its word is
    ``is baseline``). Ties in the mean go to the pruner listed first in ``methods``."""
    per_seed = _per_seed(runs, metric)
    rows = []
    order = [m for m in method_order(methods) if m != REFERENCE_METHOD]
    if per_seed.empty:
        return pd.DataFrame(columns=list(CELL_COLUMNS))
    sign = -1.0 if metric in LOWER_IS_BETTER else 1.0
    for cell, block in per_seed.groupby(level=list(CELL_KEYS), sort=False):
        block = block.dropna(axis=1, how="all")
        means = block.mean()
        ranked = sorted(means.index, key=lambda m: (-means[m], order.index(m) if m in order else len(order)))
        best = ranked[0]
        runner_up = ranked[1] if len(ranked) > 1 else None
        row = dict(zip(CELL_KEYS, cell, strict=True))
        row |= {
            "seeds": int(block[best].notna().sum()),
            "pruners": len(ranked),
            "best": best,
            "best_mean": sign * means[best],
            "runner_up": runner_up,
            "runner_up_mean": sign * means[runner_up] if runner_up else math.nan,
            "baseline": baseline if baseline in means.index else None,
            "baseline_mean": sign * means[baseline] if baseline in means.index else math.nan,
        }
        if baseline in means.index and best != baseline:
            row |= _prefixed("vs_baseline", _compare(block, best, baseline, confidence))
        else:
            row |= _prefixed("vs_baseline", Comparison(best, baseline, 0, math.nan, math.nan, math.nan, ""))
            if best == baseline:
                row["vs_baseline_word"] = "is baseline"
        if runner_up:
            row |= _prefixed("vs_runner_up", _compare(block, best, runner_up, confidence))
        else:
            row |= _prefixed("vs_runner_up", Comparison(best, "", 0, math.nan, math.nan, math.nan, ""))
        rows.append(row)
    table = pd.DataFrame(rows, columns=list(CELL_COLUMNS))
    return table.sort_values(list(CELL_KEYS), kind="stable").reset_index(drop=True)


CELL_COLUMNS = (
    *CELL_KEYS,
    "seeds",
    "pruners",
    "best",
    "best_mean",
    "runner_up",
    "runner_up_mean",
    "baseline",
    "baseline_mean",
    *(f"{side}_{part}" for side in ("vs_baseline", "vs_runner_up") for part in ("difference", "low", "high", "word")),
)


def _compare(block: pd.DataFrame, method: str, other: str, confidence: float) -> Comparison:
    pairs = block[[method, other]].dropna()
    return paired_comparison(method, other, (pairs[method] - pairs[other]).to_numpy(), confidence)


def _prefixed(prefix: str, comparison: Comparison) -> dict:
    fields = asdict(comparison)
    return {f"{prefix}_{key}": fields[key] for key in ("difference", "low", "high", "word")}


def pruner_summary(
    runs: pd.DataFrame, methods: Sequence[str], metric: str, baseline: str, confidence: float = 0.95
) -> pd.DataFrame:
    """Each pruner across every cell it ran in: its mean ``metric`` (percent), its mean paired lead
    over ``baseline`` (points) with the interval and word, the cells it won, tied and lost against
    the baseline (each cell's own interval), its mean rank and the cells where it was best.

    The lead is averaged per seed over the cells both pruners ran in, then compared over seeds (each
    seed a replicate of the study). Sorted by that lead (the baseline itself, with a lead of 0, in
    its place), so a pruner that loses on average never heads the table; without the baseline in the
    sweep, by the mean metric. Columns: ``method``, ``cells``, ``seeds``, ``mean``,
    ``vs_baseline_difference``/``_low``/``_high``/``_word``, ``cells_won``, ``cells_tied``,
    ``cells_lost``, ``mean_rank``, ``best_in``."""
    columns = [
        "method",
        "cells",
        "seeds",
        "mean",
        "vs_baseline_difference",
        "vs_baseline_low",
        "vs_baseline_high",
        "vs_baseline_word",
        "cells_won",
        "cells_tied",
        "cells_lost",
        "mean_rank",
        "best_in",
    ]
    per_seed = _per_seed(runs, metric)
    if per_seed.empty:
        return pd.DataFrame(columns=columns)
    sign = -1.0 if metric in LOWER_IS_BETTER else 1.0
    cell_means = per_seed.groupby(level=list(CELL_KEYS)).mean()
    ranks = cell_means.rank(axis=1, ascending=False, method="average")
    records = []
    for method in [m for m in method_order(methods) if m in per_seed.columns]:
        present = cell_means[method].notna()
        record = {
            "method": method,
            "cells": int(present.sum()),
            "seeds": int(per_seed[method].dropna().index.get_level_values("seed").nunique()),
            "mean": sign * float(cell_means.loc[present, method].mean()),
            "mean_rank": float(ranks.loc[present, method].mean()),
            "best_in": int((ranks.loc[present, method] == ranks.loc[present].min(axis=1)).sum()),
        }
        won = tied = lost = 0
        if baseline in per_seed.columns and method != baseline:
            pairs = per_seed[[method, baseline]].dropna()
            lead = (pairs[method] - pairs[baseline]).groupby(level="seed").mean()
            comparison = paired_comparison(method, baseline, lead.to_numpy(), confidence)
            for _, cell in (pairs[method] - pairs[baseline]).groupby(level=list(CELL_KEYS)):
                word = paired_comparison(method, baseline, cell.to_numpy(), confidence).word
                won, tied, lost = won + (word == WINS), tied + (word == TIED), lost + (word == LOSES)
        elif method == baseline:
            comparison = Comparison(method, baseline, record["seeds"], 0.0, math.nan, math.nan, "baseline")
        else:
            comparison = Comparison(method, baseline, 0, math.nan, math.nan, math.nan, "")
        record |= _prefixed("vs_baseline", comparison)
        record |= {"cells_won": won, "cells_tied": tied, "cells_lost": lost}
        records.append(record)
    table = pd.DataFrame(records, columns=columns)
    key = "vs_baseline_difference" if baseline in per_seed.columns else "mean"
    ascending = key == "mean" and metric in LOWER_IS_BETTER
    return table.sort_values(
        [key, "method"], ascending=[ascending, True], kind="stable", na_position="last"
    ).reset_index(drop=True)


def baseline_comparisons(
    runs: pd.DataFrame, methods: Sequence[str], metric: str, baseline: str, confidence: float = 0.95
) -> pd.DataFrame:
    """Every pruner against ``baseline`` in every cell: one row per (cell, method) with the paired
    ``difference`` (points, positive = better than the baseline), its ``low``/``high`` interval,
    ``word`` and ``seeds``. Empty when the baseline is not in the runs."""
    columns = [*CELL_KEYS, "method", "seeds", "difference", "low", "high", "word"]
    per_seed = _per_seed(runs, metric)
    if per_seed.empty or baseline not in per_seed.columns:
        return pd.DataFrame(columns=columns)
    rows = []
    rivals = [m for m in method_order(methods) if m in per_seed.columns and m != baseline]
    for cell, block in per_seed.groupby(level=list(CELL_KEYS), sort=False):
        for method in rivals:
            comparison = _compare(block, method, baseline, confidence)
            if comparison.seeds:
                rows.append(
                    dict(zip(CELL_KEYS, cell, strict=True))
                    | {
                        key: getattr(comparison, key)
                        for key in ("method", "seeds", "difference", "low", "high", "word")
                    }
                )
    return pd.DataFrame(rows, columns=columns)
