"""Active-learning rounds: the pool of round r (initial, or round r−1's pool plus its query), the
learner trained on it (test accuracy, predictions for every training sample) and the query it
makes. One Snakemake job each, so more rounds reuse the finished ones."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from noisyprune import __version__
from noisyprune.active import acquisition_order, initial_pool
from noisyprune.artifacts import (
    FEATURES,
    HISTORY,
    POOL,
    QUERY,
    Artifact,
    atomic_output,
    read_json,
    read_table,
    write_table,
)
from noisyprune.derived_scores import feature_columns
from noisyprune.errors import ArtifactError
from noisyprune.metrics import test_accuracy_summary
from noisyprune.reporting import render
from noisyprune.seeding import derive_seed, make_rng
from noisyprune.stages.common import NoisyLabels, aligned_features, load_labels
from noisyprune.stages.interface import Compute, Files, Run, TrainingEntries
from noisyprune.stages.metrics_file import write_metrics_file
from noisyprune.stages.model_job import open_model_job, training_job
from noisyprune.training.data import device_inputs
from noisyprune.training.inference import embed_and_classify
from noisyprune.training.run import train_on_samples

log = logging.getLogger(__name__)


def pool_labels(labels: NoisyLabels, source: str, path: str) -> np.ndarray:
    """The label a queried sample receives, ``(n,)``: its noisy label, or its clean one with
    ``source: clean`` (an oracle annotator; refused when the clean labels are unknown)."""
    if source == "noisy":
        return labels.noisy
    if not labels.clean_known:
        raise ArtifactError(f"{path}: no clean training labels (intrinsic noise), so queries cannot return them")
    return labels.clean


def _pool_noise_rate(labels: NoisyLabels, positions: np.ndarray, given: np.ndarray) -> float:
    """Share of pool samples whose label differs from the clean one (NaN if unknown)."""
    if not labels.clean_known or not len(positions):
        return float("nan")
    return float((given[positions] != labels.clean[positions]).mean())


def run_active_pool_stage(*, run: Run, inputs: Files, outputs: Files, entry: Mapping[str, Any]) -> None:
    """Write round ``run.round``'s ``outputs["pool"]`` (``pool.parquet``): round 0 draws the initial
    pool from ``inputs["labels"]`` (seeded, optionally class-balanced by the label the pool would
    receive); round r adds round r−1's query (``inputs["query"]``) to its pool (``inputs["pool"]``).
    Columns: ``sample_id``, ``joined_round``, ``label``."""
    labels_path, output = inputs["labels"], outputs["pool"]
    labels = load_labels(labels_path)
    given = pool_labels(labels, entry["labels"], labels_path)
    if run.round == 0:
        sample_id, joined = initial_pool_ids(run, entry, labels, given)
    else:
        sample_id, joined = grown_pool_ids(inputs["pool"], inputs["query"], run.round)
    positions = np.searchsorted(labels.sample_id, sample_id)
    if not np.array_equal(labels.sample_id[np.minimum(positions, len(labels.sample_id) - 1)], sample_id):
        raise ArtifactError(f"{output}: pool names sample ids absent from {labels_path}")
    noise_rate = _pool_noise_rate(labels, positions, given)
    log.info("%s round %d: pool of %d samples, noise rate %.4f", run.experiment, run.round, len(sample_id), noise_rate)
    write_table(
        {"sample_id": sample_id, "joined_round": joined, "label": given[positions]},
        output,
        POOL,
        metadata={
            "experiment": run.experiment,
            "entry": dict(entry),
            "round": run.round,
            "size": len(sample_id),
            "num_classes": labels.num_classes,
            "label_source": entry["labels"],
            "noise_rate": noise_rate,
            "class_counts": np.bincount(given[positions], minlength=labels.num_classes).tolist(),
            "package_version": __version__,
        },
    )


def initial_pool_ids(
    run: Run, entry: Mapping[str, Any], labels: NoisyLabels, given: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Round 0's pool: its sample ids ``(m,)`` (sorted) and the round each joined (all 0)."""
    # Seeded by what defines the pool, not by the experiment: experiments that differ only in
    # acquisition or learner start from the same pool (common random numbers), as comparisons want.
    seed = derive_seed(
        run.seed, "active-pool", run.dataset, run.noise, entry["initial"], entry["initial_balance"], entry["labels"]
    )
    rows = labels.training_rows  # a clean probe set is never pooled or queried
    positions = rows[
        initial_pool(given[rows], entry["initial"], labels.num_classes, entry["initial_balance"], make_rng(seed))
    ]
    return labels.sample_id[positions], np.zeros(len(positions), dtype=np.int64)


def grown_pool_ids(
    previous_pool_path: str, previous_query_path: str, round_index: int
) -> tuple[np.ndarray, np.ndarray]:
    """Round ``round_index``'s pool: the previous pool plus the previous round's query, as sample
    ids ``(m,)`` sorted and the round each joined; a query of pooled samples is refused."""
    previous = read_table(previous_pool_path, POOL)
    query = read_table(previous_query_path, QUERY)
    new = query.numpy("sample_id")
    overlap = np.intersect1d(previous.numpy("sample_id"), new)
    if len(overlap):
        raise ArtifactError(f"{previous_query_path}: re-queries {len(overlap)} pooled samples, e.g. {overlap[0]}")
    sample_id = np.concatenate([previous.numpy("sample_id"), new])
    joined = np.concatenate([previous.numpy("joined_round"), np.full(len(new), round_index, dtype=np.int64)])
    order = np.argsort(sample_id, kind="stable")
    return sample_id[order], joined[order]


def run_active_train_stage(
    *,
    run: Run,
    inputs: Files,
    outputs: Files,
    entry: Mapping[str, Any],
    training: TrainingEntries,
    compute: Compute,
    code_hash: str,
) -> None:
    """Train the experiment's learner (``training.trainer``) from scratch on round ``run.round``'s
    pool (``inputs["pool"]``, its labels), test on the clean test split, and write the trained
    model's predictions for every training sample (``outputs["predictions"]``, ``features.parquet``
    layout: probabilities, embedding, confidences) for the query, with ``outputs["history"]`` and
    ``outputs["metrics"]``."""
    total_start = time.perf_counter()
    torch_device, data, labels = open_model_job(run, inputs["labels"], training.dataset, compute)
    pool = read_table(inputs["pool"], POOL)
    pooled = pool.numpy("sample_id")
    given = labels.noisy.copy()
    given[pooled] = pool.numpy("label")  # sample ids are positions (load_labels checked them)
    # The same initial weights and batch stream in every round and experiment (common random numbers).
    seed = derive_seed(run.seed, "active-train", run.dataset, run.noise, entry["learner"])
    job = training_job(training, seed, compute)
    result = train_on_samples(job, data, given, pooled, torch_device)
    write_predictions(outputs["predictions"], run, result, data, labels, training.model, compute, torch_device)
    history = result.history.columns()
    write_table(history, outputs["history"], HISTORY, metadata={"learner": job.learner})
    metrics = round_metrics(pool, history)
    log.info(
        "%s round %d: %d labelled, test accuracy %.4f", run.experiment, run.round, len(pooled), metrics["test_acc_last"]
    )
    entries = {"experiment": entry, "dataset": training.dataset, "learner": training.trainer, "model": training.model}
    provenance = round_provenance(run, entries, labels, seed)
    write_metrics_file(outputs["metrics"], run, metrics, provenance, result, total_start, torch_device, code_hash)


def round_metrics(pool: Artifact, history: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """The ``metrics`` block of a round's ``metrics.json``: pool size, test accuracy, the pool's
    noise rate and how many classes it holds."""
    return {
        "labelled": len(pool.numpy("sample_id")),
        **test_accuracy_summary(history["epoch"], history["test_acc"]),
        "pool_noise_rate": pool.metadata["noise_rate"],
        "pool_classes_present": int((np.asarray(pool.metadata["class_counts"]) > 0).sum()),
    }


def round_provenance(
    run: Run, entries: Mapping[str, Mapping[str, Any]], labels: NoisyLabels, train_seed: int
) -> dict[str, Any]:
    """The ``provenance`` block of a round's ``metrics.json`` but its code hash and environment:
    the config ``entries`` (experiment, dataset, learner, model), the noise entry and the seeds."""
    return {
        "config": {
            **{name: dict(value) for name, value in entries.items()},
            "noise": labels.metadata.get("noise_entry"),
        },
        "seeds": {"base": run.seed, "noise": labels.metadata.get("noise_seed"), "train": train_seed},
    }


def write_predictions(
    path: str, run: Run, result, data, labels: NoisyLabels, model_entry: Mapping[str, Any], compute: Compute, device
) -> None:
    """Write the trained learner's prediction for every training sample to ``path`` (the
    ``features.parquet`` layout; the learner's own logits, both networks for DivideMix / ELR+, and
    the embeddings of network 1)."""
    x = device_inputs(data.train_x, labels.sample_id, device)
    logits = result.learner.predict_logits(result.ctx, x, compute.inference_batch_size)
    _, embeddings = embed_and_classify(result.ctx.model, x, compute.inference_batch_size)
    write_table(
        feature_columns(labels.sample_id, labels.noisy, logits, embeddings),
        path,
        FEATURES,
        metadata={
            "num_classes": data.num_classes,
            "embedding_dim": int(embeddings.shape[1]),
            "model": dict(model_entry),
            "experiment": run.experiment,
            "round": run.round,
        },
    )


def run_active_query_stage(*, run: Run, inputs: Files, outputs: Files, entry: Mapping[str, Any]) -> None:
    """Score every sample not in round ``run.round``'s pool (``inputs["pool"]``) with the round's
    model (``inputs["predictions"]``) and write the ``query`` best by the acquisition function to
    ``outputs["query"]`` (``query.parquet``: ``sample_id``, ``rank``, ``score``)."""
    labels_path = inputs["labels"]
    labels = load_labels(labels_path)
    pooled = read_table(inputs["pool"], POOL).numpy("sample_id")
    predictions = aligned_features(inputs["predictions"], labels.sample_id, labels_path)
    candidates = np.setdiff1d(labels.training_ids, pooled)  # sorted; never the clean probe set
    rows = np.searchsorted(labels.sample_id, candidates)
    seed = derive_seed(run.seed, "active-query", run.dataset, run.noise, run.experiment, run.round)
    start = time.perf_counter()
    positions, scores = acquisition_order(
        entry["acquisition"],
        predictions.numpy("probs")[rows],
        entry["query"],
        make_rng(seed),
        embedding=predictions.numpy("embedding")[rows] if entry["acquisition"] == "prune4rel" else None,
        params=entry,
    )
    seconds = time.perf_counter() - start
    chosen = candidates[positions]
    log.info(
        "%s round %d: queried %d of %d unlabelled samples by %s in %.3f s",
        run.experiment,
        run.round,
        len(chosen),
        len(candidates),
        entry["acquisition"],
        seconds,
    )
    write_table(
        {
            "sample_id": chosen,
            "rank": np.arange(len(chosen), dtype=np.int64),
            "score": np.asarray(scores, dtype=np.float64),
        },
        outputs["query"],
        QUERY,
        metadata={
            "experiment": run.experiment,
            "round": run.round,
            "acquisition": entry["acquisition"],
            "size": len(chosen),
            "num_candidates": len(candidates),
            "query_seed": seed,
            "package_version": __version__,
        },
    )


# --- aggregation: tidy rows, learning-curve tables and plots ----------------------------------------

CURVE_METRICS = {"test_acc_last": "Clean test accuracy, last epoch (%)", "pool_noise_rate": "Pool noise rate (%)"}


def active_rows(metrics_files: list[Mapping[str, Any]], entries: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """One tidy row per (dataset, noise, seed, experiment, round): metrics, timing, provenance
    (``entries``: the config's ``active`` section)."""
    rows = []
    for entry in metrics_files:
        payload = read_json(entry["path"])
        provenance = payload["provenance"]
        experiment = entries[entry["experiment"]]
        rows.append(
            {
                "dataset": entry["dataset"],
                "noise": entry["noise"],
                "seed": int(entry["seed"]),
                "experiment": entry["experiment"],
                "round": int(entry["round"]),
                "acquisition": experiment["acquisition"],
                "learner": experiment["learner"],
                "label_source": experiment["labels"],
                **payload["metrics"],
                "train_seconds": payload["timing"]["train_seconds"],
                "code_hash": provenance["code_hash"],
                "seed_train": provenance["seeds"]["train"],
                "config_experiment": json.dumps(experiment, sort_keys=True),
                "config_learner": json.dumps(provenance["config"]["learner"], sort_keys=True),
                **{f"env_{k}": v for k, v in provenance["environment"].items()},
            }
        )
    return pd.DataFrame(rows)


def curve_table(rows: pd.DataFrame, metric: str, experiments: list[str]) -> pd.DataFrame:
    """Rows = experiments, columns = labelled-set sizes, cells "mean ± std" in percent over seeds
    (``render.cell_text``; a missing round is empty, never 0)."""
    sizes = sorted(rows["labelled"].unique())
    records = []
    for experiment in experiments:
        mine = rows[rows["experiment"] == experiment]
        record = {"experiment": experiment}
        for size in sizes:
            values = mine.loc[mine["labelled"] == size, metric].astype(float).dropna()
            std = values.std(ddof=1) if len(values) > 1 else float("nan")
            record[str(int(size))] = render.cell_text(values.mean() if len(values) else float("nan"), std, len(values))
        records.append(record)
    return pd.DataFrame(records, columns=["experiment", *[str(int(s)) for s in sizes]])


def curves_figure(rows: pd.DataFrame, experiments: list[str], title: str):
    """Two panels against the labelled-set size: clean test accuracy and pool noise rate, one line
    per experiment (mean over seeds, std error bars), styled as the pruners are elsewhere."""
    from matplotlib.figure import Figure

    from noisyprune.reporting.style import method_styles

    styles = method_styles(experiments)
    figure = Figure(figsize=(9.5, 3.4), layout="constrained")
    axes = figure.subplots(1, len(CURVE_METRICS), squeeze=False)[0]
    figure.suptitle(title)
    for ax, (metric, label) in zip(axes, CURVE_METRICS.items(), strict=True):
        for experiment in experiments:
            stats = (
                rows[rows["experiment"] == experiment]
                .dropna(subset=[metric])
                .groupby("labelled")[metric]
                .agg(["mean", "std"])
                .reset_index()
            )
            if stats.empty:
                continue
            style = styles[experiment]
            ax.errorbar(
                stats["labelled"],
                100 * stats["mean"],
                yerr=100 * stats["std"].fillna(0.0),
                color=style.colour,
                marker=style.marker,
                linestyle=style.linestyle,
                capsize=2,
                markersize=5,
                label=experiment,
            )
        ax.set_xlabel("labelled samples")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[-1].legend(fontsize="small", loc="best")
    return figure


def run_active_aggregate_stage(
    *,
    outputs: Files,
    metrics_files: list[Mapping[str, Any]],
    experiments: list[str],
    entries: Mapping[str, Mapping[str, Any]],
    curve_stems: Mapping[str, str],
    plot_stems: Mapping[str, str],
) -> None:
    """``outputs["table"]`` and ``outputs["csv"]`` (``results/tables/active.{parquet,csv}``, tidy
    rows), per (dataset, noise) the learning-curve tables (``curve_stems[key]`` + .csv/.md/.tex/.html,
    key ``dataset__noise``) and figures (``plot_stems[key]`` + .png/.pdf)."""
    from noisyprune.reporting.plots import save_figure
    from noisyprune.stages.aggregate import write_csv
    from noisyprune.stages.aggregate import write_table as write_table_formats

    rows = active_rows(metrics_files, entries)
    with atomic_output(outputs["table"]) as tmp:
        rows.to_parquet(tmp, index=False)
    write_csv(rows, outputs["csv"])
    for key, stem in curve_stems.items():
        dataset, noise = key.split("__")
        mine = rows[(rows["dataset"] == dataset) & (rows["noise"] == noise)]
        parts = []
        for metric, title in CURVE_METRICS.items():
            parts.append((title, curve_table(mine, metric, experiments)))
        csv_frame = pd.concat(
            [frame.assign(metric=metric) for metric, (_, frame) in zip(CURVE_METRICS, parts, strict=True)]
        )
        heading = f"Active learning · {dataset} · {noise}: mean ± std over seeds by labelled-set size"
        markdown = "\n".join(render.frame_markdown(frame, f"{heading} — {title}") for title, frame in parts)
        latex = "\n".join(render.frame_latex(frame, f"{heading} — {title}") for title, frame in parts)
        html_page = render.frames_html(parts, heading)
        write_table_formats(stem, csv_frame, markdown, latex, html_page)
        figure = curves_figure(mine, experiments, f"{dataset} · {noise} · active learning")
        save_figure(figure, f"{plot_stems[key]}.png", f"{plot_stems[key]}.pdf")
