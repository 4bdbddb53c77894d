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
from noisyprune.seeding import make_rng, noise_seed

log = logging.getLogger(__name__)


def run_noise_stage(
    *,
    dataset: str,
    dataset_entry: Mapping[str, Any],
    noise: str,
    noise_entry: Mapping[str, Any],
    seed: int,
    output: str,
) -> None:
    """Write ``labels.parquet`` for ``dataset`` corrupted by the noise entry ``noise``.

    Columns: ``sample_id``, ``clean_label``, ``noisy_label``, ``is_noisy``; metadata: both config
    entries, the derived seed, the realised noise rate and the realised ``(C, C)`` transition matrix
    (rows = clean class); for data without clean labels those three are null/unknown. The file is a
    pure function of its inputs: same config, same bytes.
    """
    import pyarrow as pa

    data = load_dataset(dataset, dataset_entry)
    stage_seed = noise_seed(seed, dataset, noise)
    n = data.num_train
    if data.clean_labels_known:
        result = apply_noise(data.train_y, data.num_classes, noise_entry, make_rng(stage_seed), data=data)
        log.info("%s/%s seed %d: %d of %d labels noisy (rate %.4f)", dataset, noise, seed,
                 int(result.is_noisy.sum()), n, result.rate)
        columns = {"clean_label": result.clean, "noisy_label": result.noisy, "is_noisy": result.is_noisy}
        realised = {"noise_rate": result.rate, "transition_matrix": result.transition.round(6).tolist()}
    else:
        # Intrinsic noise (WebVision, Clothing-1M): the labels as given; which are wrong is unknown.
        if noise_entry["kind"] != "none":
            raise ConfigError(
                f"config key 'noise.{noise}.kind': dataset {dataset!r} has no clean training labels "
                f"(clean_labels: false), so its noise is what it is; use kind 'none', not {noise_entry['kind']!r}"
            )
        log.info("%s/%s: %d training labels as given; clean labels unknown", dataset, noise, n)
        columns = {"clean_label": pa.nulls(n, pa.int64()), "noisy_label": data.train_y.astype(np.int64),
                   "is_noisy": pa.nulls(n, pa.bool_())}
        realised = {"clean_labels_known": False, "noise_rate": None, "transition_matrix": None}
    write_table(
        {"sample_id": np.arange(n, dtype=np.int64), **columns},
        output,
        LABELS,
        metadata={
            "dataset": dataset,
            "dataset_entry": dict(dataset_entry),
            "noise": noise,
            "noise_entry": dict(noise_entry),
            "seed": seed,
            "noise_seed": stage_seed,
            "num_classes": data.num_classes,
            "class_names": list(data.class_names),
            "num_samples": n,
            **realised,
            "package_version": __version__,
        },
    )
