"""Stage 7, plot: every figure of ``results/plots/`` from the tidy runs table, the detection results
and the retrain histories (PNG and PDF each; no training, seconds)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from noisyprune.artifacts import HISTORY, read_json, read_table
from noisyprune.reporting import plots
from noisyprune.reporting.paths import curves_stem, group_stem
from noisyprune.reporting.style import method_styles
from noisyprune.reporting.verdict import baseline_comparisons
from noisyprune.stages.interface import Files

log = logging.getLogger(__name__)

# Per (dataset, warm-up): figure kind → the tidy column it plots against the kept fraction, and
# whether it depends on the learner (a subset's noise rate does not: one panel per noise).
FRACTION_PLOTS = {
    "relabel_acc": ("relabel_acc_all", True),
    "noise_rate": ("subset_noise_rate", False),
}


def history_frame(history_files: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Every retrain's ``history.parquet`` stacked, with its run's keys (``fraction`` as float)."""
    frames = []
    for entry in history_files:
        artifact = read_table(entry["path"], HISTORY)
        history = pd.DataFrame({"epoch": artifact.numpy("epoch"), "test_acc": artifact.numpy("test_acc")})
        for key in ("dataset", "noise", "warmup", "method", "learner"):
            history[key] = entry[key]
        history["seed"] = int(entry["seed"])
        history["fraction"] = float(entry["fraction"])
        frames.append(history)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def roc_curves(detection_files: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One dict per (warm-up run, score): its keys, AUROC and ROC curve (``fpr``, ``tpr`` lists)."""
    curves = []
    for entry in detection_files:
        result = read_json(entry["path"])
        for score in result["scores"]:
            curves.append(
                {key: entry[key] for key in ("dataset", "noise", "seed", "warmup")}
                | {
                    "score": score["score"],
                    # null when the samples are all clean or all noisy (no detector can be scored)
                    "auroc": np.nan if score["auroc"] is None else score["auroc"],
                    "fpr": result["roc_fpr"],
                    "tpr": [np.nan if v is None else v for v in score["roc_tpr"]],
                }
            )
    return curves


def run_plot_stage(
    *,
    inputs: Files,
    detection_files: Sequence[Mapping[str, Any]],
    history_files: Sequence[Mapping[str, Any]],
    methods: Sequence[str],
    settings: Sequence[Mapping[str, str]],
    accuracy_metric: str,
    baseline: str,
    confidence: float,
    plots_dir: str,
) -> None:
    """Write every figure under ``plots_dir`` from the tidy runs table ``inputs["runs"]``: per
    (dataset, warm-up) the accuracy, re-labeling accuracy and subset noise rate against the kept
    fraction, each pruner's paired difference to ``baseline`` (``confidence`` intervals over seeds),
    the timings and the detection ROC curves; per setting the learning curves. ``accuracy_metric`` is
    the metric of the accuracy and difference plots (config ``report.metric``)."""
    runs = pd.read_parquet(inputs["runs"])
    styles = method_styles(methods)
    curves = roc_curves(detection_files)
    histories = history_frame(history_files)
    groups = list(dict.fromkeys((s["dataset"], s["warmup"]) for s in settings))
    written = 0
    for dataset, warmup in groups:
        mine = runs[(runs["dataset"] == dataset) & (runs["warmup"] == warmup)]
        title = f"{dataset} · warm-up {warmup}"
        comparisons = baseline_comparisons(mine, methods, accuracy_metric, baseline, confidence)
        figures = {
            "difference": plots.difference_figure(comparisons, styles, baseline, accuracy_metric, title),
            "test_acc": plots.metric_vs_fraction(mine, accuracy_metric, styles, title, baseline=baseline),
        }
        for kind, (metric, by_learner) in FRACTION_PLOTS.items():
            figures[kind] = plots.metric_vs_fraction(
                mine, metric, styles, title, by_learner=by_learner, baseline=baseline
            )
        figures["timing"] = plots.timing_figure(mine, styles, title)
        figures["detection_roc"] = plots.roc_figure(
            [c for c in curves if c["dataset"] == dataset and c["warmup"] == warmup], f"{title} · noise detection"
        )
        for kind, figure in figures.items():
            stem = group_stem(plots_dir, dataset, warmup, kind)
            plots.save_figure(figure, f"{stem}.png", f"{stem}.pdf")
            written += 1
    for setting in settings:
        mine = histories
        for key, value in setting.items():
            mine = mine[mine[key] == value]
        figure = plots.learning_curves(mine, styles, " · ".join(setting.values()))
        stem = curves_stem(plots_dir, setting)
        plots.save_figure(figure, f"{stem}.png", f"{stem}.pdf")
        written += 1
    log.info("wrote %d figures (PNG + PDF) to %s", written, plots_dir)
