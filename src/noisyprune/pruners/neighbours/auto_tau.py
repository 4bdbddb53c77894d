"""The automatic τ: read from the embeddings, the threshold that gives a wanted mean neighbourhood size."""

from __future__ import annotations

import numpy as np

from noisyprune.pruners.neighbours.graph import rescaled


def fixed_sample(n: int, size: int) -> np.ndarray:
    """``min(n, size)`` distinct sample positions, sorted, the same on every run (seed 0): the rows
    the automatic τ and the neighbourhood diagnostics are read from, so both see the same samples."""
    return np.sort(np.random.default_rng(0).choice(n, size=min(n, size), replace=False))


def tau_for_neighbours(unit: np.ndarray, target: float, sample_rows: int = 256, chunk: int = 1 << 16) -> float:
    """The automatic τ: the threshold at which ``sample_rows`` fixed random rows (seed 0) of the unit
    embeddings ``unit`` ``(n, d)`` have, on average, ``target`` τ-neighbours besides themselves.

    The rule: with ``m`` sampled rows, τ lies midway between the ``k``-th and ``(k + 1)``-th largest
    rescaled similarity of those rows to every other sample, ``k = round(target · m)``, so
    ``k`` sampled pairs lie above it. It is a statement about the embeddings only (no labels, no
    training), so the same τ comes out on every run; ``target = n / budget`` (the default) asks for
    neighbourhoods just large enough that the budget's picks, if disjoint, would cover every sample.
    """
    n = len(unit)
    rows = fixed_sample(n, sample_rows)
    m = len(rows)
    k = int(min(max(round(target * m), 1), m * (n - 1) - 1)) if n > 2 else 1
    queries = unit[rows].astype(np.float64)
    best = np.empty(0)
    for start in range(0, n, chunk):  # keep the k + 1 largest per chunk: memory m · chunk, not m · n
        similarity = rescaled(queries @ unit[start : start + chunk].astype(np.float64).T)
        own = (rows >= start) & (rows < start + chunk)
        similarity[np.flatnonzero(own), rows[own] - start] = -np.inf  # a row is not its own neighbour
        flat = np.concatenate([best, similarity.ravel()])
        best = flat if len(flat) <= k + 1 else np.partition(flat, len(flat) - (k + 1))[-(k + 1) :]
    best = np.sort(best)[::-1]
    if len(best) <= k:
        return 0.0
    tau = float((best[k - 1] + best[k]) / 2)
    return float(min(max(tau, 0.0), np.nextafter(1.0, 0.0)))
