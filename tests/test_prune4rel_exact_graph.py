"""The float32-screen / float64-decide τ-graph: its rounding bound, its streamed construction,
its memory peak and the cost model that picks a strategy."""

import tracemalloc

import numpy as np
import pytest
from reference_prune4rel import clustered_embeddings, reference_prune4rel, unstructured_embeddings
from test_prune4rel import make_inputs, select

import noisyprune.pruners.neighbours.engine_costs as engine_costs
import noisyprune.pruners.neighbours.float32_screen as float32_screen
import noisyprune.pruners.neighbours.search as search
from noisyprune.pruners.neighbours.engine_costs import Rates, graph_strategy_seconds, machine_rates
from noisyprune.pruners.neighbours.float32_screen import cosine_error_bound, float64_similarity, screen_threshold
from noisyprune.pruners.neighbours.graph import unit_rows
from noisyprune.pruners.neighbours.sources import IVF_PHASE, ClusteredExactIndex
from noisyprune.pruners.neighbours.streamed_graph import (
    PHASE,
    NumpyTiles,
    all_pairs_groups,
    build_streamed_graph,
    estimated_peak_bytes,
)
from noisyprune.pruners.neighbours.torch_tiles import TorchTiles
from noisyprune.pruners.progress import listening


def pairs_at_tau(m: int, d: int, tau: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``m`` pairs of float64 unit rows whose float64 similarity lies within ~1e-13 of ``tau``, about
    half of them above it; components sit halfway between float32 values, where rounding to float32
    errs most. Returns ``(unit (2m, d), above (m,) bool)`` with rows ``i`` and ``m + i`` paired."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((m, d))
    x32 = x.astype(np.float32)
    # halfway between x32 and the next float32 away from zero: the worst case of input rounding
    x = (x32.astype(np.float64) + np.nextafter(x32, np.sign(x32) * np.float32(np.inf)).astype(np.float64)) / 2
    x = unit_rows(x)
    w = rng.standard_normal((m, d))
    w -= np.einsum("ij,ij->i", w, x)[:, None] * x
    w = unit_rows(w)
    cos_tau = 2 * tau - 1
    a = cos_tau + rng.uniform(-1e-13, 1e-13, m)
    y = unit_rows(a[:, None] * x + np.sqrt(1 - a**2)[:, None] * w)
    unit = np.vstack([x, y])
    above = float64_similarity(unit, np.arange(m), np.arange(m, 2 * m)) > tau
    return unit, above


@pytest.mark.parametrize("d", [3, 64, 512, 2048])
def test_float32_cosine_error_stays_within_the_bound(d):
    unit, _ = pairs_at_tau(400, d, 0.975, seed=d)
    x, y = unit[:400], unit[400:]
    cos32 = np.einsum("ij,ij->i", x.astype(np.float32), y.astype(np.float32))  # one summation order
    gemm32 = (x.astype(np.float32) @ y.astype(np.float32).T).diagonal()  # another (BLAS)
    cos64 = np.einsum("ij,ij->i", x, y)
    bound = cosine_error_bound(d)
    assert np.abs(cos32.astype(np.float64) - cos64).max() <= bound
    assert np.abs(gemm32.astype(np.float64) - cos64).max() <= bound
    assert bound >= (d + 2) * 2.0**-24
    threshold = screen_threshold(0.975, d)
    assert threshold.dtype == np.float32 and float(threshold) <= 2 * 0.975 - 1 - bound


@pytest.mark.parametrize("d", [64, 512])
def test_screen_never_misses_pairs_at_tau_and_would_without_its_margin(d, monkeypatch):
    tau, m = 0.975, 300
    unit, above = pairs_at_tau(m, d, tau, seed=1)
    assert 0.2 < above.mean() < 0.8  # the construction puts pairs on both sides of τ
    truth = {(i, m + i) for i in np.flatnonzero(above)}
    tiles = NumpyTiles(unit, tau, screen=True, tile_cols=128)
    graph = build_streamed_graph(2 * m, all_pairs_groups(2 * m, 50), tiles)
    found = {(i, int(j)) for i in range(m) for j in graph.row(i)[0] if j != i}
    assert found == truth
    # the control: with no margin the float32 screen drops some of these pairs
    monkeypatch.setattr(float32_screen, "cosine_error_bound", lambda d: 0.0)
    unguarded = NumpyTiles(unit, tau, screen=True, tile_cols=128)
    pairs = unguarded(np.arange(m), np.arange(m, 2 * m))
    assert len(set(zip(pairs[0].tolist(), pairs[1].tolist(), strict=True)) & truth) < len(truth)


def dense_truth(unit, tau):
    """Every pair decided in float64 one by one (the screened engines' decision)."""
    n = len(unit)
    rows, cols = np.divmod(np.arange(n * n), n)
    similarity = float64_similarity(unit, rows, cols)
    keep = similarity > tau
    return rows[keep], cols[keep], similarity[keep]


@pytest.mark.parametrize("seed", [0, 1])
def test_every_strategy_builds_the_same_graph(seed):
    embedding, _, _ = clustered_embeddings(700, 24, 4, seed=seed)
    unit = unit_rows(embedding)
    tau = 0.95
    rows, cols, weights = dense_truth(unit, tau)
    index = ClusteredExactIndex(unit, tau, clusters=15, seed=seed)
    built = {
        "all_pairs_screened": build_streamed_graph(700, all_pairs_groups(700, 64), NumpyTiles(unit, tau, True, 100)),
        "clustered_screened": build_streamed_graph(700, index.row_groups(), NumpyTiles(unit, tau, True, 100)),
        "clustered_float64": build_streamed_graph(700, index.row_groups(), NumpyTiles(unit, tau, False, 100)),
        "torch_cpu": build_streamed_graph(700, all_pairs_groups(700, 96), TorchTiles(unit, tau, "cpu", 150)),
    }
    for name, graph in built.items():
        expanded = np.repeat(np.arange(700), np.diff(graph.indptr))
        assert np.array_equal(expanded, rows), name
        assert np.array_equal(graph.indices, cols), name
        assert np.allclose(graph.weights, weights, rtol=0, atol=1e-14), name
        assert graph.num_edges > 5 * 700  # dense enough that blocks mirror into later ones


def test_the_streamed_build_reports_the_pairs_it_multiplied_group_by_group():
    embedding, _, _ = clustered_embeddings(700, 24, 4, seed=0)
    unit = unit_rows(embedding)
    groups = all_pairs_groups(700, 64)
    heard = []
    with listening(lambda *progress: heard.append(progress)):
        graph = build_streamed_graph(700, groups, NumpyTiles(unit, 0.95, True, 100))
    # block g (rows 64g … 64g + 63) meets the columns from 64g on: 64 · (700 − 64g) pairs
    sizes = [len(group.rows) * (700 - start) for group, start in zip(groups, range(0, 700, 64), strict=True)]
    total = sum(sizes)
    assert heard == [(PHASE, sum(sizes[:g]), total, "pair") for g in range(len(groups))] + [
        (PHASE, total, total, "pair")
    ]
    unheard = build_streamed_graph(700, groups, NumpyTiles(unit, 0.95, True, 100))
    assert np.array_equal(graph.indptr, unheard.indptr) and np.array_equal(graph.indices, unheard.indices)


@pytest.mark.parametrize(
    ("engine", "phase", "unit", "total"),
    [("graph", PHASE, "pair", None), ("torch", PHASE, "pair", 600 * 600), ("ivf", IVF_PHASE, "row", 600)],
)
def test_a_selection_reports_its_graph_build_to_the_end_before_its_picks(engine, phase, unit, total):
    embedding, confidence, labels = clustered_embeddings(600, 32, 5, seed=3)
    inputs = make_inputs(embedding.astype(np.float32), confidence, labels)
    params = dict(engine=engine, gain="neighborhood", tau=0.95, balance="none", calibrate=False)
    heard = []
    with listening(lambda *progress: heard.append(progress)):
        selection = select(inputs, 200, **params)
    assert list(dict.fromkeys(progress[0] for progress in heard)) == [phase, "Prune4ReL greedy picks"]
    build = [progress for progress in heard if progress[0] == phase]
    done = [progress[1] for progress in build]
    assert done[0] == 0 and done == sorted(done) and {progress[3] for progress in build} == {unit}
    assert done[-1] == build[-1][2] == (total or build[0][2]) > 0  # reaches its total, the same throughout
    assert {progress[2] for progress in build} == {build[0][2]}
    assert selection.positions.tolist() == select(inputs, 200, **params).positions.tolist()  # nobody listening


def test_unstructured_data_has_rare_but_present_neighbours():
    embedding, _, _ = unstructured_embeddings(2000, 512, 10)
    unit = unit_rows(embedding)
    graph = build_streamed_graph(2000, all_pairs_groups(2000, 256), NumpyTiles(unit, 0.975, True))
    degree = np.diff(graph.indptr)
    assert degree.min() == 1  # itself
    assert 0.03 < (degree > 1).mean() < 0.3
    assert ClusteredExactIndex(unit, 0.975).pair_fraction() == 1.0  # clustering prunes nothing


def test_streamed_build_stays_within_its_estimated_peak():
    embedding, _, _ = clustered_embeddings(3000, 32, 6, seed=2)
    unit = unit_rows(embedding)
    tiles = NumpyTiles(unit, 0.9, screen=False, tile_cols=512)  # made before tracing: the embeddings
    tracemalloc.start()
    graph = build_streamed_graph(3000, all_pairs_groups(3000, 256), tiles)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert graph.num_edges > 100_000
    assert graph.nbytes < peak <= estimated_peak_bytes(graph.num_edges, 256, 512, 32, group_share=256 / 3000)


@pytest.mark.parametrize("engine", ["graph", "torch"])
def test_memory_capped_selection_equals_the_graph_selection(engine):
    embedding, confidence, labels = clustered_embeddings(600, 32, 5, seed=3)
    embedding = embedding.astype(np.float32)
    confidence = confidence.astype(np.float32).astype(np.float64)
    inputs = make_inputs(embedding, confidence, labels)
    full = select(inputs, 200, engine=engine, tau=0.95, balance="none", max_graph_gb=4.0, calibrate=False)
    capped = select(inputs, 200, engine=engine, tau=0.95, balance="none", max_graph_gb=1e-4)
    expected, _ = reference_prune4rel(embedding, confidence, 200, 0.95, 1.0)
    assert full.runtime["neighbour_rows"] == "graph"
    assert capped.runtime["neighbour_rows"] == "on_demand"
    assert capped.runtime["estimated_peak_graph_gb"] > 1e-4
    assert full.positions.tolist() == capped.positions.tolist() == expected.tolist()
    with pytest.raises(MemoryError, match="at its peak"):
        select(inputs, 200, engine=engine, gain="neighborhood", tau=0.95, max_graph_gb=1e-4)


def fake_rates(**changes):
    base = dict(gemm32=1e11, gemm64=5e10, scan32=1e-9, scan64=4e-9, pair=1e-6, edge=2e-7, call=1e-4)
    return Rates(**{**base, **changes})


def test_cost_model_prefers_the_screen_without_structure_and_float64_for_dense_clusters():
    n, d = 200_000, 512
    unstructured = graph_strategy_seconds(fake_rates(), n, d, 1.0, gathered_rows=n * 220, edges=n, groups=447)
    assert min(unstructured, key=unstructured.get) == "all_pairs_screened"
    # clusters prune 90% of pairs and 3% of the rest are neighbours: screening buys little there
    clustered = graph_strategy_seconds(fake_rates(), n, d, 0.1, gathered_rows=n * 25, edges=600 * n, groups=447)
    assert min(clustered, key=clustered.get) == "clustered_float64"
    # clusters prune 90% and neighbours are rare among the rest: screen the surviving pairs
    sparse = graph_strategy_seconds(fake_rates(), n, d, 0.1, gathered_rows=n * 25, edges=2 * n, groups=447)
    assert min(sparse, key=sparse.get) == "clustered_screened"
    # 10k clustered samples: one product per cluster is cheap on idle cores, but where each
    # product has a large fixed cost (cores shared with other work) fewer, larger products win
    case = dict(n=10_000, d=d, pair_fraction=0.1, gathered_rows=10_000 * 10, edges=30 * 10_000, groups=100)
    idle = graph_strategy_seconds(fake_rates(), **case)
    assert min(idle, key=idle.get) == "clustered_float64"
    busy = graph_strategy_seconds(fake_rates(call=0.05), **case)
    assert min(busy, key=busy.get) == "all_pairs_screened"
    # all pairs at 1e11 flop/s: n² d flops
    assert unstructured["all_pairs_screened"] == pytest.approx(n * n * d / 1e11, rel=0.25)


@pytest.mark.parametrize("strategy", search.GRAPH_STRATEGIES)
def test_every_strategy_selects_what_the_reference_selects(strategy, monkeypatch):
    embedding, confidence, labels = unstructured_embeddings(500, 48, 5, seed=4, max_spread=1.2)
    embedding = embedding.astype(np.float32)
    confidence = confidence.astype(np.float32).astype(np.float64)
    forced = {name: (0.0 if name == strategy else 100.0) for name in search.GRAPH_STRATEGIES}
    monkeypatch.setattr(search, "graph_strategy_seconds", lambda *args: forced)
    selection = select(make_inputs(embedding, confidence, labels), 300, engine="graph", tau=0.9, balance="equal")
    expected, _ = reference_prune4rel(embedding, confidence, 300, 0.9, 1.0, labels, 5, "equal")
    assert selection.runtime["graph_strategy"] == strategy
    assert selection.runtime["neighbour_rows"] == "graph"
    assert selection.positions.tolist() == expected.tolist()


def test_calibration_is_measured_once_and_cached_per_machine(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    calls = []
    monkeypatch.setattr(engine_costs, "measure_rates", lambda: calls.append(1) or fake_rates())
    assert machine_rates() == fake_rates()
    assert machine_rates() == fake_rates()
    assert len(calls) == 1
    assert (tmp_path / "noisyprune" / "prune4rel_rates.json").is_file()
    assert machine_rates(calibrate=False) == engine_costs.DEFAULT_RATES
