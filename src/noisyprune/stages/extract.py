"""Stage 3, extract: one inference pass of the warm-up model over the training set → ``features.parquet``."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from noisyprune.artifacts import FEATURES, write_table
from noisyprune.derived_scores import feature_columns
from noisyprune.provenance import environment
from noisyprune.stages.common import load_checkpoint_model
from noisyprune.stages.interface import Compute, Files, Run
from noisyprune.stages.model_job import open_model_job
from noisyprune.training.data import device_inputs
from noisyprune.training.device import device_description
from noisyprune.training.inference import embed_and_classify

log = logging.getLogger(__name__)


def run_extract_stage(
    *, run: Run, inputs: Files, outputs: Files, dataset_entry: Mapping[str, Any], compute: Compute, code_hash: str
) -> None:
    """Write ``outputs["features"]`` (``features.parquet``): for every training sample of
    ``inputs["labels"]`` its probabilities, penultimate embedding, loss on the noisy label,
    confidence, margin, entropy and prediction under the warm-up model ``inputs["model"]`` in eval
    mode on the unaugmented input."""
    torch_device, data, labels = open_model_job(run, inputs["labels"], dataset_entry, compute)
    model, checkpoint = load_checkpoint_model(inputs["model"], torch_device)
    start = time.perf_counter()
    x = device_inputs(data.train_x, labels.sample_id, torch_device)
    logits, embeddings = embed_and_classify(model, x, compute.inference_batch_size)
    columns = feature_columns(labels.sample_id, labels.noisy, logits, embeddings)
    seconds = time.perf_counter() - start
    log.info("extracted %d samples × %d-d embeddings in %.2f s", len(x), embeddings.shape[1], seconds)
    write_table(
        columns,
        outputs["features"],
        FEATURES,
        metadata={
            "num_classes": data.num_classes,
            "embedding_dim": int(embeddings.shape[1]),
            "model": checkpoint["model_entry"],
            "warmup": checkpoint.get("warmup"),
            "extract_seconds": seconds,
            "code_hash": code_hash,
            "environment": environment(device_description(torch_device)),
        },
    )
