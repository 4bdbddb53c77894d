"""Finding the τ-neighbours of every sample: the one way in to :mod:`noisyprune.pruners.neighbours`.

:func:`find_neighbours` goes down once, in this order: the engine for the problem's size
(:meth:`EngineSettings.engine_for`), the unit rows of the embeddings, τ when it is ``auto``
(:mod:`~noisyprune.pruners.neighbours.auto_tau`), the source of neighbour rows of that engine
(:mod:`~noisyprune.pruners.neighbours.sources`) and, where the caller needs it or it is predicted
cheaper than rows on demand, the whole τ-graph, built in streamed groups
(:mod:`~noisyprune.pruners.neighbours.streamed_graph`) by numpy or torch tiles
(:mod:`~noisyprune.pruners.neighbours.torch_tiles`) in the way
:mod:`~noisyprune.pruners.neighbours.engine_costs` predicts fastest on this machine. Every exact way
gives the same rows, so no timing-based choice changes a selection.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from noisyprune.pruners.neighbours.auto_tau import fixed_sample, tau_for_neighbours
from noisyprune.pruners.neighbours.engine_costs import (
    ALL_PAIRS_BLOCK_ROWS,
    TILE_COLS,
    graph_strategy_seconds,
    machine_rates,
)
from noisyprune.pruners.neighbours.float32_screen import snap_ones
from noisyprune.pruners.neighbours.graph import NeighbourGraph, Rows, unit_rows
from noisyprune.pruners.neighbours.sources import (
    ClusteredExactIndex,
    DenseRows,
    IVFRows,
    exact_graph_blocked,
    neighbour_recall,
)
from noisyprune.pruners.neighbours.streamed_graph import (
    NumpyTiles,
    all_pairs_groups,
    build_streamed_graph,
    estimated_peak_bytes,
)
from noisyprune.pruners.neighbours.torch_tiles import TorchTiles, torch_device
from noisyprune.pruners.placement import cuda_allowed

log = logging.getLogger(__name__)

# Above this size (bytes of float64 embeddings) the ivf engine keeps its unit vectors in float32.
FLOAT64_BYTES_MAX = 2e9

# Row blocks and column tiles of the torch engine's all-pairs product (a GPU wants large products).
TORCH_BLOCK_ROWS = 4096
TORCH_TILE_COLS = 16384

# The exact ways to the whole τ-graph the ``graph`` engine chooses from by predicted time.
GRAPH_STRATEGIES = ("clustered_float64", "clustered_screened", "all_pairs_screened")


@dataclass(frozen=True)
class EngineSettings:
    """How τ-neighbours are found: Prune4ReL's ``engine`` parameters (their meaning is in its
    parameter declarations: ``engine``, ``clusters``, ``ivf_nlist``, ``ivf_nprobe``,
    ``recall_sample``, ``exact_max``, ``max_graph_gb`` in GB, ``calibrate``)."""

    engine: str
    clusters: int | None
    ivf_nlist: int | None
    ivf_nprobe: int
    recall_sample: int
    exact_max: int
    max_graph_gb: float
    calibrate: bool

    def engine_for(self, n: int) -> str:
        """The engine ``auto`` stands for at ``n`` samples (any other engine as set)."""
        if self.engine != "auto":
            return self.engine
        if n <= 2000:
            return "dense"
        if n > 20_000 and cuda_allowed():
            return "torch"
        return "graph" if n <= self.exact_max else "ivf"


@dataclass(frozen=True)
class Neighbours:
    """The τ-neighbours found among ``num_samples`` samples: ``rows`` gives any sample's neighbours
    and similarities (from ``graph`` when the whole τ-graph was built, else computed on demand), every similarity within
    float64 rounding of 1 made exactly 1 (:func:`exact_ones`). ``tau`` is the threshold used (the
    automatic one's value for ``auto``), ``engine`` the engine that ran. ``diagnostics`` holds
    deterministic facts (τ, its rule, clusters, ivf lists and neighbour recall), ``runtime`` what
    varies between runs (timing-based choices, predicted and measured seconds, graph size)."""

    rows: Rows
    graph: NeighbourGraph | None
    num_samples: int
    tau: float
    engine: str
    diagnostics: dict
    runtime: dict

    def sampled_degrees(self, size: int) -> np.ndarray:
        """τ-neighbourhood sizes (the sample itself included) of ``size`` fixed random samples
        (:func:`~noisyprune.pruners.neighbours.auto_tau.fixed_sample`, the rows the automatic τ reads),
        int ``(min(n, size),)``: the same on every run."""
        return np.array([len(self.rows(int(i))[0]) for i in fixed_sample(self.num_samples, size)])


def find_neighbours(
    embedding: np.ndarray,
    tau: float | str,
    budget: int,
    need_graph: bool,
    settings: EngineSettings,
    target_neighbours: float | None = None,
) -> Neighbours:
    """The τ-neighbours of the ``n`` rows of ``embedding`` ``(n, d)`` (any float dtype) under
    Prune4ReL's rescaled cosine similarity, for a greedy that picks ``budget`` samples.

    ``tau`` ∈ [0, 1), or ``"auto"``: the τ at which the fixed sample of ``settings.recall_sample``
    rows has ``target_neighbours`` neighbours on average (default ``n / budget``). ``need_graph``:
    the caller needs the whole τ-graph (Prune4ReL's ``neighborhood`` gain); a graph that would
    exceed ``settings.max_graph_gb`` at its peak is then a ``MemoryError``. Without it the graph is
    built only where that is predicted cheaper than the ``budget`` rows on demand, and fits.

    The caller should hold no other reference to ``embedding``: it is dropped once its unit rows
    are made, so the two never need memory at once."""
    n = len(embedding)
    engine = settings.engine_for(n)
    # Similarities in float64 make results match a dense float64 reference to the last bits;
    # only the approximate engine on very large inputs keeps float32 to halve memory.
    large = engine == "ivf" and embedding.size * 8 > FLOAT64_BYTES_MAX
    unit = unit_rows(embedding, np.float32 if large else np.float64)
    del embedding
    diagnostics: dict = {}  # deterministic: stored with the subset
    if tau == "auto":
        target = target_neighbours if target_neighbours is not None else n / budget
        tau = tau_for_neighbours(unit, target, settings.recall_sample)
        diagnostics.update(tau_rule="auto", target_neighbours=round(float(target), 6))
    tau = float(tau)
    diagnostics["tau"] = tau
    runtime: dict = {}  # varies between runs (timing-based choices): goes to the timing sidecar
    start = time.perf_counter()
    search = _Search(unit, tau, budget, need_graph, settings, diagnostics, runtime)
    rows, graph = search.run(engine)
    rows = exact_ones(rows, graph, unit.shape[1])
    runtime["neighbours_seconds"] = time.perf_counter() - start
    return Neighbours(rows, graph, n, tau, engine, diagnostics, runtime)


def exact_ones(rows: Rows, graph: NeighbourGraph | None, d: int) -> Rows:
    """The neighbour rows with every similarity within float64 rounding of 1 made exactly 1
    (:func:`~noisyprune.pruners.neighbours.float32_screen.snap_ones`): in the graph's weights in place,
    or by wrapping the on-demand row function. Identical embeddings then weigh the same in every
    engine, and ties between duplicate samples go to the lowest sample id whichever engine computed
    them."""
    if graph is not None:
        snap_ones(graph.weights, d)
        return graph.row

    def snapped(i: int) -> tuple[np.ndarray, np.ndarray]:
        neighbours, similarity = rows(i)
        return neighbours, snap_ones(np.array(similarity, dtype=np.float64), d)

    return snapped


class _Search:
    """One engine's way to the neighbour rows of the unit rows ``unit`` at ``tau``, recording its
    facts into ``diagnostics`` and ``runtime`` (the dicts :func:`find_neighbours` returns)."""

    def __init__(
        self,
        unit: np.ndarray,
        tau: float,
        budget: int,
        need_graph: bool,
        settings: EngineSettings,
        diagnostics: dict,
        runtime: dict,
    ):
        self.unit, self.tau, self.budget, self.need_graph = unit, tau, budget, need_graph
        self.settings, self.diagnostics, self.runtime = settings, diagnostics, runtime

    def run(self, engine: str) -> tuple[Rows, NeighbourGraph | None]:
        """Return ``(rows, graph)``: a row function, and the full graph when one was built."""
        unit, tau, settings = self.unit, self.tau, self.settings
        n = len(unit)
        graph = None
        if engine == "dense":
            graph = exact_graph_blocked(unit, tau, "cpu") if self.need_graph else None
            rows = graph.row if graph else DenseRows(unit, tau).row
        elif engine == "torch":
            graph = self._torch_graph()
            rows = graph.row if graph is not None else DenseRows(unit, tau).row
        elif engine == "graph":
            index = ClusteredExactIndex(unit, tau, settings.clusters, seed=0)
            self.diagnostics["clusters"] = len(index.centroids)
            graph = self._graph_if_worth_it(index)
            rows = graph.row if graph is not None else index.row
        else:
            ivf = IVFRows(unit, tau, settings.ivf_nlist, settings.ivf_nprobe, seed=0)
            self.diagnostics.update(ivf_nlist=ivf.nlist, ivf_nprobe=ivf.nprobe)
            queries = np.sort(np.random.default_rng(0).permutation(n)[: settings.recall_sample])
            self.diagnostics["neighbour_recall"] = round(neighbour_recall(ivf.row, unit, tau, queries), 6)
            graph = ivf.graph() if self.need_graph else None
            rows = graph.row if graph else ivf.row
        self.runtime["neighbour_rows"] = "graph" if graph is not None else "on_demand"
        if graph is not None:
            self.runtime.update(edges=graph.num_edges, mean_degree=round(graph.num_edges / n, 3))
        return rows, graph

    def _torch_graph(self) -> NeighbourGraph | None:
        """The τ-graph from all pairs with torch on a CUDA device, or ``None`` (rows on demand) when
        building it would exceed ``max_graph_gb`` at its peak. Without a GPU (only an explicit
        ``engine: torch`` gets here: ``auto`` picks it only on CUDA) the same code runs on the CPU,
        with a warning: the selection is the same, the graph engine is faster there."""
        unit = self.unit
        n, d = unit.shape
        device = torch_device()
        if device == "cpu":
            log.warning(
                "prune4rel engine 'torch' is meant for a CUDA device and torch sees none here: all %d² pairs "
                "run on the CPU (the same selection; engine 'graph' is faster on a CPU)",
                n,
            )
        self.runtime["torch_device"] = device
        tiles = TorchTiles(unit, self.tau, device, TORCH_TILE_COLS)
        sample = np.sort(np.random.default_rng(0).permutation(n)[: min(n, 64)])
        edges = len(tiles(sample, np.arange(n))[0]) / len(sample) * n
        block = min(n, TORCH_BLOCK_ROWS)
        peak_gb = estimated_peak_bytes(edges, block, tiles.tile_cols, d, block / n) / 1e9
        self.runtime["estimated_peak_graph_gb"] = round(peak_gb, 3)
        if not self._fits(peak_gb):
            return None
        start = time.perf_counter()
        graph = build_streamed_graph(n, all_pairs_groups(n, block), tiles)
        self.runtime["graph_seconds"] = round(time.perf_counter() - start, 2)
        return graph

    def _fits(self, peak_gb: float) -> bool:
        """Whether a graph build peaking at ``peak_gb`` is allowed; a caller that cannot do without
        the graph (``need_graph``: the ``neighborhood`` gain) gets an error when it is not."""
        if peak_gb <= self.settings.max_graph_gb:
            return True
        if self.need_graph:
            raise MemoryError(
                f"prune4rel: building the τ-graph would need about {peak_gb:.1f} GB at its peak "
                f"(max_graph_gb {self.settings.max_graph_gb}); raise tau or max_graph_gb, use gain 'own', "
                "or engine 'ivf'"
            )
        return False

    def _graph_if_worth_it(self, index: ClusteredExactIndex) -> NeighbourGraph | None:
        """Build the whole τ-graph when the caller needs it or when it is predicted to be cheaper
        than computing the ``budget`` picked rows one by one; ``None`` otherwise. The build takes the
        strategy predicted fastest here and must fit in ``max_graph_gb`` at its peak. Every choice
        gives the same rows, so the (timing-based) choices never change the selection."""
        unit = index.unit
        n, d = unit.shape
        screened = NumpyTiles(unit, self.tau, screen=True, tile_cols=TILE_COLS)
        sample = np.sort(np.random.default_rng(0).permutation(n)[: min(n, 64)])
        mean_degree = len(screened(sample, np.arange(n))[0]) / len(sample)
        timed = sample[:8]
        start = time.perf_counter()
        for i in timed:
            index.row(int(i))
        row_seconds = (time.perf_counter() - start) / len(timed)
        edges = mean_degree * n
        rates = machine_rates(self.settings.calibrate)
        groups = int(index.nonempty.sum())
        predicted = graph_strategy_seconds(rates, n, d, index.pair_fraction(), index.gathered_rows(), edges, groups)
        strategy = min(GRAPH_STRATEGIES, key=predicted.get)
        largest = ALL_PAIRS_BLOCK_ROWS if strategy == "all_pairs_screened" else max(map(len, index.members))
        peak_gb = estimated_peak_bytes(edges, ALL_PAIRS_BLOCK_ROWS, TILE_COLS, d, min(1.0, largest / n)) / 1e9
        self.runtime.update(
            multiplied_pair_fraction=round(index.pair_fraction(), 4),
            graph_strategy=strategy,
            estimated_graph_seconds=round(predicted[strategy], 2),
            **{f"estimated_{name}_seconds": round(value, 2) for name, value in predicted.items()},
            estimated_rows_seconds=round(self.budget * row_seconds, 2),
            estimated_peak_graph_gb=round(peak_gb, 3),
        )
        if not self._fits(peak_gb):
            return None
        if not self.need_graph and predicted[strategy] >= self.budget * row_seconds:
            return None
        start = time.perf_counter()
        if strategy == "all_pairs_screened":
            graph = build_streamed_graph(n, all_pairs_groups(n, ALL_PAIRS_BLOCK_ROWS), screened)
        else:
            if strategy == "clustered_float64":
                screened = NumpyTiles(unit, self.tau, screen=False)  # and the float32 copy goes
            graph = build_streamed_graph(n, index.row_groups(), screened)
        self.runtime["graph_seconds"] = round(time.perf_counter() - start, 2)
        return graph
