"""Stage 6, aggregate: one tidy row per run (``runs.parquet``/``runs.csv``) and paper-style pivots."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from noisyprune.artifacts import atomic_output, read_json, read_metadata
from noisyprune.pruners.registry import REFERENCE_METHOD

log = logging.getLogger(__name__)

RUN_KEYS = ("dataset", "noise", "seed", "warmup", "method", "fraction", "learner")

# Metrics shown in the pivot tables, as percentages.
PIVOT_METRICS = (
    "test_acc_best",
    "test_acc_last",
    "relabel_acc_all",
    "relabel_acc_subset_noisy",
    "subset_noise_rate",
)


def _json_text(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def run_row(metrics_path: str, subset_path: str, timing_path: str, warmup_history_path: str,
            features_path: str) -> dict[str, Any]:
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
    row.update(
        {
            "warmup_test_acc": warmup.get("test_acc_last"),
            "warmup_seconds": warmup.get("wall_seconds"),
            "extract_seconds": features.get("extract_seconds"),
            "select_seconds": timing.get("select_seconds"),
            "retrain_seconds": metrics["timing"]["train_seconds"],
            "seed_noise": provenance["seeds"].get("noise"),
            "seed_warmup": warmup.get("warmup_seed"),
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


def _format_cell(values: pd.Series) -> str:
    values = values.dropna() * 100.0
    if values.empty:
        return ""
    if len(values) == 1:
        return f"{values.iloc[0]:.2f}"
    return f"{values.mean():.2f} ± {values.std(ddof=1):.2f}"


def pivot_table(runs: pd.DataFrame, methods: Sequence[str], fractions: Sequence[float]) -> pd.DataFrame:
    """Paper-style pivot of one setting's runs: rows (metric, method), columns fractions, cells
    "mean ± sample std over seeds" in percent (just the mean for one seed, empty when missing).

    ``methods`` gives the row order; the no-pruning reference ``full`` comes last.
    """
    fractions = sorted(float(f) for f in fractions)
    method_order = [*methods, REFERENCE_METHOD]
    records = []
    for metric in PIVOT_METRICS:
        for method in method_order:
            mine = runs[runs["method"] == method] if not runs.empty else runs
            if mine.empty:
                continue
            record = {"metric": metric, "method": method, "seeds": int(mine["seed"].nunique())}
            for fraction in fractions:
                cell = mine.loc[np.isclose(mine["fraction"], fraction), metric]
                record[repr(fraction)] = _format_cell(cell)
            records.append(record)
    return pd.DataFrame(records, columns=["metric", "method", "seeds", *[repr(f) for f in fractions]])


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
            rows.append({
                "dataset": entry["dataset"], "noise": entry["noise"], "seed": int(entry["seed"]),
                "warmup": entry["warmup"], "noise_rate": result["noise_rate"], **score,
            })
    return pd.DataFrame(rows, columns=["dataset", "noise", "seed", "warmup", "noise_rate", "score", "auroc",
                                       "average_precision"])


def run_aggregate_stage(
    *,
    run_files: Sequence[Mapping[str, str]],
    detection_files: Sequence[Mapping[str, Any]],
    detection_output: str,
    settings: Sequence[Mapping[str, str]],
    pivot_outputs: Sequence[str],
    methods: Sequence[str],
    fractions: Sequence[float],
    runs_parquet_output: str,
    runs_csv_output: str,
) -> None:
    """Collect every run into the tidy tables and write one pivot CSV per setting.

    ``run_files``: per run, the paths ``metrics``, ``subset``, ``timing``, ``warmup_history`` and
    ``features``. ``settings[i]`` (dataset, noise, warmup, learner) is written to ``pivot_outputs[i]``.
    ``detection_files``: per warm-up, its wildcards and the ``path`` of its ``detection.json``,
    collected into ``detection_output``.
    """
    table = runs_table(
        [
            run_row(f["metrics"], f["subset"], f["timing"], f["warmup_history"], f["features"])
            for f in run_files
        ]
    )
    with atomic_output(runs_parquet_output) as tmp:
        table.to_parquet(tmp, index=False)
    write_csv(table, runs_csv_output)
    write_csv(detection_table(detection_files), detection_output)
    for setting, output in zip(settings, pivot_outputs, strict=True):
        mine = table
        for key, value in setting.items():
            mine = mine[mine[key] == value]
        write_csv(pivot_table(mine, methods, fractions), output)
    log.info("aggregated %d runs into %d pivot tables", len(table), len(settings))
