"""Matplotlib figures of a sweep. Each function returns a ``Figure`` (no pyplot state), so tests can
read the plotted data back from its axes; ``save_figure`` writes it as PNG and PDF.

Conventions: one panel per (noise, learner) of a dataset and warm-up; one line per pruner, styled by
``style.method_styles`` (same look in every plot); error bars are the sample std over seeds; the
``full`` reference (no pruning) is a dotted horizontal line. Values are plotted in percent."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from noisyprune.artifacts import atomic_output
from noisyprune.pruners.registry import REFERENCE_METHOD
from noisyprune.reporting.style import PALETTE, Style
from noisyprune.reporting.tables import METRIC_TITLES

PANEL_SIZE = (3.6, 2.8)  # inches per panel


def _grid(rows: int, columns: int, title: str, sharey: bool = True) -> tuple[Figure, np.ndarray]:
    figure = Figure(figsize=(PANEL_SIZE[0] * columns + 1.6, PANEL_SIZE[1] * rows + 0.6), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False, sharey=sharey)
    figure.suptitle(title)
    return figure, axes


def _legend(figure: Figure, axes: np.ndarray) -> None:
    handles, labels = {}, []
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            if label not in handles:
                handles[label] = handle
                labels.append(label)
    if handles:
        figure.legend([handles[label] for label in labels], labels, loc="outside right upper", fontsize="small")


def metric_vs_fraction(runs: pd.DataFrame, metric: str, styles: Mapping[str, Style], title: str) -> Figure:
    """``metric`` against the kept fraction, one panel per (noise, learner), one line per pruner.

    ``runs``: the tidy rows of one dataset and warm-up (columns noise, learner, method, fraction,
    seed and ``metric`` as a fraction in [0, 1]). Points are means over seeds with std error bars;
    a missing run is a gap, not a zero."""
    noises = sorted(runs["noise"].unique())
    learners = list(dict.fromkeys(runs["learner"]))
    figure, axes = _grid(len(noises), len(learners), title)
    for row, noise in enumerate(noises):
        for column, learner in enumerate(learners):
            ax = axes[row, column]
            panel = runs[(runs["noise"] == noise) & (runs["learner"] == learner)]
            _fraction_lines(ax, panel, metric, styles)
            ax.set_xticks(sorted(100.0 * runs["fraction"].unique()))
            ax.set_title(f"{noise} · {learner}", fontsize="medium")
            ax.set_xlabel("kept fraction (%)")
            if column == 0:
                ax.set_ylabel(METRIC_TITLES.get(metric, metric))
            ax.grid(alpha=0.3)
    _legend(figure, axes)
    return figure


def _fraction_lines(ax, panel: pd.DataFrame, metric: str, styles: Mapping[str, Style]) -> None:
    stats = (
        panel.dropna(subset=[metric])
        .groupby(["method", "fraction"])[metric]
        .agg(["mean", "std", "count"])
        .reset_index()
    )
    for method, style in styles.items():
        mine = stats[stats["method"] == method].sort_values("fraction")
        if mine.empty:
            continue
        x = 100.0 * mine["fraction"].to_numpy()
        y = 100.0 * mine["mean"].to_numpy()
        err = 100.0 * mine["std"].fillna(0.0).to_numpy()
        if method == REFERENCE_METHOD:
            ax.axhline(y[-1], color=style.colour, linestyle=style.linestyle, linewidth=1.2, label=method)
            ax.plot(x[-1:], y[-1:], color=style.colour, marker=style.marker, linestyle="none", markersize=7)
            continue
        ax.plot(x, y, color=style.colour, marker=style.marker, linestyle=style.linestyle, label=method, markersize=5)
        if (mine["count"] > 1).any():
            ax.errorbar(x, y, yerr=err, fmt="none", ecolor=style.colour, capsize=2, linewidth=0.8)


def timing_figure(runs: pd.DataFrame, styles: Mapping[str, Style], title: str) -> Figure:
    """Selection time and retrain time per pruner (seconds, mean over seeds, fractions, noises and
    learners, std as error bar): two bar panels, bars coloured and hatched per pruner."""
    figure, axes = _grid(1, 2, title, sharey=False)  # two different quantities
    for ax, column, label in (
        (axes[0, 0], "select_seconds", "selection time (s)"),
        (axes[0, 1], "retrain_seconds", "retrain time (s)"),
    ):
        stats = runs.groupby("method")[column].agg(["mean", "std"])
        methods = [m for m in styles if m in stats.index]
        for position, method in enumerate(methods):
            style = styles[method]
            std = stats.loc[method, "std"]
            ax.bar(
                position,
                stats.loc[method, "mean"],
                color=style.colour,
                hatch=style.hatch,
                edgecolor="black",
                linewidth=0.6,
                label=method,
                yerr=None if not math.isfinite(std) else std,
                capsize=3,
            )
        ax.set_xticks(range(len(methods)), methods, rotation=45, ha="right", fontsize="small")
        ax.set_ylabel(label)
        ax.grid(axis="y", alpha=0.3)
    return figure


def roc_figure(curves: Sequence[Mapping], title: str) -> Figure:
    """Noise-detection ROC curves, one panel per noise, one line per score (seeds averaged on the
    shared FPR grid); the legend gives each score's AUROC. ``curves``: dicts with ``noise``,
    ``seed``, ``score``, ``auroc``, ``fpr`` and ``tpr`` (lists on the same grid)."""
    frame = pd.DataFrame(list(curves))
    if frame.empty:
        # Intrinsic noise: no clean training labels, so no detector can be scored.
        figure = Figure(figsize=(PANEL_SIZE[0] + 2.4, PANEL_SIZE[1]), layout="constrained")
        figure.suptitle(title)
        ax = figure.subplots()
        ax.text(
            0.5,
            0.5,
            "no clean training labels:\nnoise detection cannot be measured",
            ha="center",
            va="center",
            transform=ax.transAxes,
        )
        ax.set_axis_off()
        return figure
    noises = sorted(frame["noise"].unique())
    figure = Figure(figsize=(PANEL_SIZE[0] * len(noises) + 2.4, PANEL_SIZE[1] + 0.8), layout="constrained")
    axes = figure.subplots(1, len(noises), squeeze=False)
    figure.suptitle(title)
    scores = list(dict.fromkeys(frame["score"]))
    palette = [PALETTE[i % len(PALETTE)] for i in range(len(scores))]
    for column, noise in enumerate(noises):
        ax = axes[0, column]
        for index, score in enumerate(scores):
            mine = frame[(frame["noise"] == noise) & (frame["score"] == score)]
            if mine.empty:
                continue
            fpr = np.asarray(mine.iloc[0]["fpr"])
            tpr = np.mean(np.stack([np.asarray(t) for t in mine["tpr"]]), axis=0)
            ax.plot(
                100 * fpr,
                100 * tpr,
                color=palette[index],
                linestyle=("-", "--", "-.", ":")[index % 4],
                label=f"{score} ({np.nanmean(mine['auroc']):.3f})",
                linewidth=1.2,
            )
        ax.plot([0, 100], [0, 100], color="#999999", linewidth=0.8, linestyle=":")
        ax.set_title(noise, fontsize="medium")
        ax.set_xlabel("clean samples flagged (FPR, %)")
        ax.set_ylabel("noisy samples found (TPR, %)")
        ax.legend(
            fontsize="x-small",
            title="score (AUROC)",
            title_fontsize="x-small",
            loc="center left",
            bbox_to_anchor=(1.02, 0.5),
        )
    return figure


def learning_curves(histories: pd.DataFrame, styles: Mapping[str, Style], title: str) -> Figure:
    """Clean test accuracy per epoch of the retrains of one (dataset, noise, warm-up, learner): one
    panel per kept fraction, one line per pruner (mean over seeds). ``histories``: rows of
    ``history.parquet`` with ``method``, ``fraction`` and ``seed`` columns added."""
    fractions = sorted(f for f in histories["fraction"].unique() if not np.isclose(f, 1.0)) or [1.0]
    figure, axes = _grid(1, len(fractions), title)
    reference = histories[histories["method"] == REFERENCE_METHOD]
    for column, fraction in enumerate(fractions):
        ax = axes[0, column]
        panel = histories[np.isclose(histories["fraction"], fraction)]
        for method, style in styles.items():
            mine = reference if method == REFERENCE_METHOD else panel[panel["method"] == method]
            if mine.empty:
                continue
            curve = mine.groupby("epoch")["test_acc"].mean()
            ax.plot(
                curve.index,
                100 * curve.to_numpy(),
                color=style.colour,
                linestyle=style.linestyle,
                marker=style.marker,
                markevery=max(1, len(curve) // 8),
                markersize=4,
                label=method,
            )
        ax.set_title(f"kept {100 * fraction:g}%", fontsize="medium")
        ax.set_xlabel("epoch")
        if column == 0:
            ax.set_ylabel("clean test accuracy (%)")
        ax.grid(alpha=0.3)
    _legend(figure, axes)
    return figure


def save_figure(figure: Figure, png_path: str, pdf_path: str) -> None:
    """Write ``figure`` to both paths (PNG at 150 dpi, vector PDF), each atomically."""
    for path, kind in ((png_path, "png"), (pdf_path, "pdf")):
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with atomic_output(path) as tmp:
            figure.savefig(tmp, format=kind, dpi=150)
