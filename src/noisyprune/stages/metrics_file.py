"""The ``metrics.json`` a training job writes (a retrain, an active-learning round)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import torch

from noisyprune.artifacts import write_json
from noisyprune.provenance import environment
from noisyprune.stages.interface import Run
from noisyprune.training.device import device_description
from noisyprune.training.memory import peak_memory
from noisyprune.training.run import TrainingResult


def write_metrics_file(
    path: str,
    run: Run,
    metrics: Mapping[str, Any],
    provenance: Mapping[str, Any],
    result: TrainingResult,
    job_start: float,
    device: torch.device,
    code_hash: str,
) -> None:
    """Write ``metrics.json`` to ``path``: the ``run``'s wildcards, its ``metrics``, its timing
    (the seconds of the training ``result``, the whole job's seconds since ``job_start`` — a
    ``time.perf_counter()`` reading — and the peak memory of ``device``) and its ``provenance``
    completed by the ``code_hash`` and the environment."""
    timing = {
        "train_seconds": result.seconds,
        "total_seconds": time.perf_counter() - job_start,
        **peak_memory(device),
    }
    provenance = {**provenance, "code_hash": code_hash, "environment": environment(device_description(device))}
    write_json({"run": run.wildcards(), "metrics": metrics, "timing": timing, "provenance": provenance}, path)
