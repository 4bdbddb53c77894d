"""Loading helpers shared by stages: labels aligned to the dataset, model checkpoints."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from noisyprune.artifacts import (
    FEATURES,
    LABELS,
    Artifact,
    atomic_output,
    check_same_samples,
    read_table,
)
from noisyprune.data.base import ArrayDataset
from noisyprune.errors import ArtifactError


@dataclass(frozen=True)
class NoisyLabels:
    """The contents of ``labels.parquet``, sorted by ``sample_id`` (arrays of shape ``(n,)``).

    ``clean`` and ``is_noisy`` are ``None`` for intrinsically noisy data (no clean training labels):
    code that needs them must check :attr:`clean_known` and report its metric as missing.
    """

    sample_id: np.ndarray
    clean: np.ndarray | None
    noisy: np.ndarray
    is_noisy: np.ndarray | None
    num_classes: int
    # The clean probe set of meta-learners, held out of warm-up, selection and budgets.
    is_probe: np.ndarray
    metadata: dict[str, Any]
    path: str

    @property
    def training_rows(self) -> np.ndarray:
        """Row positions of the training set proper: every sample but the clean probe set."""
        return np.flatnonzero(~self.is_probe)

    @property
    def training_ids(self) -> np.ndarray:
        """Sorted sample ids of the training set proper: every sample but the probe set."""
        return self.sample_id[self.training_rows]

    @property
    def probe_ids(self) -> np.ndarray:
        """Sorted sample ids of the clean probe set (empty without one)."""
        return self.sample_id[self.is_probe]

    @property
    def clean_known(self) -> bool:
        """Whether the clean training labels (and so which labels are wrong) are known."""
        return self.clean is not None

    def noise_rate(self, mask: np.ndarray | None = None) -> float:
        """Fraction of wrong labels among the ``mask``-ed samples (the training set proper, probe
        excluded, if ``None``); NaN when the clean labels are unknown or nothing is masked."""
        if self.is_noisy is None:
            return float("nan")
        chosen = self.is_noisy[~self.is_probe] if mask is None else self.is_noisy[mask]
        return float(chosen.mean()) if chosen.size else float("nan")


def load_labels(path: str, dataset: ArrayDataset | None = None) -> NoisyLabels:
    """Read ``labels.parquet``; if ``dataset`` is given, check that the file belongs to it
    (same sample ids and clean labels), so a stale file cannot be silently paired with new data."""
    artifact = read_table(path, LABELS)
    order = np.argsort(artifact.numpy("sample_id"), kind="stable")
    known = artifact.table.column("clean_label").null_count == 0 or len(artifact) == 0
    labels = NoisyLabels(
        sample_id=artifact.numpy("sample_id")[order],
        clean=artifact.numpy("clean_label")[order] if known else None,
        noisy=artifact.numpy("noisy_label")[order],
        is_noisy=artifact.numpy("is_noisy")[order] if known else None,
        is_probe=artifact.numpy("is_probe")[order],
        num_classes=int(artifact.metadata["num_classes"]),
        metadata=artifact.metadata,
        path=str(path),
    )
    if dataset is not None:
        matches = (
            len(labels.sample_id) == dataset.num_train
            and np.array_equal(labels.sample_id, np.arange(dataset.num_train))
            and labels.clean_known == dataset.clean_labels_known
            # without clean labels the dataset's labels are the given ones
            and np.array_equal(labels.clean if labels.clean_known else labels.noisy, dataset.train_y)
            and labels.num_classes == dataset.num_classes
        )
        if not matches:
            raise ArtifactError(
                f"{path}: does not match dataset {dataset.name!r} ({dataset.num_train} training "
                f"samples, {dataset.num_classes} classes); it is stale or from another dataset"
            )
    return labels


def aligned_features(path: str, sample_id: np.ndarray, labels_path: str) -> Artifact:
    """Read ``features.parquet`` and reorder its rows to follow ``sample_id`` (sorted)."""
    features = read_table(path, FEATURES)
    ids = features.numpy("sample_id")
    check_same_samples(sample_id, ids, labels_path, path)
    order = np.argsort(ids, kind="stable")
    return features.take(order)


def save_checkpoint(
    model, model_entry: Mapping[str, Any], input_shape, num_classes: int, path: str, **extra: Any
) -> None:
    """Save ``model``'s weights with what is needed to rebuild it (atomically, torch format)."""
    import torch

    payload = {
        "model_state": model.state_dict(),
        "model_entry": dict(model_entry),
        "input_shape": list(input_shape),
        "num_classes": int(num_classes),
        **extra,
    }
    with atomic_output(path) as tmp:
        torch.save(payload, tmp)


def load_checkpoint_model(path: str, device):
    """Rebuild the model saved by :func:`save_checkpoint` on ``device``; return ``(model, payload)``.

    Loaded with ``weights_only=True``: a checkpoint cannot execute code.
    """
    import torch

    from noisyprune.models import build_model

    try:
        payload = torch.load(path, map_location=device, weights_only=True)
    except FileNotFoundError:
        raise ArtifactError(f"{path}: file not found (expected a warm-up checkpoint)") from None
    except Exception as err:  # torch raises several types for corrupt or foreign files
        raise ArtifactError(f"{path}: not a readable checkpoint ({err})") from err
    model = build_model(payload["model_entry"], payload["input_shape"], payload["num_classes"])
    model.load_state_dict(payload["model_state"])
    return model.to(device), payload
