"""Applying a noise model and describing what it did (realised rate, transition matrix)."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from noisyprune.noise.registry import NOISE_MODELS


def exact_count(rate: float, n: int) -> int:
    """Return ``round(rate · n)`` with halves rounded up (Python's ``round`` rounds halves to even)."""
    return int(np.floor(rate * n + 0.5))


def transition_matrix(clean: np.ndarray, noisy: np.ndarray, num_classes: int) -> np.ndarray:
    """Return the realised ``(C, C)`` matrix ``T[i, j] = P(noisy = j | clean = i)`` (empty rows are 0)."""
    counts = np.zeros((num_classes, num_classes), dtype=np.float64)
    np.add.at(counts, (clean, noisy), 1.0)
    totals = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)


@dataclass(frozen=True)
class NoiseResult:
    """Noisy labels for every training sample and what the noise model realised."""

    clean: np.ndarray
    noisy: np.ndarray
    num_classes: int

    @property
    def is_noisy(self) -> np.ndarray:
        """``(n,)`` bool: the noisy label differs from the clean one."""
        return self.noisy != self.clean

    @property
    def rate(self) -> float:
        """Realised noise rate: the fraction of samples whose label differs from the clean one."""
        return float(self.is_noisy.mean()) if len(self.clean) else 0.0

    @property
    def transition(self) -> np.ndarray:
        """Realised ``(C, C)`` transition matrix, rows = clean class, columns = noisy class."""
        return transition_matrix(self.clean, self.noisy, self.num_classes)


def apply_noise(
    clean: np.ndarray, num_classes: int, spec: Mapping[str, Any], rng: np.random.Generator, data=None
) -> NoiseResult:
    """Corrupt ``clean`` (``(n,)`` int labels) with the noise entry ``spec`` (its ``kind`` picks the model).

    ``data`` (the :class:`~noisyprune.data.base.ArrayDataset`) is passed to models that need more
    than labels: the inputs (instance-dependent noise), human label sets, class groups.
    """
    # probe_per_class is the noise stage's (a clean held-out set), not the noise model's
    params = {key: value for key, value in spec.items() if key not in ("kind", "probe_per_class")}
    model = NOISE_MODELS.get(spec["kind"])
    clean = np.asarray(clean, dtype=np.int64)
    data_parameter = inspect.signature(model).parameters.get("data")
    if data_parameter is not None:
        if data is not None:
            params["data"] = data
        elif data_parameter.default is inspect.Parameter.empty:
            raise ValueError(f"noise kind {spec['kind']!r} needs the dataset, not only its labels")
    noisy = np.asarray(model(clean, num_classes, rng, **params), dtype=np.int64)
    if noisy.shape != clean.shape or (len(noisy) and (noisy.min() < 0 or noisy.max() >= num_classes)):
        raise ValueError(f"noise kind {spec['kind']!r} produced labels of the wrong shape or range")
    return NoiseResult(clean=clean, noisy=noisy, num_classes=num_classes)
