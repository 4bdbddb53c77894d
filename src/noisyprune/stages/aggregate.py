"""Stage 6, aggregate: one tidy row per run (``runs.parquet``/``runs.csv``), paper-style pivots per
setting, the verdict (best pruner per cell with paired intervals, and every pruner across cells),
the subset composition and the noise-detection table, each as CSV, Markdown, LaTeX and HTML
(``reporting.render``), and the verdict in sentences for the report's front page.

The tidy rows keep fractions in [0, 1] (a machine table); every table for people is in percent."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from noisyprune.artifacts import atomic_output, read_json, read_metadata, write_text
from noisyprune.reporting import render, verdict_text
from noisyprune.reporting.tables import (
    composition_row,
    human_composition,
    method_order,
    setting_blocks,
)
from noisyprune.stages.interface import Files

log = logging.getLogger(__name__)

RUN_KEYS = ("dataset", "noise", "seed", "warmup", "method", "fraction", "learner")


def _json_text(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def run_row(
    metrics_path: str, subset_path: str, timing_path: str, warmup_history_path: str, features_path: str
) -> dict[str, Any]:
    """Build the tidy row of one run from its metrics, its subset's and warm-up's metadata."""
    metrics = read_json(metrics_path)
    subset = _cached_metadata(subset_path)
    warmup = _cached_metadata(warmup_history_path)
    features = _cached_metadata(features_path)
    timing = read_json(timing_path)
    provenance = metrics["provenance"]
    env = provenance["environment"]
    row: dict[str, Any] = {key: metrics["run"][key] for key in RUN_KEYS}
    row["seed"] = int(row["seed"])
    row["fraction"] = float(row["fraction"])
    row["pruner"] = subset["method_entry"]["pruner"]
    row.update(metrics["metrics"])
    composition = composition_row(subset)
    row.update({f"subset_{key}": value for key, value in composition.items() if key != "subset_noise_rate"})
    # the pruner's own numeric diagnostics (Prune4ReL: τ-neighbourhoods, coverage, pick confidence)
    diagnostics = subset.get("diagnostics") or {}
    row.update(
        {
            f"select_{key}": float(value)
            for key, value in diagnostics.items()
            if isinstance(value, int | float) and not isinstance(value, bool)
        }
    )
    row.update(
        {
            "warmup_test_acc": warmup.get("test_acc_last"),
            "warmup_seconds": warmup.get("wall_seconds"),
            "extract_seconds": features.get("extract_seconds"),
            "select_seconds": timing.get("select_seconds"),
            "retrain_seconds": metrics["timing"]["train_seconds"],
            "seed_noise": provenance["seeds"].get("noise"),
            "seed_warmup": warmup.get("warmup_seed"),
            # a precomputed warm-up: the representation file it read, and its SHA-256
            "warmup_source": warmup.get("source_path"),
            "warmup_source_sha256": warmup.get("source_sha256"),
            "seed_select": provenance["seeds"].get("select"),
            "seed_retrain": provenance["seeds"].get("retrain"),
            "code_hash_warmup": warmup.get("code_hash"),
            "code_hash_select": subset.get("code_hash"),
            "code_hash_retrain": provenance["code_hash"],
            "package_version": env.get("package_version"),
            "torch_version": env.get("torch_version"),
            "cuda_version": env.get("cuda_version"),
            "device": env.get("device"),
            "host": env.get("host"),
            "python_version": env.get("python_version"),
            "config_dataset": _json_text(provenance["config"]["dataset"]),
            "config_noise": _json_text(provenance["config"]["noise"]),
            "config_warmup": _json_text(warmup.get("warmup_entry")),
            "config_method": _json_text(subset["method_entry"]),
            "config_learner": _json_text(provenance["config"]["learner"]),
            "config_model": _json_text(provenance["config"]["model"]),
        }
    )
    return row


@functools.cache
def _cached_metadata(path: str) -> dict[str, Any]:
    return read_metadata(path)


def runs_table(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per run, sorted by the run keys; float metrics stay fractions in [0, 1]."""
    table = pd.DataFrame(list(rows))
    if table.empty:
        return table
    return table.sort_values(list(RUN_KEYS), kind="stable").reset_index(drop=True)


def write_csv(frame: pd.DataFrame, path: str) -> None:
    """Write ``frame`` as CSV without the index, atomically."""
    with atomic_output(path) as tmp:
        frame.to_csv(tmp, index=False)


def detection_table(detection_files: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per (dataset, noise, seed, warm-up, score) with AUROC and average precision."""
    rows = []
    for entry in detection_files:
        result = read_json(entry["path"])
        for score in result["scores"]:
            rows.append(
                {
                    "dataset": entry["dataset"],
                    "noise": entry["noise"],
                    "seed": int(entry["seed"]),
                    "warmup": entry["warmup"],
                    "noise_rate": result["noise_rate"],
                    **{key: value for key, value in score.items() if key != "roc_tpr"},
                }
            )
    return pd.DataFrame(
        rows, columns=["dataset", "noise", "seed", "warmup", "noise_rate", "score", "auroc", "average_precision"]
    )


def human_detection(table: pd.DataFrame) -> pd.DataFrame:
    """The detection table for people: the noise rate, AUROC and average precision in percent (50 =
    a detector no better than chance for AUROC)."""
    return table.assign(
        **{column: 100.0 * table[column] for column in ("noise_rate", "auroc", "average_precision")}
    ).rename(
        columns={"noise_rate": "noise rate (%)", "auroc": "AUROC (%)", "average_precision": "average precision (%)"}
    )


# Columns of the subset composition table (means over seeds), from the tidy rows.
COMPOSITION_COLUMNS = (
    "subset_budget",
    "subset_noise_rate",
    # for data without clean labels (and as a check where they exist): the warm-up's estimate
    "subset_estimated_noise_rate",
    "subset_estimated_noise_rate_all",
    "subset_classes_present",
    "subset_min_class_share",
    "subset_max_class_share",
    "subset_imbalance",
    "subset_class_entropy",
    # the same by true class: what the learner really sees
    "subset_clean_classes_present",
    "subset_clean_min_class_share",
    "subset_clean_max_class_share",
    "subset_clean_imbalance",
    "subset_clean_class_entropy",
)
# Prune4ReL's selection diagnostics, shown where the sweep has such rows (NaN for other pruners).
DIAGNOSTIC_COLUMNS = (
    "select_tau",
    "select_neighbours_mean",
    "select_neighbours_median",
    "select_picked_neighbours_mean",
    "select_coverage",
    "select_picked_confidence_mean",
    "select_confidence_mean",
)


def composition_table(runs: pd.DataFrame, methods: Sequence[str]) -> pd.DataFrame:
    """Realised noise rate and class balance (by given and by true label) of each subset, with the
    pruner's selection diagnostics where the sweep has any: one row per (dataset, noise, warm-up,
    method, fraction), means over seeds (``seeds`` counts them). Subsets are shared by every learner,
    so each is counted once."""
    keys = ["dataset", "noise", "warmup", "method", "fraction"]
    # runs aggregated before a column existed (a study stored by an earlier version) lack it
    shown = [c for c in (*COMPOSITION_COLUMNS, *DIAGNOSTIC_COLUMNS) if c in runs.columns]
    columns = [*keys, "seeds", *shown]
    if runs.empty:
        return pd.DataFrame(columns=columns)
    subsets = runs.drop_duplicates([*keys, "seed"])
    table = subsets.groupby(keys)[shown].mean()
    table.insert(0, "seeds", subsets.groupby(keys)["seed"].nunique())
    table = table.reset_index()
    order = {method: index for index, method in enumerate(method_order(methods))}
    table["_order"] = table["method"].map(order)
    return (
        table.sort_values(["dataset", "noise", "warmup", "_order", "fraction"], kind="stable")
        .drop(columns="_order")
        .reset_index(drop=True)[columns]
    )


def write_table(stem: str, csv_frame: pd.DataFrame, markdown: str, latex: str, html_page: str) -> None:
    """Write one table as ``stem``.csv/.md/.tex/.html, each atomically."""
    write_csv(csv_frame, f"{stem}.csv")
    write_text(markdown, f"{stem}.md")
    write_text(latex, f"{stem}.tex")
    write_text(html_page, f"{stem}.html")


def write_frame(stem: str, frame: pd.DataFrame, title: str, float_format: str = "{:.4f}") -> None:
    """Write a plain table (no pivot) in the four formats, floats as ``float_format`` in all but CSV."""
    write_table(
        stem,
        frame,
        render.frame_markdown(frame, title, float_format),
        render.frame_latex(frame, title, float_format),
        render.frame_html(frame, title, float_format),
    )


def setting_title(setting: Mapping[str, str]) -> str:
    """Human title of one pivot: "digits · sym40 · warm-up ce · learner elr"."""
    return f"{setting['dataset']} · {setting['noise']} · warm-up {setting['warmup']} · learner {setting['learner']}"


def run_aggregate_stage(
    *,
    run_files: Sequence[Mapping[str, str]],
    detection_files: Sequence[Mapping[str, Any]],
    settings: Sequence[Mapping[str, str]],
    pivot_stems: Sequence[str],
    methods: Sequence[str],
    fractions: Sequence[float],
    rank_metric: str,
    baseline: str,
    confidence: float,
    report_intro: str,
    summary_stems: Mapping[str, str],
    outputs: Files,
) -> None:
    """Collect every run into the tidy tables (``outputs["runs"]``, ``outputs["runs_csv"]``) and
    write every derived table.

    ``run_files``: per run, the paths ``metrics``, ``subset``, ``timing``, ``warmup_history`` and
    ``features``. ``settings[i]`` (dataset, noise, warmup, learner) is written to
    ``pivot_stems[i]`` + .csv/.md/.tex/.html, the ``verdict``, ``ranking``, ``composition`` and
    ``detection`` tables to ``summary_stems[name]`` + the same. ``detection_files``: per warm-up,
    its wildcards and the ``path`` of its ``detection.json``. The verdict compares pruners by
    ``rank_metric`` against ``baseline`` with ``confidence`` intervals; its sentences, followed by
    the text of the file ``report_intro``, go to ``outputs["front_page"]`` (reStructuredText, the
    report's front page).
    """
    table = runs_table(
        [run_row(f["metrics"], f["subset"], f["timing"], f["warmup_history"], f["features"]) for f in run_files]
    )
    with atomic_output(outputs["runs"]) as tmp:
        table.to_parquet(tmp, index=False)
    write_csv(table, outputs["runs_csv"])
    write_frame(
        summary_stems["detection"],
        human_detection(detection_table(detection_files)),
        "Noise detection: AUROC and average precision of each per-sample score (noisy = positive), in percent",
        float_format="{:.2f}",
    )
    write_verdict(table, methods, rank_metric, baseline, confidence, summary_stems, outputs["front_page"], report_intro)
    write_frame(
        summary_stems["composition"],
        human_composition(composition_table(table, methods)),
        "Subset composition: realised noise rate and class balance (means over seeds, in percent)",
        float_format="{:.2f}",
    )
    for setting, stem in zip(settings, pivot_stems, strict=True):
        mine = table
        for key, value in setting.items():
            mine = mine[mine[key] == value] if not mine.empty else mine
        blocks = setting_blocks(mine, methods, fractions)
        title = setting_title(setting)
        write_table(
            stem,
            render.pivot_csv_frame(blocks),
            render.pivot_markdown(blocks, title),
            render.pivot_latex(blocks, title),
            render.pivot_html(blocks, title),
        )
    log.info("aggregated %d runs into %d pivot tables", len(table), len(settings))


def write_verdict(
    runs: pd.DataFrame,
    methods: Sequence[str],
    metric: str,
    baseline: str,
    confidence: float,
    summary_stems: Mapping[str, str],
    front_page: str,
    report_intro: str,
) -> None:
    """Write the verdict (per cell, and per pruner across cells) to ``summary_stems["verdict"]``,
    the per-pruner table alone to ``summary_stems["ranking"]``, and the front page
    (``front_page``: the verdict's sentences, then the text of ``report_intro``)."""
    verdict = verdict_text.verdict_document(runs, methods, metric, baseline, confidence)
    stem = summary_stems["verdict"]
    write_csv(verdict_text.cell_csv(verdict.cells), f"{stem}.csv")
    bullets = verdict.sentences["cells"]
    write_text(render.document_markdown(verdict.title, verdict.paragraphs, bullets, verdict.sections), f"{stem}.md")
    write_text(render.document_latex(verdict.title, verdict.sections), f"{stem}.tex")
    write_text(render.document_html(verdict.title, verdict.paragraphs, bullets, verdict.sections), f"{stem}.html")
    ranking = summary_stems["ranking"]
    title = f"Pruners across cells by {metric}: paired lead over {baseline}, then mean rank"
    overall, pruners = verdict.sentences["overall"], verdict.sections[1:2]
    write_csv(verdict_text.summary_csv(verdict.summary), f"{ranking}.csv")
    write_text(render.document_markdown(title, overall, [], pruners), f"{ranking}.md")
    write_text(render.document_latex(title, pruners), f"{ranking}.tex")
    write_text(render.document_html(title, overall, [], pruners), f"{ranking}.html")
    with open(report_intro, encoding="utf-8") as intro:
        write_text(f"{verdict.rst}\nThis study\n==========\n\n{intro.read()}", front_page)
