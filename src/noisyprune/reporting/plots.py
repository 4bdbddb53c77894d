"""Matplotlib figures of a sweep. Each function returns a ``Figure`` (no pyplot state), so tests can
read the plotted data back from its axes; ``save_figure`` writes it as PNG and PDF.

Conventions: one panel per (noise, learner) of a dataset and warm-up (per noise alone for what does
not depend on the learner, such as a subset's noise rate); one line per pruner, styled by
``style.method_styles`` (same look in every plot); error bars are the sample std over seeds; the
``full`` reference (no pruning) is a dotted horizontal line. Values are plotted in percent.

A pruner that collapsed (far below the baseline, :func:`collapsed_below`) does not set the axis: its
points are marked on the axis edge with a triangle and labelled with their value, so the leaders
stay readable."""

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
from noisyprune.reporting.tables import LOWER_IS_BETTER, METRIC_TITLES

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


def metric_vs_fraction(
    runs: pd.DataFrame,
    metric: str,
    styles: Mapping[str, Style],
    title: str,
    by_learner: bool = True,
    baseline: str | None = None,
) -> Figure:
    """``metric`` against the kept fraction, one panel per (noise, learner), one line per pruner.

    ``runs``: the tidy rows of one dataset and warm-up (columns noise, learner, method, fraction,
    seed and ``metric`` as a fraction in [0, 1]). Points are means over seeds with std error bars;
    a missing run is a gap, not a zero. ``by_learner=False``: one panel per noise, for a metric of
    the subset alone (the same for every learner, counted once). For a higher-is-better metric the
    axis starts below the ``baseline`` pruner (the median pruner without one): pruners that collapsed
    far below it are marked on the bottom edge with their value (:func:`collapsed_below`)."""
    noises = sorted(runs["noise"].unique())
    if not by_learner:
        runs = runs.drop_duplicates(["noise", "method", "fraction", "seed"])
    learners = list(dict.fromkeys(runs["learner"])) if by_learner else [None]
    figure, axes = _grid(len(noises), len(learners), title)
    for row, noise in enumerate(noises):
        for column, learner in enumerate(learners):
            ax = axes[row, column]
            panel = runs[runs["noise"] == noise]
            if learner is not None:
                panel = panel[panel["learner"] == learner]
            stats = _fraction_lines(ax, panel, metric, styles)
            ax.set_xticks(sorted(100.0 * runs["fraction"].unique()))
            ax.set_title(noise if learner is None else f"{noise} · {learner}", fontsize="medium")
            ax.set_xlabel("kept fraction (%)")
            if column == 0:
                ax.set_ylabel(METRIC_TITLES.get(metric, metric))
            ax.grid(alpha=0.3)
            if metric not in LOWER_IS_BETTER:
                _clip_collapsed(ax, stats, styles, baseline)
    _legend(figure, axes)
    return figure


def _fraction_lines(ax, panel: pd.DataFrame, metric: str, styles: Mapping[str, Style]) -> pd.DataFrame:
    """Draw one line per pruner; return the plotted statistics (method, fraction, mean, std, count;
    in percent)."""
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
    return stats.assign(
        fraction=100.0 * stats["fraction"], mean=100.0 * stats["mean"], std=100.0 * stats["std"].fillna(0.0)
    )


# A value is drawn to scale only down to this far below the baseline: the larger of a fixed number
# of points and half the distance from the baseline up to the best value shown.
COLLAPSE_MARGIN = 10.0


def collapsed_below(values: np.ndarray, anchor: float, top: float) -> np.ndarray:
    """Which ``values`` (percent or points) collapsed: those more than ``max(10, (top − anchor) / 2)``
    below ``anchor`` — the baseline's lowest mean in an accuracy panel, 0 in a difference panel —
    where ``top`` is the highest value the panel shows. Such values would squeeze the leaders into a
    sliver of the axis; they are marked at its edge instead of drawn to scale."""
    margin = max(COLLAPSE_MARGIN, 0.5 * (top - anchor))
    return np.asarray(values, dtype=np.float64) < anchor - margin


def _clip_collapsed(ax, stats: pd.DataFrame, styles: Mapping[str, Style], baseline: str | None) -> None:
    """Set the y range from the baseline up (the median pruner per fraction without one) and mark the
    collapsed points at the bottom edge with a triangle and their value."""
    pruned = stats[stats["method"] != REFERENCE_METHOD]
    if pruned.empty:
        return
    anchors = pruned[pruned["method"] == baseline] if baseline in set(pruned["method"]) else None
    anchor = (
        float(anchors["mean"].min())
        if anchors is not None
        else float(pruned.groupby("fraction")["mean"].median().min())
    )
    top = float((stats["mean"] + stats["std"]).max())
    collapsed = collapsed_below(pruned["mean"].to_numpy(), anchor, top)
    if not collapsed.any():
        return
    kept = pruned[~collapsed]
    reference = stats.loc[stats["method"] == REFERENCE_METHOD, "mean"].to_numpy()
    low = min(float((kept["mean"] - kept["std"]).min()), *reference)
    pad = 0.08 * max(top - low, 1.0)
    low, high = low - pad, top + pad
    ax.set_ylim(low, high)
    notes = []
    for fraction, points in pruned[collapsed].sort_values("mean", ascending=False).groupby("fraction"):
        for _, point in points.iterrows():
            ax.plot(  # on the bottom edge whatever limits a shared axis ends with
                [fraction],
                [0.0],
                marker="v",
                color=styles[point["method"]].colour,
                clip_on=False,
                markersize=6,
                transform=ax.get_xaxis_transform(),
            )
        shown = " · ".join(
            f"{method} {mean:.0f}" for method, mean in zip(points["method"], points["mean"], strict=True)
        )
        notes.append(f"▼ {fraction:g}%: {shown}")
    # Under the panel, so the values of the clipped points never cover the leaders' lines.
    ax.annotate(
        "\n".join(notes),
        xy=(0.0, 0.0),
        xycoords="axes fraction",
        xytext=(0, -32),
        textcoords="offset points",
        va="top",
        ha="left",
        fontsize="xx-small",
        color="#333333",
    )


def difference_figure(
    comparisons: pd.DataFrame, styles: Mapping[str, Style], baseline: str, metric: str, title: str
) -> Figure:
    """Each pruner's paired difference to ``baseline`` (points, with its interval over seeds) in one
    panel per (noise × learner) row and kept-fraction column: a forest plot, pruners top to bottom
    by their mean difference over the panels, 0 (= the baseline) a vertical line.

    ``comparisons``: ``verdict.baseline_comparisons`` of one dataset and warm-up. Collapsed pruners
    are clipped to the left edge and labelled with their difference."""
    if comparisons.empty:
        figure = Figure(figsize=(PANEL_SIZE[0] + 2.4, PANEL_SIZE[1]), layout="constrained")
        figure.suptitle(title)
        ax = figure.subplots()
        ax.text(0.5, 0.5, f"no paired runs of {baseline!r} to compare with", ha="center", va="center")
        ax.set_axis_off()
        return figure
    rows = list(dict.fromkeys(zip(comparisons["noise"], comparisons["learner"], strict=True)))
    fractions = sorted(comparisons["fraction"].unique())
    order = comparisons.groupby("method")["difference"].mean().sort_values(ascending=False).index.tolist()
    figure, axes = _grid(len(rows), len(fractions), title)
    for r, (noise, learner) in enumerate(rows):
        for c, fraction in enumerate(fractions):
            ax = axes[r, c]
            panel = comparisons[
                (comparisons["noise"] == noise)
                & (comparisons["learner"] == learner)
                & (comparisons["fraction"] == fraction)
            ].set_index("method")
            _forest(ax, panel, order, styles)
            ax.set_title(f"{noise} · {learner} · kept {100 * fraction:g}%", fontsize="medium")
            ax.set_xlabel(f"vs {baseline} (points)")
            ax.grid(axis="x", alpha=0.3)
        axes[r, 0].set_yticks(range(len(order)), order, fontsize="small")
        axes[r, 0].set_ylim(len(order) - 0.5, -0.5)  # the best on top
    figure.supxlabel(
        f"{METRIC_TITLES.get(metric, metric).replace(' (%)', '')}: paired difference, mean and interval over seeds",
        fontsize="small",
    )
    return figure


def _forest(ax, panel: pd.DataFrame, order: Sequence[str], styles: Mapping[str, Style]) -> None:
    ax.axvline(0.0, color=styles.get(REFERENCE_METHOD, Style("#555555", "*", ":", "")).colour, linewidth=1.0)
    present = [m for m in order if m in panel.index]
    if not present:
        return
    means = panel.loc[present, "difference"].to_numpy(dtype=np.float64)
    lows = panel.loc[present, "low"].to_numpy(dtype=np.float64)
    highs = panel.loc[present, "high"].to_numpy(dtype=np.float64)
    tops = np.where(np.isfinite(highs), highs, means)
    collapsed = collapsed_below(means, 0.0, max(float(tops.max()), 0.0))
    for method, mean, low, high, gone in zip(present, means, lows, highs, collapsed, strict=True):
        style, y = styles[method], order.index(method)
        if gone:
            continue
        xerr = None if not np.isfinite(low) else [[mean - low], [high - mean]]
        ax.errorbar([mean], [y], xerr=xerr, fmt=style.marker, color=style.colour, capsize=2, markersize=5, label=method)
    if collapsed.any():
        shown = ~collapsed
        left = float(np.nanmin(np.concatenate([np.where(np.isfinite(lows), lows, means)[shown], [0.0]])))
        right = float(np.nanmax(np.concatenate([np.where(np.isfinite(highs), highs, means)[shown], [0.0]])))
        pad = 0.08 * max(right - left, 1.0)
        ax.set_xlim(left - pad, right + pad)
        for method, mean in zip(np.asarray(present)[collapsed], means[collapsed], strict=True):
            style, y = styles[method], order.index(method)
            ax.plot([left - pad], [y], marker="<", color=style.colour, clip_on=False, markersize=6)
            ax.annotate(
                f"{mean:+.0f}".replace("-", "−"),
                xy=(left - pad, y),
                xytext=(6, -3),
                textcoords="offset points",
                fontsize="xx-small",
                color=style.colour,
            )


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
