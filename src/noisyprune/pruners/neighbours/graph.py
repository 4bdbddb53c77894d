"""The τ-graph's data: Prune4ReL's similarity of unit rows, and the sparse graph of τ-neighbours.

Prune4ReL measures the similarity of two samples as ``s = 0.5 + 0.5 · cos(z_i, z_j)`` ∈ [0, 1] and
calls ``j`` a τ-neighbour of ``i`` when ``s > τ`` (a hard ε-ball, not k nearest neighbours); the
sample itself, with ``s = 1``, is always its own neighbour for τ < 1. Every source of τ-neighbours
(:mod:`~noisyprune.pruners.neighbours.sources`) returns, for a sample, the indices of its
τ-neighbours (ascending) and their similarities ``s`` (float64): a :data:`Rows` function, or the
whole :class:`NeighbourGraph`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

# A source's row function: sample ``i`` → (its τ-neighbours (m,) ascending, their similarities (m,))
Rows = Callable[[int], tuple[np.ndarray, np.ndarray]]


def unit_rows(embedding: np.ndarray, dtype=np.float64) -> np.ndarray:
    """Return the rows of ``embedding`` ``(n, d)`` scaled to unit L2 norm, as ``dtype``.

    A zero row has no direction, so its cosine similarity is undefined: it is an error.
    """
    z = np.asarray(embedding, dtype=dtype)
    norms = np.linalg.norm(z, axis=1, keepdims=True)
    if (norms == 0).any():
        raise ValueError(f"{int((norms == 0).sum())} embeddings are all zeros; cosine similarity is undefined")
    return z / norms


def rescaled(cosine: np.ndarray) -> np.ndarray:
    """Prune4ReL's similarity ``0.5 + 0.5 · cos`` (the original's ``cossim``)."""
    return 0.5 + 0.5 * cosine


@dataclass(frozen=True)
class NeighbourGraph:
    """A sparse τ-graph in CSR form: row ``i`` holds ``indices[indptr[i]:indptr[i + 1]]`` (ascending)
    and their similarities ``weights`` (float64, each > τ)."""

    indptr: np.ndarray
    indices: np.ndarray
    weights: np.ndarray

    @classmethod
    def from_pairs(cls, n: int, rows: np.ndarray, cols: np.ndarray, weights: np.ndarray) -> NeighbourGraph:
        """Build the CSR graph from unordered ``(row, col, weight)`` triples (no duplicates)."""
        order = np.argsort(rows.astype(np.int64) * n + cols)  # keys are unique: any sort is exact
        rows, cols, weights = rows[order], cols[order], weights[order]
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
        return cls(indptr=indptr, indices=cols.astype(np.int32, copy=False), weights=weights)

    def row(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """τ-neighbours of sample ``i`` and their similarities."""
        start, stop = self.indptr[i], self.indptr[i + 1]
        return self.indices[start:stop], self.weights[start:stop]

    @property
    def num_edges(self) -> int:
        """Number of stored (directed) pairs, self-pairs included."""
        return int(self.indptr[-1])

    @property
    def nbytes(self) -> int:
        """Memory held by the graph's arrays, in bytes."""
        return self.indptr.nbytes + self.indices.nbytes + self.weights.nbytes
