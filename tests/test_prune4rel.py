"""Prune4ReL: the fast engines select exactly what the dense original-algorithm reference selects."""

import numpy as np
import pyarrow as pa
import pytest
from reference_prune4rel import (
    brute_force_neighborhood_greedy,
    clustered_embeddings,
    objective,
    reference_prune4rel,
)

from noisyprune.artifacts import Artifact
from noisyprune.pruners import build_pruner
from noisyprune.pruners.base import PrunerInputs
from noisyprune.pruners.neighbours.graph import unit_rows
from noisyprune.pruners.neighbours.sources import ClusteredExactIndex, DenseRows, IVFRows, exact_graph_blocked
from noisyprune.pruners.prune4rel import RoundRobin, coverage_objective, sample_confidence

CLASSES = 5


def make_inputs(embedding, confidence, labels, num_classes=CLASSES):
    """Pruner inputs whose features hold ``embedding`` and ``max_prob`` confidence ``confidence``."""
    n = len(confidence)
    table = pa.table(
        {
            "sample_id": np.arange(n),
            "confidence": np.asarray(confidence, dtype=np.float64),
            "embedding": pa.FixedSizeListArray.from_arrays(
                pa.array(np.asarray(embedding, dtype=np.float32).reshape(-1)), embedding.shape[1]
            ),
        }
    )
    return PrunerInputs(
        sample_id=np.arange(n),
        noisy_label=np.asarray(labels),
        num_classes=num_classes,
        features=Artifact(table=table, metadata={}, path=None),
    )


def select(inputs, budget, **params):
    pruner = build_pruner({"pruner": "prune4rel", **params})
    return pruner.select(inputs, budget, np.random.default_rng(0))


@pytest.fixture(scope="module")
def problem():
    embedding, confidence, labels = clustered_embeddings(600, 32, CLASSES, seed=3)
    # The engine sees float32 features, as read from features.parquet: give the reference the same.
    return embedding.astype(np.float32), confidence.astype(np.float32).astype(np.float64), labels


@pytest.mark.parametrize("engine", ["dense", "graph", "torch", "ivf_exhaustive"])
@pytest.mark.parametrize("balance", ["none", "proportional", "equal"])
@pytest.mark.parametrize("tau, eta", [(0.95, 1.0), (0.9, 0.3), (0.975, 100.0)])
def test_own_gain_matches_the_dense_reference(problem, engine, balance, tau, eta):
    embedding, confidence, labels = problem
    budget = 240
    params = {"engine": engine, "tau": tau, "eta": eta, "balance": balance}
    if engine == "ivf_exhaustive":  # visiting every list makes IVF exact
        params.update(engine="ivf", ivf_nlist=8, ivf_nprobe=8)
    selection = select(make_inputs(embedding, confidence, labels), budget, **params)
    expected, expected_scores = reference_prune4rel(embedding, confidence, budget, tau, eta, labels, CLASSES, balance)
    assert selection.positions.tolist() == expected.tolist()
    assert np.allclose(selection.scores, expected_scores, rtol=1e-12, atol=1e-15)


def test_graph_engine_single_rows_path_matches_reference(problem):
    embedding, confidence, labels = problem
    budget = 40
    # a graph memory cap of ~0 forces rows on demand (the timing-based choice would vary with the machine's load)
    selection = select(
        make_inputs(embedding, confidence, labels), budget, engine="graph", tau=0.95, balance="none", max_graph_gb=1e-12
    )
    expected, _ = reference_prune4rel(embedding, confidence, budget, 0.95, 1.0)
    assert selection.runtime["neighbour_rows"] == "on_demand"
    assert selection.positions.tolist() == expected.tolist()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exact_neighbour_sources_agree(seed):
    embedding, _, _ = clustered_embeddings(800, 24, 4, seed=seed)
    unit = unit_rows(embedding)
    dense = DenseRows(unit, 0.95)
    clustered = ClusteredExactIndex(unit, 0.95, clusters=12, seed=seed)
    blocked = exact_graph_blocked(unit, 0.95, block_rows=128)
    graph = clustered.graph()
    for built in (clustered.graph(screen=False), clustered.graph(screen=True)):
        assert np.array_equal(built.indptr, blocked.indptr) and np.array_equal(built.indices, blocked.indices)
        assert np.allclose(built.weights, blocked.weights, rtol=0, atol=1e-14)
    for i in range(0, 800, 37):
        expected = dense.row(i)
        for row in (clustered.row(i), graph.row(i), blocked.row(i)):
            assert np.array_equal(row[0], expected[0])
            assert np.allclose(row[1], expected[1], rtol=0, atol=1e-14)


def test_ivf_reports_recall_and_few_probes_miss_neighbours():
    embedding, confidence, labels = clustered_embeddings(3000, 32, 20, seed=1)
    inputs = make_inputs(embedding, confidence, labels, num_classes=20)
    full = select(inputs, 300, engine="ivf", tau=0.9, ivf_nlist=50, ivf_nprobe=50, balance="none")
    narrow = select(inputs, 300, engine="ivf", tau=0.9, ivf_nlist=50, ivf_nprobe=1, balance="none")
    assert full.diagnostics["neighbour_recall"] == 1.0
    assert 0.0 < narrow.diagnostics["neighbour_recall"] < 1.0
    unit = unit_rows(embedding)
    ivf = IVFRows(unit, 0.9, nlist=50, nprobe=1)
    assert set(ivf.row(5)[0]) <= set(DenseRows(unit, 0.9).row(5)[0])


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_neighborhood_gain_equals_brute_force_greedy(seed):
    embedding, confidence, labels = clustered_embeddings(150, 16, 3, seed=seed)
    embedding = embedding.astype(np.float32)
    confidence = confidence.astype(np.float32).astype(np.float64)
    inputs = make_inputs(embedding, confidence, labels, num_classes=3)
    exhaustive_ivf = {"ivf_nlist": 3, "ivf_nprobe": 3}  # visiting every list makes IVF exact
    for engine, extra in (("dense", {}), ("graph", {}), ("torch", {}), ("ivf", exhaustive_ivf)):
        selection = select(inputs, 40, engine=engine, gain="neighborhood", tau=0.9, eta=1.0, balance="none", **extra)
        expected = brute_force_neighborhood_greedy(embedding, confidence, 40, 0.9, 1.0)
        assert selection.positions.tolist() == expected.tolist()
        assert objective(selection.positions, embedding, confidence, 0.9, 1.0) == pytest.approx(
            objective(expected, embedding, confidence, 0.9, 1.0), rel=1e-12
        )


@pytest.mark.parametrize("balance", ["none", "proportional", "equal"])
@pytest.mark.parametrize("tau, eta", [(0.95, 1.0), (0.9, 0.5)])
def test_neighborhood_gain_objective_is_at_least_own_gain(problem, balance, tau, eta):
    embedding, confidence, labels = problem
    inputs = make_inputs(embedding, confidence, labels)
    rows = DenseRows(unit_rows(embedding), tau).row
    values = {}
    for gain in ("own", "neighborhood"):
        picks = select(inputs, 150, gain=gain, tau=tau, eta=eta, balance=balance, engine="graph").positions
        assert len(set(picks.tolist())) == 150
        values[gain] = coverage_objective(picks, confidence, rows, eta)
    assert values["neighborhood"] >= values["own"] - 1e-9


def test_balance_counts(problem):
    embedding, confidence, labels = problem
    inputs = make_inputs(embedding, confidence, labels)
    sizes = np.bincount(labels, minlength=CLASSES)
    for gain in ("own", "neighborhood"):
        equal = select(inputs, 200, balance="equal", gain=gain, tau=0.95).positions
        assert np.bincount(labels[equal], minlength=CLASSES).tolist() == [40] * CLASSES
        proportional = select(inputs, 200, balance="proportional", gain=gain, tau=0.95).positions
        counts = np.bincount(labels[proportional], minlength=CLASSES)
        assert counts.sum() == 200 and np.all(np.abs(counts - 200 * sizes / sizes.sum()) < 1)


def test_round_robin_follows_the_original_schedule():
    # Class sizes 3, 20, 5: class 0 runs out first (min_balance 3); when class 2 runs out at pick
    # 13, class 1 already gave 5 > 1.5 × 3 samples, so pick 13 is its last targeted one.
    labels = np.repeat([0, 1, 2], [3, 20, 5])
    schedule = RoundRobin(labels, 3)
    targets = []
    for i in range(16):
        target = schedule.target(i)
        targets.append(target)
        if target is not None:
            schedule.picked(target)
    assert targets == [0, 1, 2, 0, 1, 2, 0, 1, 2, 2, 1, 2, 1, 1, None, None]


@pytest.mark.parametrize("gain", ["own", "neighborhood"])
def test_equal_balance_falls_back_to_global_picks_like_the_original(gain):
    embedding, confidence, _ = clustered_embeddings(28, 16, 3, seed=5)
    labels = np.repeat([0, 1, 2], [3, 20, 5])
    inputs = make_inputs(embedding, confidence, labels, num_classes=3)
    picks = select(inputs, 20, balance="equal", gain=gain, tau=0.9, engine="dense").positions
    assert labels[picks[:14]].tolist() == [0, 1, 2, 0, 1, 2, 0, 1, 2, 2, 1, 2, 1, 1]
    if gain == "own":
        expected, _ = reference_prune4rel(embedding, confidence, 20, 0.9, 1.0, labels, 3, "equal")
        assert picks.tolist() == expected.tolist()


@pytest.mark.parametrize("gain", ["own", "neighborhood"])
@pytest.mark.parametrize("balance", ["none", "proportional", "equal"])
def test_budget_edge_cases(problem, gain, balance):
    embedding, confidence, labels = problem
    inputs = make_inputs(embedding[:50], confidence[:50], labels[:50])
    everything = select(inputs, 50, gain=gain, balance=balance, tau=0.95).positions
    assert sorted(everything.tolist()) == list(range(50))
    few = select(inputs, 3, gain=gain, balance=balance, tau=0.95).positions  # fewer picks than classes
    assert len(set(few.tolist())) == 3
    if balance == "equal":
        assert labels[:50][few].tolist() == [0, 1, 2]  # the rotation's first classes
    if gain == "own":  # the original's first pick is the most confident sample
        single = select(inputs, 1, gain=gain, balance="none", tau=0.95)
        assert single.positions.tolist() == [int(np.argmax(confidence[:50]))]


def test_confidence_kinds_are_oriented_towards_confidence():
    n = 3
    table = pa.table(
        {
            "sample_id": np.arange(n),
            "confidence": [1.0, 0.5, 1 / 3],
            "margin": [1.0, 0.2, 0.0],
            "entropy": [0.0, 0.6, np.log(3)],
        }
    )
    inputs = PrunerInputs(
        sample_id=np.arange(n),
        noisy_label=np.zeros(n, int),
        num_classes=3,
        features=Artifact(table=table, metadata={}, path=None),
    )
    for kind in ("max_prob", "margin", "entropy"):
        conf = sample_confidence(inputs, kind)
        assert conf[0] == pytest.approx(1.0) and conf[0] > conf[1] > conf[2]
    assert sample_confidence(inputs, "entropy")[2] == pytest.approx(0.0)


def test_zero_embedding_is_refused(problem):
    embedding, confidence, labels = problem
    broken = embedding[:20].copy()
    broken[3] = 0
    with pytest.raises(ValueError, match="1 embeddings are all zeros"):
        select(make_inputs(broken, confidence[:20], labels[:20]), 5)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"tau": 1.0}, "tau"),
        ({"eta": 0}, "eta"),
        ({"gain": "paper"}, "gain"),
        ({"engine": "gpu"}, "engine"),
        ({"confidence": "least"}, "confidence"),
    ],
)
def test_bad_parameters_are_refused(params, message):
    with pytest.raises(ValueError, match=message):
        build_pruner({"pruner": "prune4rel", **params})


def test_block_argmax_tracks_updates_with_lowest_index_ties():
    from noisyprune.pruners.prune4rel import BlockArgmax

    rng = np.random.default_rng(0)
    values = np.round(rng.random(5000), 2)  # many ties
    tracker = BlockArgmax(values, block=64)
    mirror = values.copy()
    for _ in range(300):
        assert tracker.argmax() == int(np.argmax(mirror))
        changed = rng.integers(0, 5000, 7)
        new = np.round(rng.random(7), 2) - 0.3
        tracker.values[changed] = new
        mirror[changed] = new
        tracker.refresh(changed)


def test_own_gain_with_block_argmax_matches_reference(problem, monkeypatch):
    import noisyprune.pruners.prune4rel as prune4rel

    monkeypatch.setattr(prune4rel, "BLOCK_ARGMAX_MIN", 10)
    embedding, confidence, labels = problem
    for balance in ("none", "proportional"):
        selection = select(make_inputs(embedding, confidence, labels), 300, engine="graph", tau=0.95, balance=balance)
        expected, _ = reference_prune4rel(embedding, confidence, 300, 0.95, 1.0, labels, CLASSES, balance)
        assert selection.positions.tolist() == expected.tolist()


def test_an_empty_noisy_class_turns_equal_balance_off_with_a_warning(problem, caplog):
    """The original's rotation: an empty class makes min_balance 0, so after one round every pick
    is global. Kept, and said in the log."""
    embedding, confidence, labels = problem
    labels = labels.copy()
    labels[labels == 2] = 1  # class 2 of CLASSES has no samples left
    inputs = make_inputs(embedding, confidence, labels)
    with caplog.at_level("WARNING", logger="noisyprune.pruners.prune4rel"):
        balanced = select(inputs, 120, tau=0.95, balance="equal")
    assert "[2] have no samples" in caplog.text
    expected, _ = reference_prune4rel(embedding, confidence, 120, 0.95, 1.0, labels, CLASSES, "equal")
    assert balanced.positions.tolist() == expected.tolist()


@pytest.mark.parametrize("gain", ["own", "neighborhood"])
def test_diagnostics_report_neighbourhoods_coverage_and_pick_confidence(gain):
    """Three tight, mutually orthogonal groups of 20: at τ = 0.9 every sample has exactly its 20
    group members (itself included) as τ-neighbours, and three picks, one per group, cover all."""
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(3), 20)
    embedding = np.eye(3)[groups] * 10 + rng.normal(0, 0.01, (60, 3))
    confidence = rng.uniform(0.5, 1.0, 60)
    selection = select(make_inputs(embedding, confidence, groups, num_classes=3), 3, tau=0.9, gain=gain)
    diagnostics = selection.diagnostics
    assert sorted(groups[selection.positions].tolist()) == [0, 1, 2]
    assert diagnostics["neighbours_mean"] == 20 and diagnostics["neighbours_median"] == 20
    assert diagnostics["picked_neighbours_mean"] == 20
    assert diagnostics["coverage"] == 1.0
    assert diagnostics["picked_confidence_mean"] == pytest.approx(confidence[selection.positions].mean(), abs=1e-6)
    assert diagnostics["confidence_mean"] == pytest.approx(confidence.mean(), abs=1e-6)
    assert 0 < diagnostics["objective_per_sample"] <= 1
    one_pick = select(make_inputs(embedding, confidence, groups, num_classes=3), 1, tau=0.9, gain=gain)
    assert one_pick.diagnostics["coverage"] == pytest.approx(20 / 60, abs=1e-6)


def test_automatic_tau_gives_the_target_mean_neighbourhood():
    from noisyprune.pruners.neighbours.auto_tau import tau_for_neighbours
    from noisyprune.pruners.neighbours.graph import rescaled

    rng = np.random.default_rng(1)
    unit = unit_rows(rng.normal(size=(3000, 16)))
    for target in (2.0, 25.0):
        tau = tau_for_neighbours(unit, target, sample_rows=200, chunk=700)  # several chunks
        rows = np.sort(np.random.default_rng(0).choice(3000, size=200, replace=False))
        similarity = rescaled(unit[rows] @ unit.T)
        similarity[np.arange(200), rows] = -np.inf
        assert (similarity > tau).sum() == round(target * 200)  # exactly k sampled pairs above τ
    # three orthogonal groups of 20: 19 neighbours besides itself puts τ between the groups
    groups = np.repeat(np.arange(3), 20)
    embedding = np.eye(3)[groups] * 10 + rng.normal(0, 0.01, (60, 3))
    confidence = rng.uniform(0.5, 1.0, 60)
    selection = select(make_inputs(embedding, confidence, groups, num_classes=3), 3, tau="auto", target_neighbours=19)
    assert 0.5 < selection.diagnostics["tau"] < 0.99
    assert selection.diagnostics["neighbours_mean"] == 20 and selection.diagnostics["coverage"] == 1.0
    default = select(make_inputs(embedding, confidence, groups, num_classes=3), 6, tau="auto")
    assert default.diagnostics["target_neighbours"] == 10  # n / budget
    with pytest.raises(ValueError, match=r"parameter .tau.: .sometimes. is not allowed here"):
        build_pruner({"pruner": "prune4rel", "tau": "sometimes"})


def inputs_with_probs(embedding, probs, labels, num_classes):
    """Pruner inputs whose features hold float32 ``probs`` ``(n, C)`` (with the derived confidence
    column) and float32 ``embedding``, as ``features.parquet`` stores them."""
    probs = np.asarray(probs, dtype=np.float32)
    n = len(probs)
    table = pa.table(
        {
            "sample_id": np.arange(n),
            "confidence": probs.max(axis=1).astype(np.float64),
            "probs": pa.FixedSizeListArray.from_arrays(pa.array(probs.reshape(-1)), probs.shape[1]),
            "embedding": pa.FixedSizeListArray.from_arrays(
                pa.array(np.asarray(embedding, dtype=np.float32).reshape(-1)), embedding.shape[1]
            ),
        }
    )
    return PrunerInputs(np.arange(n), np.asarray(labels), num_classes, Artifact(table=table, metadata={}, path=None))


def test_float16_inputs_are_the_originals_half_rounded_probabilities_and_embeddings(problem):
    """``input_precision: float16`` selects what the dense reference selects on the features as the
    original keeps them: ``prob.half()`` and ``embedding.half()`` (torch's rounding), the max
    probability of the rounded probabilities as confidence."""
    import torch

    embedding, _, labels = problem
    rng = np.random.default_rng(5)
    probs = rng.dirichlet(np.full(CLASSES, 0.3), size=len(labels)).astype(np.float32)
    inputs = inputs_with_probs(embedding, probs, labels, CLASSES)
    half_embedding = torch.from_numpy(embedding).half().double().numpy()
    half_confidence = torch.from_numpy(probs).half().double().max(dim=1).values.numpy()
    for balance in ("none", "equal"):
        selection = select(inputs, 200, tau=0.95, balance=balance, engine="dense", input_precision="float16")
        expected, _ = reference_prune4rel(half_embedding, half_confidence, 200, 0.95, 1.0, labels, CLASSES, balance)
        assert selection.positions.tolist() == expected.tolist()


def _pair_across_tau(tau):
    """Two 8-d float32 unit-ish vectors whose rescaled cosine is above ``tau`` as stored (float32)
    and at or below it once both are rounded to float16 (found by a seeded search)."""
    rng = np.random.default_rng(0)
    threshold = 2 * tau - 1  # rescaled 0.5 + 0.5 cos > tau  ⇔  cos > 2τ − 1
    for _ in range(200_000):
        a = rng.normal(size=8)
        noise = rng.normal(size=8)
        noise -= noise @ a / (a @ a) * a
        b = threshold * a / np.linalg.norm(a) + np.sqrt(1 - threshold**2) * noise / np.linalg.norm(noise)
        b = b + rng.normal(scale=2e-4, size=8)
        a32, b32 = a.astype(np.float32), b.astype(np.float32)

        def cos(x, y):
            x, y = x.astype(np.float64), y.astype(np.float64)
            return x @ y / np.linalg.norm(x) / np.linalg.norm(y)

        if cos(a32, b32) > threshold >= cos(a32.astype(np.float16), b32.astype(np.float16)):
            return a32, b32
    raise AssertionError("no pair found")


def test_float16_rounding_changes_the_picks_only_where_a_similarity_crosses_tau():
    """A picked first (most confident); B is A's τ-neighbour in float32 only, so in float32 A's pick
    covers B and the far sample C comes second, while in float16 B is uncovered and comes second.
    Far from τ (a B well inside A's neighbourhood) both precisions pick the same."""
    tau = 0.975
    a, b = _pair_across_tau(tau)
    c = -a  # far from both
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.75, 0.25]], dtype=np.float32)  # exact in float16 too
    labels = np.zeros(3, dtype=int)
    inputs = inputs_with_probs(np.stack([a, b, c]), probs, labels, 2)
    picks = {
        precision: select(inputs, 2, tau=tau, balance="none", engine="dense", input_precision=precision)
        for precision in ("float32", "float16")
    }
    assert picks["float32"].positions.tolist() == [0, 2]
    assert picks["float16"].positions.tolist() == [0, 1]
    near = np.stack([a, a + np.float32(1e-3), c])  # B ≈ A: cosine ≈ 1, far above τ
    inputs = inputs_with_probs(near, probs, labels, 2)
    same = [
        select(inputs, 2, tau=tau, balance="none", engine="dense", input_precision=precision).positions.tolist()
        for precision in ("float32", "float16")
    ]
    assert same[0] == same[1] == [0, 2]


def test_float16_confidence_is_computed_from_the_rounded_probabilities():
    from noisyprune.pruners.prune4rel import confidence_from_probs, rounded_to_float16

    probs = np.array([[0.70001, 0.29999], [0.7, 0.3], [0.2, 0.8]], dtype=np.float32)
    rounded = rounded_to_float16(probs, "probs")
    assert rounded[0, 0] == rounded[1, 0] == float(np.float16(0.7))  # two float32 values, one float16
    assert confidence_from_probs(rounded, "max_prob", 2).tolist() == [float(np.float16(0.7))] * 2 + [
        float(np.float16(0.8))
    ]
    assert confidence_from_probs(rounded, "margin", 2)[2] == float(np.float16(0.8)) - float(np.float16(0.2))
    uniform = confidence_from_probs(np.full((1, 4), 0.25), "entropy", 4)
    assert uniform[0] == pytest.approx(0.0, abs=1e-12)
    assert confidence_from_probs(np.eye(3), "entropy", 3).tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(ValueError, match="float16's range"):
        rounded_to_float16(np.array([[7e4, 1.0]]), "embedding")
