"""Summarise a screening study's runs table (issue 20) into the tables docs/studies.md quotes.

    .venv/bin/python benchmarks/screen_summary.py RUNS.csv OUT.md

RUNS.csv is a finished run's ``results/tables/runs.csv``. OUT.md gets, per learner, the mean ± std
over seeds of the last-epoch clean test accuracy (%) for every method and kept fraction, and the
selection diagnostics that explain the ranking: the subset's share of wrong labels, the smallest
true-class share, and for Prune4ReL its τ, mean τ-neighbours and the warm-up confidence of its picks
against all samples'.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

ORDER = ["uniform", "prune4rel", "prune4rel_auto", "small_loss", "forgetting", "least_confidence", "grand"]


def _cell(values: pd.Series) -> str:
    values = values.dropna()
    if values.empty:
        return "–"
    if len(values) == 1:
        return f"{values.iloc[0]:.1f} (n=1)"
    return f"{values.mean():.1f} ± {values.std(ddof=1):.1f}"


def accuracy_table(runs: pd.DataFrame, learner: str) -> str:
    """Methods × kept fractions: last-epoch clean test accuracy (%), mean ± std over seeds."""
    subset = runs[runs["learner"] == learner]
    fractions = sorted(f for f in subset["fraction"].unique() if f < 1.0)
    full = subset[subset["fraction"] == 1.0]["test_acc_last"] * 100
    lines = [
        f"| {learner} | " + " | ".join(f"{f:.0%} kept" for f in fractions) + " |",
        "|---|" + "---|" * len(fractions),
    ]
    for method in [m for m in ORDER if m in set(subset["method"])]:
        rows = subset[subset["method"] == method]
        cells = [_cell(rows[rows["fraction"] == f]["test_acc_last"] * 100) for f in fractions]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    lines.append(f"| all samples (100%) | {_cell(full)} |" + " |" * (len(fractions) - 1))
    return "\n".join(lines)


def diagnostics_table(runs: pd.DataFrame) -> str:
    """Per method and fraction (one learner's rows: selections do not depend on the learner)."""
    selections = runs[(runs["fraction"] < 1.0)].drop_duplicates(["method", "fraction", "seed"])
    lines = [
        "| method | kept | wrong labels in subset (%) | smallest true class (% of subset) | τ | τ-neighbours (mean) "
        "| picks' confidence / all |",
        "|---|---|---|---|---|---|---|",
    ]
    for method in [m for m in ORDER if m in set(selections["method"])]:
        for fraction in sorted(selections["fraction"].unique()):
            rows = selections[(selections["method"] == method) & (selections["fraction"] == fraction)]
            if rows.empty:
                continue
            tau = rows.get("select_tau", pd.Series(dtype=float)).dropna()
            neighbours = rows.get("select_neighbours_mean", pd.Series(dtype=float)).dropna()
            picked = rows.get("select_picked_confidence_mean", pd.Series(dtype=float)).dropna()
            overall = rows.get("select_confidence_mean", pd.Series(dtype=float)).dropna()
            tau_text = f"{tau.mean():.3f}" if len(tau) else ""
            neighbours_text = f"{neighbours.mean():.1f}" if len(neighbours) else ""
            confidence_text = f"{picked.mean():.2f} / {overall.mean():.2f}" if len(picked) else ""
            lines.append(
                f"| {method} | {fraction:.0%} | {rows['subset_noise_rate'].mean() * 100:.1f} "
                f"| {rows['subset_clean_min_class_share'].mean() * 100:.1f} "
                f"| {tau_text} | {neighbours_text} | {confidence_text} |"
            )
    return "\n".join(lines)


def main(runs_path: str, output: str) -> None:
    """Write the summary of ``runs_path`` to ``output``."""
    runs = pd.read_csv(runs_path)
    dataset, noise = runs["dataset"].iloc[0], runs["noise"].iloc[0]
    seeds = sorted(runs["seed"].unique())
    parts = [
        f"# Screening study: {dataset} · {noise} · seeds {', '.join(map(str, seeds))}",
        "",
        "Last-epoch clean test accuracy (%), mean ± std over seeds (n=1: one seed had a value).",
        "",
    ]
    for learner in sorted(runs["learner"].unique()):
        parts += [accuracy_table(runs, learner), ""]
    parts += ["## Selections", "", diagnostics_table(runs), ""]
    Path(output).write_text("\n".join(parts))


if __name__ == "__main__":
    main(*sys.argv[1:])
