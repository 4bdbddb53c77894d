"""Stage 1, noise: corrupt the training labels of a dataset and write ``labels.parquet``."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np

from noisyprune import __version__
from noisyprune.artifacts import LABELS, write_table
from noisyprune.data import load_dataset
from noisyprune.errors import ConfigError
from noisyprune.noise import apply_noise
from noisyprune.noise.base import NoiseResult
from noisyprune.seeding import derive_seed, make_rng, noise_seed
from noisyprune.stages.interface import Files, Run

log = logging.getLogger(__name__)


def run_noise_stage(
    *, run: Run, outputs: Files, dataset_entry: Mapping[str, Any], noise_entry: Mapping[str, Any]
) -> None:
    """Write ``outputs["labels"]`` (``labels.parquet``) for ``run.dataset`` corrupted by the noise
    entry ``run.noise`` with seed ``run.seed``.

    Columns: ``sample_id``, ``clean_label``, ``noisy_label``, ``is_noisy``, ``is_probe``; metadata:
    both config entries, the derived seed, the realised noise rate and the realised ``(C, C)``
    transition matrix (rows = clean class); for data without clean labels those three are
    null/unknown. The file is a pure function of its inputs: same config, same bytes.
    """
    data = load_dataset(run.dataset, dataset_entry)
    stage_seed = noise_seed(run.seed, run.dataset, run.noise)
    if data.clean_labels_known:
        columns, realised = synthetic_noise(data, run, noise_entry, stage_seed)
    else:
        columns, realised = intrinsic_noise(data, run, noise_entry)
    write_table(
        {"sample_id": np.arange(data.num_train, dtype=np.int64), **columns},
        outputs["labels"],
        LABELS,
        metadata={
            "dataset": run.dataset,
            "dataset_entry": dict(dataset_entry),
            "noise": run.noise,
            "noise_entry": dict(noise_entry),
            "seed": run.seed,
            "noise_seed": stage_seed,
            "num_classes": data.num_classes,
            "class_names": list(data.class_names),
            "num_samples": data.num_train,
            **realised,
            "package_version": __version__,
        },
    )


def synthetic_noise(
    data, run: Run, noise_entry: Mapping[str, Any], stage_seed: int
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The label columns ``(n,)`` each (clean, noisy, is_noisy, is_probe) of a dataset with clean
    labels under the noise entry, and the realised rate, transition matrix and probe size."""
    result = apply_noise(data.train_y, data.num_classes, noise_entry, make_rng(stage_seed), data=data)
    n = data.num_train
    noisy = result.noisy
    probe = np.zeros(n, dtype=bool)
    per_class = int(noise_entry.get("probe_per_class", 0))
    if per_class:
        probe[
            probe_positions(result.clean, per_class, data.num_classes, make_rng(derive_seed(stage_seed, "probe")))
        ] = True
        noisy = np.where(probe, result.clean, noisy)  # the probe set is clean
    is_noisy = noisy != result.clean
    # Rate and transition matrix of the training samples, the probe held out.
    training = NoiseResult(clean=result.clean[~probe], noisy=noisy[~probe], num_classes=data.num_classes)
    log.info(
        "%s/%s seed %d: %d of %d training labels noisy (rate %.4f), %d clean probe samples",
        run.dataset,
        run.noise,
        run.seed,
        int(is_noisy.sum()),
        n - int(probe.sum()),
        training.rate,
        int(probe.sum()),
    )
    columns = {"clean_label": result.clean, "noisy_label": noisy, "is_noisy": is_noisy, "is_probe": probe}
    realised = {
        "noise_rate": training.rate,
        "transition_matrix": training.transition.round(6).tolist(),
        "num_probe": int(probe.sum()),
    }
    return columns, realised


def intrinsic_noise(data, run: Run, noise_entry: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The label columns of intrinsically noisy data (WebVision, Clothing-1M): the labels as given,
    which are wrong unknown (null); refuses a noise entry that would corrupt them further."""
    import pyarrow as pa

    if noise_entry["kind"] != "none":
        raise ConfigError(
            f"config key 'noise.{run.noise}.kind': dataset {run.dataset!r} has no clean training labels "
            f"(clean_labels: false), so its noise is what it is; use kind 'none', not {noise_entry['kind']!r}"
        )
    if noise_entry.get("probe_per_class", 0):
        raise ConfigError(
            f"config key 'noise.{run.noise}.probe_per_class': dataset {run.dataset!r} has no clean "
            "training labels to hold out as a clean probe set"
        )
    n = data.num_train
    log.info("%s/%s: %d training labels as given; clean labels unknown", run.dataset, run.noise, n)
    columns = {
        "clean_label": pa.nulls(n, pa.int64()),
        "noisy_label": data.train_y.astype(np.int64),
        "is_noisy": pa.nulls(n, pa.bool_()),
        "is_probe": np.zeros(n, dtype=bool),
    }
    return columns, {"clean_labels_known": False, "noise_rate": None, "transition_matrix": None}


def probe_positions(clean: np.ndarray, per_class: int, num_classes: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted positions of a class-balanced clean probe set: ``per_class`` random samples of each
    clean class ``(n,)`` (all of a class that has fewer, which the log then says)."""
    chosen = []
    for c in range(num_classes):
        members = np.flatnonzero(clean == c)
        if len(members) < per_class:
            log.warning("class %d has only %d samples for a probe of %d per class", c, len(members), per_class)
        chosen.append(rng.permutation(members)[:per_class])
    return np.sort(np.concatenate(chosen))
