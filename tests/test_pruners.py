"""Pruners and the shared budget/class-balance mechanism, on tiny data with known answers."""

import numpy as np
import pyarrow as pa
import pytest

from noisyprune.artifacts import Artifact
from noisyprune.pruners import PRUNERS, build_pruner
from noisyprune.pruners.base import PrunerInputs
from noisyprune.pruners.budget import budget_for, equal_quotas, proportional_quotas, select_by_score


def inputs_with_loss(loss, labels, num_classes=None):
    """Candidates with sample ids 0..n-1, noisy ``labels`` and a features artifact holding ``loss``."""
    n = len(loss)
    table = pa.table({"sample_id": np.arange(n), "loss": np.asarray(loss, dtype=np.float32)})
    features = Artifact(table=table, metadata={}, path=None)
    return PrunerInputs(
        sample_id=np.arange(n),
        noisy_label=np.asarray(labels),
        num_classes=num_classes or int(max(labels)) + 1,
        features=features,
    )


@pytest.mark.parametrize(
    "fraction, n, expected", [(0.5, 10, 5), (0.25, 10, 3), (0.01, 10, 1), (1.0, 7, 7), (0.333, 3, 1)]
)
def test_budget_rounds_half_up_and_keeps_at_least_one(fraction, n, expected):
    assert budget_for(fraction, n) == expected


@pytest.mark.parametrize("fraction", [0.0, -0.1, 1.5])
def test_budget_rejects_fractions_outside_unit_interval(fraction):
    with pytest.raises(ValueError, match="fraction"):
        budget_for(fraction, 10)


def test_small_loss_keeps_planted_clean_samples():
    rng = np.random.default_rng(0)
    n = 200
    noisy = np.zeros(n, dtype=bool)
    noisy[rng.choice(n, 60, replace=False)] = True
    # planted: mislabelled samples have large loss, clean ones small loss
    loss = np.where(noisy, rng.uniform(2.0, 5.0, n), rng.uniform(0.0, 1.0, n))
    pruner = build_pruner({"pruner": "small_loss"})
    selection = pruner.select(inputs_with_loss(loss, rng.integers(0, 4, n)), 140, rng)
    assert not noisy[selection.positions].any()
    assert len(selection.positions) == 140
    # best first: scores ascend along the rank
    assert np.all(np.diff(selection.scores) >= 0)


def test_small_loss_breaks_ties_by_sample_id():
    selection = build_pruner({"pruner": "small_loss"}).select(
        inputs_with_loss([1.0, 0.5, 0.5, 0.5, 2.0], [0, 0, 1, 1, 1]), 2, np.random.default_rng(0)
    )
    assert selection.positions.tolist() == [1, 2]


def test_uniform_is_seeded_random_without_replacement():
    inputs = inputs_with_loss(np.zeros(1000), np.repeat(np.arange(10), 100))
    pruner = build_pruner({"pruner": "uniform"})
    first = pruner.select(inputs, 300, np.random.default_rng(1)).positions
    again = pruner.select(inputs, 300, np.random.default_rng(1)).positions
    other = pruner.select(inputs, 300, np.random.default_rng(2)).positions
    assert np.array_equal(first, again)
    assert not np.array_equal(np.sort(first), np.sort(other))
    assert len(np.unique(first)) == 300
    # a uniform sample keeps roughly 30% of every class
    counts = np.bincount(inputs.noisy_label[first], minlength=10)
    assert counts.min() > 15 and counts.max() < 45


def test_uniform_proportional_is_stratified():
    labels = np.repeat([0, 1, 2], [600, 300, 100])
    pruner = build_pruner({"pruner": "uniform", "balance": "proportional"})
    kept = pruner.select(inputs_with_loss(np.zeros(1000), labels), 250, np.random.default_rng(0)).positions
    assert np.bincount(labels[kept]).tolist() == [150, 75, 25]


def test_full_keeps_everything_in_sample_order():
    inputs = inputs_with_loss(np.zeros(5), [0, 1, 0, 1, 0])
    selection = build_pruner({"pruner": "full"}).select(inputs, 5, np.random.default_rng(0))
    assert selection.positions.tolist() == [0, 1, 2, 3, 4]
    assert np.isnan(selection.scores).all()
    with pytest.raises(ValueError, match="keeps all"):
        build_pruner({"pruner": "full"}).select(inputs, 4, np.random.default_rng(0))


@pytest.mark.parametrize("name", ["uniform", "small_loss"])
def test_fraction_one_keeps_every_sample(name):
    inputs = inputs_with_loss(np.arange(50.0), np.arange(50) % 5)
    kept = build_pruner({"pruner": name}).select(inputs, budget_for(1.0, 50), np.random.default_rng(0))
    assert sorted(kept.positions.tolist()) == list(range(50))


def test_proportional_quotas_sum_to_budget_by_largest_remainder():
    assert proportional_quotas(np.array([5, 3, 2]), 5).tolist() == [3, 1, 1]
    assert proportional_quotas(np.array([1, 1, 1]), 2).tolist() == [1, 1, 0]


def test_equal_quotas_water_fill_around_small_classes():
    assert equal_quotas(np.array([100, 2, 100]), 50).tolist() == [24, 2, 24]
    # 10 slots over 3 classes: 3 each, 1 left for the global order
    assert equal_quotas(np.array([10, 10, 10]), 10).tolist() == [3, 3, 3]


def test_equal_balance_fills_the_remainder_from_the_global_order():
    labels = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2])
    scores = np.array([0.1, 0.2, 0.3, 0.9, 0.8, 0.7, 0.5, 0.4, 0.6])
    kept = select_by_score(scores, "low", 4, labels, 3, balance="equal")
    # one per class (0.1, 0.7, 0.4) plus the globally best remaining (0.2)
    assert sorted(kept.tolist()) == [0, 1, 5, 7]
    # rank follows the global preference order
    assert kept.tolist() == [0, 1, 7, 5]


def test_keep_high_prefers_large_scores():
    kept = select_by_score(np.array([0.3, 0.9, 0.1, 0.5]), "high", 2, np.zeros(4, int), 1)
    assert kept.tolist() == [1, 3]


def test_registry_lists_the_built_in_pruners():
    assert {"full", "uniform", "small_loss"} <= set(PRUNERS.names())
