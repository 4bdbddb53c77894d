"""The torch Prune4ReL engine (meant for a CUDA device) run on CPU tensors against the CPU engines:
the same τ-graph and the same selection at several sizes, across row blocks and column tiles, with
pairs whose similarity lies within float32 rounding of τ and with exact ties (duplicate embeddings,
equal confidences). On a machine with a GPU the same tests also run the engine on CUDA."""

import logging

import numpy as np
import pytest
import torch
from reference_prune4rel import clustered_embeddings
from test_prune4rel import CLASSES, make_inputs, select

import noisyprune.pruners.neighbours.float32_screen as float32_screen
import noisyprune.pruners.neighbours.search as search
import noisyprune.pruners.neighbours.torch_tiles as torch_tiles
from noisyprune.pruners.neighbours.float32_screen import float64_similarity
from noisyprune.pruners.neighbours.graph import unit_rows
from noisyprune.pruners.neighbours.streamed_graph import NumpyTiles, all_pairs_groups, build_streamed_graph
from noisyprune.pruners.neighbours.torch_tiles import TorchTiles

TAU = 0.975
DEVICES = ["cpu", *(["cuda"] if torch.cuda.is_available() else [])]


def near_tau_problem(n: int, d: int = 24, seed: int = 0):
    """Clustered warm-up features (confidences rounded to 1e-3: ties) with, among the ``n``
    samples, 10% exact duplicates of other samples and 20% partners of another sample whose float64
    similarity, as the engines compute it from the float32 embeddings, lies within 3e-9 of ``TAU``
    on either side (far inside the float32 screen's margin, ~1.5e-6 at d = 24).

    Returns ``(embedding (n, d) float32, confidence (n,), labels (n,), partners (m, 2))``."""
    rng = np.random.default_rng(seed)
    base = n - n // 10 - n // 5
    embedding, confidence, labels = clustered_embeddings(base, d, CLASSES, seed=seed)
    originals = rng.choice(base, n // 5, replace=False)
    x = unit_rows(embedding[originals])
    w = rng.standard_normal(x.shape)
    w = unit_rows(w - np.einsum("ij,ij->i", w, x)[:, None] * x)
    cos_tau = 2 * TAU - 1
    # Rounding a partner to float32 moves its similarity by ~1e-8: draw candidates and keep the one
    # closest to its target just above or below τ.
    target = TAU + rng.choice([-1.0, 1.0], len(x)) * rng.uniform(2e-10, 2e-9, len(x))
    partners = np.empty_like(embedding[originals])
    for i in range(len(x)):
        a = cos_tau + rng.uniform(-1e-7, 1e-7, 256)
        candidates = (a[:, None] * x[i] + np.sqrt(1 - a**2)[:, None] * w[i]).astype(np.float32)
        unit = unit_rows(np.vstack([embedding[originals[i] : originals[i] + 1], candidates]))
        similarity = 0.5 + 0.5 * (unit[1:] @ unit[0])
        partners[i] = candidates[np.argmin(np.abs(similarity - target[i]))]
    duplicates = rng.choice(base, n // 10, replace=False)
    embedding = np.vstack([embedding, partners, embedding[duplicates]])
    confidence = np.concatenate([confidence, confidence[originals], confidence[duplicates]])
    labels = np.concatenate([labels, labels[originals], labels[duplicates]])
    pairs = np.column_stack([originals, base + np.arange(len(originals))])
    return embedding, confidence.astype(np.float32).astype(np.float64), labels, pairs


@pytest.fixture(params=DEVICES)
def device(request, monkeypatch):
    monkeypatch.setattr(search, "torch_device", lambda: request.param)
    return request.param


def test_the_problem_puts_pairs_on_both_sides_of_tau_within_float32_rounding():
    embedding, _, _, pairs = near_tau_problem(1500)
    unit = unit_rows(embedding)
    gap = float64_similarity(unit, pairs[:, 0], pairs[:, 1]) - TAU
    assert np.abs(gap).max() < 3e-9 < float32_screen.cosine_error_bound(24) / 100
    assert 0.3 < (gap > 0).mean() < 0.7


# (n, row block, column tile): several blocks mirroring into later ones and ragged last tiles at the
# small sizes, the engine's own block and tile sizes at the largest (two blocks, one tile)
SIZES = [(300, 64, 100), (1500, 256, 700), (5000, search.TORCH_BLOCK_ROWS, search.TORCH_TILE_COLS)]


@pytest.mark.parametrize("n, block, tile", SIZES)
def test_torch_tiles_build_the_graph_the_cpu_engine_builds(n, block, tile, device):
    embedding, _, _, pairs = near_tau_problem(n)
    unit = unit_rows(embedding)
    cpu = build_streamed_graph(n, all_pairs_groups(n, 1024), NumpyTiles(unit, TAU, screen=True))
    built = build_streamed_graph(n, all_pairs_groups(n, block), TorchTiles(unit, TAU, device, tile))
    assert np.array_equal(built.indptr, cpu.indptr) and np.array_equal(built.indices, cpu.indices)
    assert np.allclose(built.weights, cpu.weights, rtol=0, atol=1e-15)
    above = float64_similarity(unit, pairs[:, 0], pairs[:, 1]) > TAU
    found = np.array([j in built.row(i)[0] for i, j in pairs])
    assert np.array_equal(found, above)  # every near-τ pair decided as float64 decides it


@pytest.mark.parametrize(("n", "block", "tile"), SIZES)
@pytest.mark.parametrize("gain", ["own", "neighborhood"])
def test_torch_engine_selects_what_the_graph_and_dense_engines_select(n, block, tile, gain, device, monkeypatch):
    monkeypatch.setattr(search, "TORCH_BLOCK_ROWS", block)
    monkeypatch.setattr(search, "TORCH_TILE_COLS", tile)
    embedding, confidence, labels, _ = near_tau_problem(n, seed=n)
    inputs = make_inputs(embedding, confidence, labels)
    balance = {300: "none", 1500: "equal", 5000: "proportional"}[n]
    params = dict(tau=TAU, gain=gain, balance=balance, calibrate=False)
    budget = n * 2 // 5
    torch_run = select(inputs, budget, engine="torch", **params)
    assert torch_run.runtime["torch_device"] == device and torch_run.runtime["neighbour_rows"] == "graph"
    for engine in ("graph", "dense"):
        other = select(inputs, budget, engine=engine, **params)
        assert torch_run.positions.tolist() == other.positions.tolist(), engine
        assert np.allclose(torch_run.scores, other.scores, rtol=1e-12, atol=1e-15), engine
        mine = {k: v for k, v in torch_run.diagnostics.items() if k not in ("engine", "clusters")}
        theirs = {k: v for k, v in other.diagnostics.items() if k not in ("engine", "clusters")}
        assert mine == theirs, engine


def test_without_the_screen_margin_the_torch_engine_would_select_otherwise(monkeypatch):
    """The control: the near-τ pairs decide the selection, so a torch engine that dropped them (here:
    its float32 screen without the rounding-error margin) would fail the test above."""
    monkeypatch.setattr(search, "torch_device", lambda: "cpu")
    embedding, confidence, labels, _ = near_tau_problem(1500, seed=1500)
    inputs = make_inputs(embedding, confidence, labels)
    exact = select(inputs, 600, engine="torch", tau=TAU, balance="equal")
    monkeypatch.setattr(torch_tiles, "screen_threshold", lambda tau, d: np.float32(2 * tau - 1))
    unguarded = select(inputs, 600, engine="torch", tau=TAU, balance="equal")
    assert unguarded.runtime["edges"] < exact.runtime["edges"]
    assert unguarded.positions.tolist() != exact.positions.tolist()


def test_torch_engine_on_a_machine_without_a_gpu_warns_and_records_its_device(monkeypatch, caplog):
    monkeypatch.setattr(search, "torch_device", lambda: "cpu")
    embedding, confidence, labels, _ = near_tau_problem(300)
    with caplog.at_level(logging.WARNING, logger="noisyprune.pruners.neighbours.search"):
        selection = select(make_inputs(embedding, confidence, labels), 100, engine="torch", tau=TAU)
    assert selection.runtime["torch_device"] == "cpu"
    assert "torch_device" not in selection.diagnostics  # the subset itself stays device-free
    assert any("meant for a CUDA device" in record.getMessage() for record in caplog.records)


def test_without_exact_ones_the_engines_break_ties_between_duplicates_differently(monkeypatch):
    """The control for duplicates: their gains are equal, and without counting a similarity within
    float64 rounding of 1 as exactly 1 the torch and graph engines order them by rounding noise."""
    monkeypatch.setattr(search, "torch_device", lambda: "cpu")
    monkeypatch.setattr(search, "TORCH_BLOCK_ROWS", 64)
    monkeypatch.setattr(search, "TORCH_TILE_COLS", 100)
    monkeypatch.setattr(search, "snap_ones", lambda similarity, d: similarity)
    embedding, confidence, labels, _ = near_tau_problem(300, seed=300)
    inputs = make_inputs(embedding, confidence, labels)
    params = dict(tau=TAU, gain="neighborhood", balance="none", calibrate=False)
    torch_run, graph_run = (select(inputs, 120, engine=engine, **params) for engine in ("torch", "graph"))
    assert torch_run.positions.tolist() != graph_run.positions.tolist()


@pytest.mark.parametrize("d", [3, 24, 512, 2048])
def test_every_way_of_computing_the_similarity_of_identical_rows_lies_within_one_slack(d):
    embedding = np.random.default_rng(d).standard_normal((300, d)).astype(np.float32)
    unit = unit_rows(embedding)
    ways = {
        "blas": np.diagonal(unit @ unit.T),
        "einsum": np.einsum("ij,ij->i", unit, unit),
        "torch": (torch.as_tensor(unit) * torch.as_tensor(unit)).sum(dim=1).numpy(),
    }
    slack = float32_screen.one_slack(d)
    for name, cosine in ways.items():
        assert np.abs(0.5 + 0.5 * cosine - 1.0).max() <= slack, name
    near = np.array([1.0 - slack / 2, 1.0 - 2 * slack, 1.0 + slack / 4])
    assert float32_screen.snap_ones(near, d).tolist() == [1.0, 1.0 - 2 * slack, 1.0]


def test_device_cpu_keeps_the_torch_engine_off_a_gpu(monkeypatch):
    """``device: cpu`` in the config (the select stage's ``on_device``) wins over a GPU torch sees."""
    import torch

    from noisyprune.pruners.neighbours.torch_tiles import torch_device
    from noisyprune.pruners.placement import on_device
    from noisyprune.pruners.prune4rel import Prune4ReL

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    pruner = Prune4ReL(tau=0.9)
    assert pruner.engine_settings.engine_for(50_000) == "torch" and torch_device() == "cuda"
    with on_device("cpu"):
        assert pruner.engine_settings.engine_for(50_000) == "graph" and torch_device() == "cpu"
    with on_device("cuda"):
        assert torch_device() == "cuda"
    with pytest.raises(ValueError, match="device must be one of"), on_device("gpu"):
        pass
