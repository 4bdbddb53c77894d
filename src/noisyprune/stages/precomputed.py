"""Stage 2′, precomputed warm-up: the user's own representation instead of a trained warm-up.

A ``warmups`` entry with ``source: precomputed`` names a representation file
(:mod:`noisyprune.data.representation`): an embedding (``features``) and class probabilities or
logits for every training sample, aligned by ``sample_ids`` (positions in the dataset's training
split) or by ``paths`` (the dataset's own names of file-backed samples). This stage writes the same
``features.parquet`` the ``extract`` stage writes after a trained warm-up, and an epoch-less
``history.parquet`` whose metadata records the file and its SHA-256, so every downstream stage
(select, detect, retrain, aggregate) runs unchanged and every result row names the file it came from.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from noisyprune.artifacts import FEATURES, HISTORY, write_table
from noisyprune.data import load_dataset
from noisyprune.data.representation import check_warmup_arrays, read_representation
from noisyprune.derived_scores import scores_from_class_outputs
from noisyprune.errors import ArtifactError
from noisyprune.provenance import environment
from noisyprune.stages.common import NoisyLabels, load_labels
from noisyprune.stages.interface import Files, Run

log = logging.getLogger(__name__)

HISTORY_DTYPES = {
    "epoch": np.int64,
    "lr": np.float64,
    "train_loss": np.float64,
    "train_acc_noisy": np.float64,
    "test_loss": np.float64,
    "test_acc": np.float64,
    "epoch_seconds": np.float64,
}


def run_precomputed_stage(
    *,
    run: Run,
    inputs: Files,
    outputs: Files,
    dataset_entry: Mapping[str, Any],
    warmup_entry: Mapping[str, Any],
    checksum: str,
    code_hash: str,
) -> None:
    """Write ``outputs["features"]`` (probabilities, embedding and the derived scores of every sample
    of ``inputs["labels"]``) and an epoch-less ``outputs["history"]`` from the representation file of
    the warm-up entry ``warmup_entry`` (``{"source": "precomputed", "path": ...}``). ``checksum``: the
    file's SHA-256 as the rule's param has it (computed once, when Snakemake decided to run this job)."""
    start = time.perf_counter()
    source = Path(warmup_entry["path"])
    labels = load_labels(inputs["labels"])
    arrays = read_representation(source)
    check_warmup_arrays(arrays, f"{source} (warmups.{run.warmup}.path)")
    rows = file_rows(arrays, labels.sample_id, source, run.warmup, lambda: load_dataset(run.dataset, dataset_entry))
    columns = representation_scores(arrays, rows, labels, source, run.warmup)
    embedding = arrays["features"][rows]
    seconds = time.perf_counter() - start
    log.info(
        "precomputed warm-up %s: %d samples × %d-d embeddings and %s from %s (sha256 %s) in %.2f s",
        run.warmup,
        len(rows),
        embedding.shape[1],
        "logits" if "logits" in arrays else "probabilities",
        source,
        checksum[:12],
        seconds,
    )
    source_metadata = {"source": "precomputed", "source_path": str(source), "source_sha256": checksum}
    write_table(
        {"sample_id": labels.sample_id, "noisy_label": labels.noisy, **columns, "embedding": embedding},
        outputs["features"],
        FEATURES,
        metadata={
            "num_classes": labels.num_classes,
            "embedding_dim": int(embedding.shape[1]),
            "model": None,
            "warmup": run.warmup,
            "extract_seconds": seconds,
            "code_hash": code_hash,
            "environment": environment("none (precomputed)"),
            **source_metadata,
        },
    )
    write_epochless_history(outputs["history"], run, warmup_entry, len(labels.sample_id), code_hash, source_metadata)


def representation_scores(
    arrays: Mapping[str, np.ndarray], rows: np.ndarray, labels: NoisyLabels, source: Path, warmup: str
) -> dict[str, Any]:
    """The score columns of ``features.parquet`` (``probs``, ``loss``, ``confidence``, …) from the
    file's class scores at ``rows`` ``(n,)``; ``max_logit`` is null when the file has probabilities only."""
    try:
        columns = scores_from_class_outputs(
            labels.noisy,
            probabilities=arrays["probabilities"][rows] if "probabilities" in arrays else None,
            logits=arrays["logits"][rows] if "logits" in arrays else None,
            num_classes=labels.num_classes,
        )
    except ValueError as err:
        raise ArtifactError(f"{source} (warmups.{warmup}.path): {err}") from None
    if "max_logit" not in columns:  # probabilities only: the raw logits are unknown (null, not a number)
        columns["max_logit"] = pa.nulls(len(rows), pa.float32())
    return columns


def write_epochless_history(
    path: str,
    run: Run,
    warmup_entry: Mapping[str, Any],
    num_samples: int,
    code_hash: str,
    source_metadata: Mapping[str, str],
) -> None:
    """Write the warm-up's ``history.parquet`` with no epoch: the columns of a trained warm-up's and
    the metadata the aggregation reads (entry, size, no wall time, no test accuracy, the file)."""
    write_table(
        {key: np.zeros(0, dtype=dtype) for key, dtype in HISTORY_DTYPES.items()},
        path,
        HISTORY,
        metadata={
            "learner": "precomputed",
            "warmup": run.warmup,
            "warmup_entry": dict(warmup_entry),
            "num_samples": num_samples,
            "wall_seconds": 0.0,
            "test_acc_last": None,
            "code_hash": code_hash,
            **source_metadata,
        },
    )


def file_rows(
    arrays: Mapping[str, np.ndarray], sample_id: np.ndarray, source: Path, warmup: str, dataset
) -> np.ndarray:
    """The row of the representation file ``(n,)`` holding each sample of ``sample_id`` ``(n,)``.

    By ``sample_ids`` when the file has them: exactly the dataset's ids, each once (an id outside the
    training split means the file and the dataset disagree, e.g. a file for the whole set under
    ``max_train``). Otherwise by ``paths`` against the dataset's own sample names (``dataset()`` loads
    it; file-backed datasets only): every sample must have a row, rows of other files are unused."""
    where = f"{source} (warmups.{warmup}.path)"
    if "sample_ids" in arrays:
        ids = arrays["sample_ids"]
        if ids.dtype.kind not in "iu":
            raise ArtifactError(
                f"{where}: sample_ids must be integers (positions in the training split), not {ids.dtype}"
            )
        unique, counts = np.unique(ids, return_counts=True)
        if (counts > 1).any():
            raise ArtifactError(f"{where}: sample id {int(unique[counts > 1][0])} appears {int(counts.max())} times")
        unknown = np.setdiff1d(unique, sample_id)
        absent = np.setdiff1d(sample_id, unique)
        if len(unknown) or len(absent):
            raise ArtifactError(
                f"{where}: its sample_ids must be the {len(sample_id)} training samples' ids "
                f"({int(sample_id.min())}..{int(sample_id.max())}); "
                + "; ".join(
                    text
                    for text in (
                        f"{len(absent)} missing, e.g. {absent[:3].tolist()}" if len(absent) else "",
                        f"{len(unknown)} unknown, e.g. {unknown[:3].tolist()}" if len(unknown) else "",
                    )
                    if text
                )
            )
        return np.argsort(ids, kind="stable")[np.searchsorted(unique, sample_id)]
    if "paths" not in arrays:
        raise ArtifactError(
            f"{where}: no sample_ids and no paths; the rows must say which sample each is "
            "(sample_ids: positions in the training split; paths: the dataset's file names)"
        )
    data = dataset()
    if data.train_names is None or not data.train_names_kind.startswith("path"):
        raise ArtifactError(
            f"{where}: rows are named by paths, but dataset {data.name!r} names its samples by "
            f"{data.train_names_kind}; give sample_ids instead"
        )
    row_of = {str(path): row for row, path in enumerate(arrays["paths"].tolist())}
    if len(row_of) < len(arrays["paths"]):
        raise ArtifactError(f"{where}: a path appears more than once")
    names = data.sample_names()[sample_id]
    absent = [name for name in names.tolist() if name not in row_of]
    if absent:
        raise ArtifactError(
            f"{where}: {len(absent)} of the dataset's {len(names)} training samples have no row, e.g. "
            f"{absent[0]!r} ({data.train_names_kind})"
        )
    unused = len(row_of) - len(names)
    if unused:
        log.info("%s: %d rows name samples outside the training split; unused", source, unused)
    return np.fromiter((row_of[name] for name in names.tolist()), dtype=np.int64, count=len(names))
