"""Stage 2′, precomputed warm-up: the user's own representation instead of a trained warm-up.

A ``warmups`` entry with ``source: precomputed`` names a representation file
(:mod:`noisyprune.data.representation`): an embedding (``features``) and class probabilities or
logits for every training sample, aligned by ``sample_ids`` (positions in the dataset's training
split), ``rows`` (rows of an ``arrays`` dataset's own file) or ``paths`` (the dataset's own names of
file-backed samples). This stage writes the same
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
from noisyprune.data.representation import check_warmup_arrays, read_representation, warmup_rows
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
    where = f"{source} (warmups.{run.warmup}.path)"  # how messages name the file
    check_warmup_arrays(arrays, where)
    rows = warmup_rows(arrays, labels.sample_id, where, lambda: load_dataset(run.dataset, dataset_entry))
    columns = representation_scores(arrays, rows, labels, where)
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
    arrays: Mapping[str, np.ndarray], rows: np.ndarray, labels: NoisyLabels, where: str
) -> dict[str, Any]:
    """The score columns of ``features.parquet`` (``probs``, ``loss``, ``confidence``, …) from the
    file's class scores at ``rows`` ``(n,)``; ``max_logit`` is null when the file has probabilities only.
    ``where`` names the file in messages."""
    try:
        columns = scores_from_class_outputs(
            labels.noisy,
            probabilities=arrays["probabilities"][rows] if "probabilities" in arrays else None,
            logits=arrays["logits"][rows] if "logits" in arrays else None,
            num_classes=labels.num_classes,
        )
    except ValueError as err:
        raise ArtifactError(f"{where}: {err}") from None
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
