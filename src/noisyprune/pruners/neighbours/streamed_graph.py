"""Build the exact τ-graph group by group into CSR, with a known memory peak.

The samples are split into *row groups* processed in order (consecutive blocks for all pairs,
clusters for the cluster-pruned search). Group ``g`` is multiplied only against itself and later
groups; a pair found with a later group is stored once for its row now and *mirrored* into a
pending list of the later group. When group ``g`` is reached, every pair of its rows is known
(earlier groups mirrored theirs, ``g`` finds the rest), so its rows are final: sorted, stored as
one compact piece, and their pending list freed. A last pass writes the pieces into the CSR arrays.

Memory, for ``E`` directed edges: pieces hold 12 B per edge (int32 column, float64 weight), pending
mirrors at most 16 B per undirected pair (8 B per directed edge), and the final pass adds the
graph's own 12 B per edge while pieces are released one by one: the peak is at most
:data:`PEAK_BYTES_PER_EDGE` · E plus one tile (:func:`estimated_peak_bytes`), against
12 B · E for the finished graph.

What each group is multiplied with, and how pairs are decided, is the job of a *tile function*
(:class:`NumpyTiles` here, :class:`noisyprune.pruners.neighbours.torch_tiles.TorchTiles` on a GPU).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from noisyprune.pruners.neighbours.float32_screen import float64_similarity, screen_threshold
from noisyprune.pruners.neighbours.graph import NeighbourGraph, rescaled
from noisyprune.pruners.progress import report

# The progress phase of a build (noisyprune.pruners.progress), counted in sample pairs multiplied.
PHASE = "Prune4ReL τ-graph"

# pieces (12) + pending mirrors (8) while building; pieces (12) + graph (12) while writing CSR
PEAK_BYTES_PER_EDGE = 24

# Temporaries per edge of the group being finished: found triples (24 B), their masked copies
# (24), the concatenated piece (20), its sort order (8) and the sorted piece (12).
GROUP_BYTES_PER_EDGE = 100

# In a screened tile, when the float32 shortlist fills more than this share of the rectangle of
# its rows and columns, one float64 product of that rectangle decides faster than pair by pair.
RECTANGLE_DENSITY = 0.02

# (rows (m,), cols (m,), similarities (m,)): the pairs of a tile above τ, as sample ids
Pairs = tuple[np.ndarray, np.ndarray, np.ndarray]
TileFunction = Callable[[np.ndarray, np.ndarray | range], Pairs]


@dataclass(frozen=True)
class RowGroup:
    """Rows (sample ids, ascending) and the columns they are multiplied with (ascending ids of
    this group and of later groups; columns of earlier groups are covered by mirroring)."""

    rows: np.ndarray
    cols: np.ndarray | range  # a range costs no memory: all-pairs groups span up to n columns


def ids(selection: np.ndarray | range) -> np.ndarray:
    """Sample ids as an int64 array (a ``range`` becomes an ``arange``)."""
    if isinstance(selection, range):
        return np.arange(selection.start, selection.stop, selection.step)
    return np.asarray(selection)


def all_pairs_groups(n: int, block_rows: int = 1024) -> list[RowGroup]:
    """Consecutive blocks of ``block_rows`` samples, each against itself and everything after it
    (half of all pairs: the symmetric product)."""
    return [
        RowGroup(np.arange(start, min(n, start + block_rows)), range(start, n)) for start in range(0, n, block_rows)
    ]


def estimated_peak_bytes(edges: float, tile_rows: int, tile_cols: int, d: int, group_share: float = 0.0) -> float:
    """Peak memory of :func:`build_streamed_graph` in bytes beyond the embeddings, for ``edges``
    directed edges, tiles of ``tile_rows × tile_cols`` (float64 product + mask + gathered rows) and
    a largest row group holding ``group_share`` of the samples (its edges pass through
    :data:`GROUP_BYTES_PER_EDGE` of temporaries while it is sorted)."""
    tile = tile_rows * tile_cols * (8 + 1) + (tile_rows + tile_cols) * d * 12
    group = GROUP_BYTES_PER_EDGE * 2 * group_share * edges  # its rows' edges, found and mirrored
    return PEAK_BYTES_PER_EDGE * edges + group + tile


def build_streamed_graph(n: int, groups: Sequence[RowGroup], tiles: TileFunction) -> NeighbourGraph:
    """The τ-graph of ``n`` samples from ``groups`` (each sample in exactly one), whose pairs
    ``tiles(rows, cols)`` returns; rows ascending, columns ascending within a row.

    Reports its progress as :data:`PHASE` in pairs multiplied (``rows × cols`` of each group done),
    the measure of its work: in the symmetric all-pairs product the first block of rows meets every
    column and the last only itself, so rows done would run ahead of the time spent."""
    group_of = np.empty(n, dtype=np.int32)
    for g, group in enumerate(groups):
        group_of[group.rows] = g
    pending: list[list[Pairs]] = [[] for _ in groups]
    pieces = []
    degree = np.zeros(n, dtype=np.int64)
    total = sum(len(group.rows) * len(group.cols) for group in groups)
    done = 0
    for g, group in enumerate(groups):
        report(PHASE, done, total, "pair")
        done += len(group.rows) * len(group.cols)
        rows, cols, weights = tiles(group.rows, group.cols)
        later = group_of[cols] > g
        same = ~later & (cols >= rows)  # within the group: each pair once, then mirrored
        rows_g, cols_g, weights_g = [rows[same]], [cols[same]], [weights[same]]
        mirror = same & (cols != rows)
        rows_g.append(cols[mirror])
        cols_g.append(rows[mirror])
        weights_g.append(weights[mirror])
        rows_g.append(rows[later])
        cols_g.append(cols[later])
        weights_g.append(weights[later])
        later_rows, later_cols, later_weights = rows[later], cols[later], weights[later]
        destination = group_of[later_cols]
        order = np.argsort(destination, kind="stable")
        present, starts = np.unique(destination[order], return_index=True)
        for h, lo, hi in zip(present, starts, np.append(starts[1:], len(order))[: len(starts)], strict=True):
            take = order[lo:hi]
            pending[h].append(
                (later_cols[take].astype(np.int32), later_rows[take].astype(np.int32), later_weights[take])
            )
        for mirrored in pending[g]:
            rows_g.append(mirrored[0])
            cols_g.append(mirrored[1])
            weights_g.append(mirrored[2])
        pending[g] = []
        piece_rows = np.concatenate(rows_g).astype(np.int64)
        piece_cols = np.concatenate(cols_g).astype(np.int32)
        piece_weights = np.concatenate(weights_g)
        order = np.argsort(piece_rows * n + piece_cols)  # unique keys: any sort order is the same
        sorted_rows = np.sort(group.rows)
        counts = np.bincount(np.searchsorted(sorted_rows, piece_rows), minlength=len(sorted_rows))
        degree[sorted_rows] = counts
        pieces.append((sorted_rows, counts, piece_cols[order], piece_weights[order]))
    graph = _write_csr(n, degree, pieces)
    report(PHASE, total, total, "pair")  # done once the CSR arrays are written
    return graph


def _write_csr(n: int, degree: np.ndarray, pieces: list) -> NeighbourGraph:
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(degree, out=indptr[1:])
    indices = np.empty(indptr[-1], dtype=np.int32)
    weights = np.empty(indptr[-1])
    pieces.reverse()
    while pieces:  # release each piece once written: the peak stays at pieces + graph
        rows, counts, cols, values = pieces.pop()
        # destination of each edge: its row's start in the CSR plus its offset within the row
        piece_starts = np.repeat(np.cumsum(counts) - counts, counts)
        destination = np.repeat(indptr[rows], counts) + (np.arange(len(cols)) - piece_starts)
        indices[destination] = cols
        weights[destination] = values
    return NeighbourGraph(indptr=indptr, indices=indices, weights=weights)


class NumpyTiles:
    """Tile function on the CPU: the pairs above τ among ``rows × cols``, columns in tiles of
    ``tile_cols``.

    ``screen=True`` multiplies in float32 (``unit32``), keeps the pairs above
    :func:`~noisyprune.pruners.neighbours.float32_screen.screen_threshold` and decides them in float64 (pair
    by pair, or as one float64 product of their rectangle when it is dense); ``screen=False``
    multiplies in float64 directly, as the engines always did (cheaper when most pairs of a
    tile are neighbours). Both keep exactly the pairs whose float64 similarity exceeds τ.
    """

    def __init__(self, unit: np.ndarray, tau: float, screen: bool, tile_cols: int = 8192):
        self.unit = unit
        self.tau = tau
        self.screen = screen
        self.tile_cols = tile_cols
        self.unit32 = unit.astype(np.float32) if screen else None
        self.threshold = screen_threshold(tau, unit.shape[1])
        self._buffer = None

    def __call__(self, rows: np.ndarray, cols: np.ndarray | range) -> Pairs:
        found = [
            self._tile(rows, ids(cols[start : start + self.tile_cols])) for start in range(0, len(cols), self.tile_cols)
        ]
        if not found:
            return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
        return tuple(np.concatenate(parts) for parts in zip(*found, strict=True))

    def _block(self, source: np.ndarray, ids: np.ndarray) -> np.ndarray:
        contiguous = len(ids) and ids[-1] - ids[0] + 1 == len(ids)
        return source[ids[0] : ids[-1] + 1] if contiguous else source[ids]  # a view when it can be

    def _tile(self, rows: np.ndarray, cols: np.ndarray) -> Pairs:
        if not self.screen:
            similarity = self._block(self.unit, rows) @ self._block(self.unit, cols).T
            similarity *= 0.5  # in place, the same two roundings as rescaled(): 0.5 · cos, then + 0.5
            similarity += 0.5
            q, c = np.nonzero(similarity > self.tau)
            return rows[q], cols[c], similarity[q, c]
        shape = (len(rows), len(cols))
        if self._buffer is None or self._buffer.shape != shape:
            self._buffer = np.empty(shape, dtype=np.float32)  # reused: no page faults per tile
        cosine = np.matmul(self._block(self.unit32, rows), self._block(self.unit32, cols).T, out=self._buffer)
        # one pass along the contiguous rows finds the few rows holding a candidate
        hit_rows = np.flatnonzero(cosine.max(axis=1) > self.threshold)
        if not len(hit_rows):
            return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
        q, c = np.nonzero(cosine[hit_rows] > self.threshold)
        q = hit_rows[q]
        unique_q, unique_c = np.unique(q), np.unique(c)
        if len(q) > RECTANGLE_DENSITY * len(unique_q) * len(unique_c):
            rectangle = rescaled(self.unit[rows[unique_q]] @ self.unit[cols[unique_c]].T)
            similarity = rectangle[np.searchsorted(unique_q, q), np.searchsorted(unique_c, c)]
        else:
            similarity = float64_similarity(self.unit, rows[q], cols[c])
        keep = similarity > self.tau
        return rows[q[keep]], cols[c[keep]], similarity[keep]
