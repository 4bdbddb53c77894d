"""Noise models: realised rates, conventions, class maps, determinism, transition matrices."""

import numpy as np
import pytest

from noisyprune.noise import apply_noise
from noisyprune.noise.asymmetric import resolve_pairs
from noisyprune.noise.base import transition_matrix

NUM_CLASSES = 10
CLEAN = np.repeat(np.arange(NUM_CLASSES), 500)  # 5,000 labels, 500 per class


def corrupt(spec, seed=0, clean=CLEAN):
    return apply_noise(clean, NUM_CLASSES, spec, np.random.default_rng(seed))


@pytest.mark.parametrize("rate", [0.0, 0.2, 0.4, 0.8, 1.0])
def test_symmetric_other_class_flips_exactly_the_rate_and_never_to_itself(rate):
    result = corrupt({"kind": "symmetric", "rate": rate})
    assert result.rate == pytest.approx(rate, abs=1 / len(CLEAN))
    # every chosen sample really changed class: flips == noisy samples
    assert result.is_noisy.sum() == int(np.floor(rate * len(CLEAN) + 0.5))


def test_symmetric_other_class_spreads_flips_uniformly_over_other_classes():
    result = corrupt({"kind": "symmetric", "rate": 1.0})
    matrix = transition_matrix(result.clean, result.noisy, NUM_CLASSES)
    assert np.allclose(np.diag(matrix), 0.0)
    off_diagonal = matrix[~np.eye(NUM_CLASSES, dtype=bool)]
    # 500 flips per class spread over 9 classes: expected 1/9 each
    assert np.all(np.abs(off_diagonal - 1 / 9) < 0.06)


def test_symmetric_any_class_may_stay_correct():
    rate = 0.6
    result = corrupt({"kind": "symmetric", "rate": rate, "convention": "any_class"})
    expected = rate * (NUM_CLASSES - 1) / NUM_CLASSES
    assert result.rate == pytest.approx(expected, abs=0.02)
    assert result.rate < rate  # some resampled labels landed on the true class


def test_noise_is_deterministic_given_the_seed_and_differs_across_seeds():
    spec = {"kind": "symmetric", "rate": 0.4}
    first, again, other = corrupt(spec, 7), corrupt(spec, 7), corrupt(spec, 8)
    assert np.array_equal(first.noisy, again.noisy)
    assert not np.array_equal(first.noisy, other.noisy)


def test_asymmetric_explicit_pairs_flip_only_sources_to_their_targets():
    pairs = [[9, 1], [2, 0], [4, 7], [3, 5], [5, 3]]  # CIFAR-10's class map
    result = corrupt({"kind": "asymmetric", "rate": 0.4, "pairs": pairs})
    mapping = dict(map(tuple, pairs))
    for source in range(NUM_CLASSES):
        members = source == CLEAN
        flipped = result.noisy[members] != source
        if source in mapping:
            assert flipped.sum() == 200  # exactly 40% of 500
            assert np.all(result.noisy[members][flipped] == mapping[source])
        else:
            assert not flipped.any()
    assert result.rate == pytest.approx(0.4 * 5 / 10)


def test_asymmetric_next_maps_each_class_to_the_following_one():
    result = corrupt({"kind": "asymmetric", "rate": 0.3, "pairs": "next"})
    matrix = result.transition
    for source in range(NUM_CLASSES):
        assert matrix[source, (source + 1) % NUM_CLASSES] == pytest.approx(0.3)
        assert matrix[source, source] == pytest.approx(0.7)


@pytest.mark.parametrize(
    "pairs, message",
    [([[1, 1]], "onto itself"), ([[0, 10]], "outside"), ([[0, 1], [0, 2]], "more than one"), ("ring", "unknown")],
)
def test_asymmetric_rejects_bad_pairs(pairs, message):
    with pytest.raises(ValueError, match=message):
        resolve_pairs(pairs, NUM_CLASSES)


def test_none_keeps_labels():
    result = corrupt({"kind": "none"})
    assert result.rate == 0.0
    assert np.array_equal(result.noisy, CLEAN)


def test_transition_matrix_rows_are_conditional_distributions():
    clean = np.array([0, 0, 0, 0, 1, 1])
    noisy = np.array([0, 1, 1, 1, 1, 0])
    matrix = transition_matrix(clean, noisy, 3)
    assert np.allclose(matrix, [[0.25, 0.75, 0], [0.5, 0.5, 0], [0, 0, 0]])
