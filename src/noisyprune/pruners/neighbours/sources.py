"""Sources of τ-neighbours (see :mod:`~noisyprune.pruners.neighbours.graph`), exact or approximate.

Sources, from small to large problems (:mod:`~noisyprune.pruners.neighbours.search` picks one by size):

- :class:`DenseRows` — exact; one float64 mat-vec against all ``n`` embeddings per query, O(n·d).
- :class:`ClusteredExactIndex` — exact; spherical k-means (faiss) groups the embeddings and the
  triangle inequality on angles proves which clusters cannot hold a τ-neighbour, so only the rest
  is multiplied (float64 GEMM, blocked by cluster). Serves single rows or the whole sparse graph.
- :func:`exact_graph_blocked` — exact; every pair in row blocks with torch (for a CUDA device,
  where brute-force GEMM is cheaper than pruning), screened in float32 and decided in float64.
- :class:`IVFRows` — approximate; faiss ``IndexIVFFlat`` range search in float32 visiting
  ``nprobe`` of ``nlist`` lists; :func:`neighbour_recall` measures what it misses.

Exact sources compute similarities in float64 from unit vectors normalised once, so their output
agrees with a dense float64 reference up to the last bits of a dot product. The whole graph is
built by :mod:`~noisyprune.pruners.neighbours.streamed_graph` (cluster groups from
:meth:`ClusteredExactIndex.row_groups`, or all pairs), optionally with the float32 screen of
:mod:`~noisyprune.pruners.neighbours.float32_screen`.
"""

from __future__ import annotations

import math

import numpy as np

from noisyprune.pruners.neighbours.float32_screen import screen_threshold
from noisyprune.pruners.neighbours.graph import NeighbourGraph, Rows, rescaled, unit_rows
from noisyprune.pruners.neighbours.streamed_graph import (
    NumpyTiles,
    RowGroup,
    all_pairs_groups,
    build_streamed_graph,
)
from noisyprune.pruners.neighbours.torch_tiles import TorchTiles
from noisyprune.pruners.progress import report

# Slack (radians) added to the angle bounds so rounding can never prune a true neighbour.
ANGLE_SLACK = 1e-6

# The progress phase of IVFRows.graph (noisyprune.pruners.progress), counted in query rows.
IVF_PHASE = "Prune4ReL τ-graph (ivf)"


class DenseRows:
    """Exact τ-neighbours of one sample at a time by a mat-vec over all samples.

    With float32 unit vectors (large problems) the mat-vec only shortlists candidates, below the
    threshold by the proven float32 rounding bound (:mod:`~noisyprune.pruners.neighbours.float32_screen`, so no
    neighbour is missed at any d); the decision and the similarities are recomputed in float64.
    """

    def __init__(self, unit: np.ndarray, tau: float):
        self.unit = unit
        self.tau = tau

    def row(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """τ-neighbours of sample ``i`` and their similarities."""
        if self.unit.dtype == np.float64:
            similarity = rescaled(self.unit @ self.unit[i])
            neighbours = np.flatnonzero(similarity > self.tau)
            return neighbours, similarity[neighbours]
        cosine = self.unit @ self.unit[i]
        candidates = np.flatnonzero(cosine > screen_threshold(self.tau, self.unit.shape[1]))
        similarity = rescaled(self.unit[candidates].astype(np.float64) @ self.unit[i].astype(np.float64))
        keep = similarity > self.tau
        return candidates[keep], similarity[keep]


def _cosine_threshold_angle(tau: float) -> float:
    # s > τ  ⇔  cos > 2τ − 1  ⇔  angle < arccos(2τ − 1)
    return math.acos(min(1.0, max(-1.0, 2.0 * tau - 1.0)))


def _angles(cosines: np.ndarray) -> np.ndarray:
    return np.arccos(np.clip(cosines, -1.0, 1.0))


def spherical_kmeans(unit32: np.ndarray, clusters: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Cluster unit vectors with faiss's spherical k-means; return ``(assignment (n,), centroids (k, d))``
    with unit-norm float64 centroids."""
    import faiss

    n, d = unit32.shape
    clusters = max(1, min(clusters, n))
    # Exactness never depends on the clustering, only speed does: a cheap k-means is enough.
    kmeans = faiss.Kmeans(
        d,
        clusters,
        niter=10,
        seed=seed,
        spherical=True,
        verbose=False,
        max_points_per_centroid=64,
        min_points_per_centroid=1,
    )
    kmeans.train(np.ascontiguousarray(unit32))
    _, assignment = kmeans.index.search(np.ascontiguousarray(unit32), 1)
    return assignment[:, 0].astype(np.int64), unit_rows(kmeans.centroids)


class ClusteredExactIndex:
    """Exact τ-neighbour search that skips clusters the triangle inequality rules out.

    For unit vectors, ``angle(q, x) ≥ angle(q, c) − angle(x, c)``; with ``r_c`` the largest angle of
    a cluster member to its centroid ``c``, no member of the cluster can be a τ-neighbour of ``q``
    when ``angle(q, c) − r_c ≥ θ``, ``θ = arccos(2τ − 1)``. Surviving clusters are multiplied in
    float64. Well-clustered embeddings (class structure, high τ) skip most pairs; badly clustered
    ones degrade gracefully to all pairs.
    """

    def __init__(self, unit: np.ndarray, tau: float, clusters: int | None = None, seed: int = 0):
        """``clusters`` defaults to √n; pass more when the data has more natural groups (classes)."""
        self.unit = unit
        self.tau = tau
        n = len(unit)
        self.theta = _cosine_threshold_angle(tau)
        count = clusters or max(1, round(math.sqrt(n)))
        self.assignment, self.centroids = spherical_kmeans(unit.astype(np.float32), count, seed)
        k = len(self.centroids)
        to_centroid = _angles(np.einsum("ij,ij->i", unit, self.centroids[self.assignment]))
        self.radius = np.full(k, -np.inf)
        np.maximum.at(self.radius, self.assignment, to_centroid)
        order = np.argsort(self.assignment, kind="stable")
        bounds = np.searchsorted(self.assignment[order], np.arange(k + 1))
        self.members = [order[bounds[c] : bounds[c + 1]] for c in range(k)]
        self.nonempty = np.array([len(m) > 0 for m in self.members])

    def _candidate_clusters(self, angle_to_centroids: np.ndarray, query_radius: float) -> np.ndarray:
        reach = self.theta + query_radius + self.radius + ANGLE_SLACK
        return np.flatnonzero(self.nonempty & (angle_to_centroids < reach))

    def pair_fraction(self) -> float:
        """Fraction of all sample pairs that :meth:`graph` multiplies (1.0 = no pruning)."""
        sizes = np.array([len(m) for m in self.members], dtype=np.float64)
        angles = _angles(self.centroids @ self.centroids.T)
        reach = self.theta + self.radius[:, None] + self.radius[None, :] + ANGLE_SLACK
        close = (angles < reach) & self.nonempty[:, None] & self.nonempty[None, :]
        return float(sizes @ close @ sizes / sizes.sum() ** 2)

    def row(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """τ-neighbours of sample ``i`` and their similarities (exact)."""
        clusters = self._candidate_clusters(_angles(self.centroids @ self.unit[i]), 0.0)
        candidates = np.sort(np.concatenate([self.members[c] for c in clusters]))
        # nothing pruned (unstructured data): no copy of all embeddings
        block = self.unit if len(candidates) == len(self.unit) else self.unit[candidates]
        similarity = rescaled(block @ self.unit[i])
        keep = similarity > self.tau
        return candidates[keep], similarity[keep]

    def graph(self, screen: bool = False) -> NeighbourGraph:
        """The whole τ-graph: each cluster multiplied once against the clusters from itself on that
        it may reach, in float64 or screened in float32 (``screen``), streamed into CSR
        (:func:`~noisyprune.pruners.neighbours.streamed_graph.build_streamed_graph`). Same graph either way."""
        return build_streamed_graph(len(self.unit), self.row_groups(), NumpyTiles(self.unit, self.tau, screen))

    def _partner_clusters(self):
        centroid_angles = _angles(self.centroids @ self.centroids.T)
        for a in np.flatnonzero(self.nonempty):
            yield a, self._candidate_clusters(centroid_angles[a], self.radius[a])

    def row_groups(self) -> list:
        """The clusters as :class:`~noisyprune.pruners.neighbours.streamed_graph.RowGroup` s, in cluster order,
        each with the members of the clusters from itself on that it may reach (the symmetric,
        cluster-pruned product of :func:`~noisyprune.pruners.neighbours.streamed_graph.build_streamed_graph`)."""
        groups = []
        for a, partners in self._partner_clusters():
            partners = partners[partners >= a]
            columns = np.sort(np.concatenate([self.members[b] for b in partners]))
            groups.append(RowGroup(np.sort(self.members[a]), columns))
        return groups

    def gathered_rows(self) -> float:
        """Embedding rows gathered by the cluster-pruned streamed product (a cost: it copies them)."""
        sizes = np.array([len(m) for m in self.members], dtype=np.float64)
        angles = _angles(self.centroids @ self.centroids.T)
        reach = self.theta + self.radius[:, None] + self.radius[None, :] + ANGLE_SLACK
        close = np.triu((angles < reach) & self.nonempty[:, None] & self.nonempty[None, :])
        return float((close @ sizes).sum() + sizes.sum())


def exact_graph_blocked(unit: np.ndarray, tau: float, device: str = "cpu", block_rows: int = 4096) -> NeighbourGraph:
    """The exact τ-graph from all pairs (each once, mirrored), ``block_rows`` rows at a time, with
    torch on ``device``: a float32 screen with a proven rounding-error margin, float64 decisions
    (:class:`~noisyprune.pruners.neighbours.torch_tiles.TorchTiles`); memory as
    :func:`~noisyprune.pruners.neighbours.streamed_graph.build_streamed_graph`."""
    n = len(unit)
    return build_streamed_graph(n, all_pairs_groups(n, block_rows), TorchTiles(unit, tau, device))


class IVFRows:
    """Approximate τ-neighbours by faiss range search on an inverted-file index (float32).

    ``nlist`` coarse clusters (default √n) are trained on at most ``64 · nlist`` sampled points; a query visits
    the ``nprobe`` nearest lists, so neighbours in other lists are missed (measure with
    :func:`neighbour_recall`). Similarities are recomputed in float64 for the pairs found.
    """

    def __init__(self, unit: np.ndarray, tau: float, nlist: int | None = None, nprobe: int = 16, seed: int = 0):
        import faiss

        self.unit = unit
        self.tau = tau
        unit32 = np.ascontiguousarray(unit, dtype=np.float32)
        n, d = unit32.shape
        self.nlist = nlist or max(1, min(round(math.sqrt(n)), n // 39))
        self.nprobe = min(nprobe, self.nlist)
        quantizer = faiss.IndexFlatIP(d)
        self.index = faiss.IndexIVFFlat(quantizer, d, self.nlist, faiss.METRIC_INNER_PRODUCT)
        self.index.cp.seed = seed
        rng = np.random.default_rng(seed)
        train = unit32[np.sort(rng.permutation(n)[: 64 * self.nlist])]
        self.index.train(train)
        for start in range(0, n, 1 << 16):  # chunks: no second full-size copy when unit is float64
            self.index.add(np.ascontiguousarray(unit[start : start + (1 << 16)], dtype=np.float32))
        self.index.nprobe = self.nprobe
        # float32 inner products carry rounding error: search below the threshold by its proven
        # bound, then decide in float64 so the result does not depend on float32 rounding.
        self.radius = float(screen_threshold(tau, d))
        self._keep_alive = quantizer

    def _search(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        queries = np.ascontiguousarray(self.unit[start:stop], dtype=np.float32)
        lims, _, found = self.index.range_search(queries, self.radius)
        return lims, found

    def row(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Approximate τ-neighbours of sample ``i`` and their float64 similarities."""
        _, found = self._search(i, i + 1)
        candidates = np.sort(found)
        similarity = rescaled(self.unit[candidates].astype(np.float64) @ self.unit[i].astype(np.float64))
        keep = similarity > self.tau
        return candidates[keep], similarity[keep]

    def graph(self, chunk: int = 4096) -> NeighbourGraph:
        """The approximate τ-graph of every sample (range search in chunks of queries); reports its
        progress as :data:`IVF_PHASE` in query rows."""
        n = len(self.unit)
        rows, cols, weights = [], [], []
        for start in range(0, n, chunk):
            report(IVF_PHASE, start, n, "row")
            lims, found = self._search(start, start + chunk)
            # faiss returns lims as uint64, which np.repeat refuses as counts
            query = np.repeat(np.arange(start, start + len(lims) - 1), np.diff(lims).astype(np.int64))
            similarity = rescaled(
                np.einsum("ij,ij->i", self.unit[query].astype(np.float64), self.unit[found].astype(np.float64))
            )
            keep = similarity > self.tau
            rows.append(query[keep])
            cols.append(found[keep])
            weights.append(similarity[keep])
        graph = NeighbourGraph.from_pairs(n, np.concatenate(rows), np.concatenate(cols), np.concatenate(weights))
        report(IVF_PHASE, n, n, "row")
        return graph


def neighbour_recall(row: Rows, unit: np.ndarray, tau: float, queries: np.ndarray) -> float:
    """Fraction of the exact τ-neighbours of ``queries`` that ``row`` finds (1.0 = none missed)."""
    exact = DenseRows(unit, tau)
    found = total = 0
    for i in queries:
        truth = exact.row(int(i))[0]
        found += np.intersect1d(truth, row(int(i))[0], assume_unique=True).size
        total += truth.size
    return found / total if total else 1.0
