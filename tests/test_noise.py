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


CIFAR10_LIKE = np.repeat(np.arange(10), 5000)  # CIFAR-10's 50,000 training labels, 5,000 per class


def test_in_place_is_elr_and_sops_cifar10_loop_where_flipped_cats_can_flip_back():
    """ELR/SOP data_loader/cifar10.py: for i in range(10), on the labels as modified so far, the
    first j < percent·len(indices) shuffled members of label i take the mapped class."""
    spec = {"kind": "asymmetric", "rate": 0.4, "pairs": "cifar10", "realisation": "in_place"}
    result = apply_noise(CIFAR10_LIKE, 10, spec, np.random.default_rng(0))
    clean, noisy = result.clean, result.noisy
    # i = 3 moves 2,000 cats to dog; i = 5 then moves ceil(0.4 · 7,000) = 2,800 of the 7,000 labelled dog
    flipped_back = 2000 - (noisy[clean == 3] == 5).sum()  # cats moved to dog at i = 3, then back at i = 5
    assert (noisy[clean == 5] == 3).sum() + flipped_back == 2800
    assert ((noisy == 3) & ((clean == 3) | (clean == 5))).sum() == 3000 + 2800
    cat_noise = (noisy[clean == 3] != 3).mean()
    assert 0.22 < cat_noise < 0.26  # 0.4 · (1 − 2,800 / 7,000) = 24% expected, not 40%
    assert (noisy[clean == 9] == 1).sum() == 2000 and (noisy[clean == 2] == 0).sum() == 2000
    assert (noisy[np.isin(clean, [0, 1, 6, 7, 8])] == clean[np.isin(clean, [0, 1, 6, 7, 8])]).all()


def test_global_is_dividemixs_draw_over_the_whole_set_from_the_clean_labels():
    """DivideMix dataloader_cifar.py: int(r·50000) indices drawn globally; each takes
    transition[clean label]; samples of classes that map to themselves stay clean."""
    spec = {"kind": "asymmetric", "rate": 0.4, "pairs": "cifar10", "realisation": "global"}
    result = apply_noise(CIFAR10_LIKE, 10, spec, np.random.default_rng(0))
    changed = result.is_noisy
    mapping = {9: 1, 2: 0, 4: 7, 3: 5, 5: 3}
    assert all(result.noisy[i] == mapping[result.clean[i]] for i in np.flatnonzero(changed)[:500])
    assert not changed[np.isin(result.clean, [0, 1, 6, 7, 8])].any()
    assert result.rate == pytest.approx(0.2, abs=0.01)  # half of the 20,000 drawn are of a source class
    assert (result.noisy[result.clean == 3] == 5).sum() + (result.noisy[result.clean == 5] == 3).sum() <= 20000


def test_per_sample_block5_next_is_elrs_cifar100_noise():
    clean = np.repeat(np.arange(100), 500)
    spec = {"kind": "asymmetric", "rate": 0.4, "pairs": "block5_next", "realisation": "per_sample"}
    result = apply_noise(clean, 100, spec, np.random.default_rng(0))
    matrix = transition_matrix(result.clean, result.noisy, 100)
    for c in (0, 4, 37, 99):  # the next class within the block of 5, cyclically
        target = (c // 5) * 5 + (c % 5 + 1) % 5
        assert matrix[c, target] == pytest.approx(0.4, abs=0.07)
        assert matrix[c, c] + matrix[c, target] == pytest.approx(1.0)
    assert result.rate != 0.4  # drawn per sample, not exactly the rate


def test_block5_random_pair_swaps_one_pair_per_block_and_leaves_three_classes_clean():
    clean = np.repeat(np.arange(100), 100)
    spec = {"kind": "asymmetric", "rate": 0.4, "pairs": "block5_random_pair", "realisation": "per_sample"}
    result = apply_noise(clean, 100, spec, np.random.default_rng(3))
    matrix = transition_matrix(result.clean, result.noisy, 100)
    noisy_classes = np.flatnonzero(np.diag(matrix) < 1)
    assert len(noisy_classes) == 40  # two of each block of 5
    for block in range(20):
        pair = [c for c in noisy_classes if c // 5 == block]
        assert len(pair) == 2
        a, b = pair
        assert matrix[a, b] > 0.2 and matrix[b, a] > 0.2
    with pytest.raises(ValueError, match="multiple of 5"):
        resolve_pairs("block5_next", 12)


def test_exact_stays_the_default_realisation():
    base = {"kind": "asymmetric", "rate": 0.4, "pairs": "cifar10"}
    default = corrupt(base)
    assert np.array_equal(default.noisy, corrupt({**base, "realisation": "exact"}).noisy)
    assert (default.noisy[CLEAN == 3] == 5).sum() == 200  # exactly round(0.4 · 500), from the clean labels


def _coteaching_multiclass_noisify(y, noise, random_state, nb_classes):
    """Co-teaching's (and RDIA-LS's) noisify_multiclass_symmetric + multiclass_noisify, transcribed:
    labels as an (n, 1) column, P with 1 − n on the diagonal and n / (C − 1) elsewhere, one legacy
    RandomState multinomial draw per sample in order."""
    P = np.ones((nb_classes, nb_classes)) * (noise / (nb_classes - 1))
    for i in range(nb_classes):
        P[i, i] = 1.0 - noise
    y = y.reshape(-1, 1)
    new_y = y.copy()
    flipper = np.random.RandomState(random_state)
    for idx in np.arange(y.shape[0]):
        i = y[idx]
        flipped = flipper.multinomial(1, P[i, :][0], 1)[0]
        new_y[idx] = np.where(flipped == 1)[0]
    return new_y.reshape(-1)


def test_symmetric_fixed_seed_draws_the_originals_labels_whatever_the_run_seed():
    """RDIA-LS / Co-teaching: per-sample draws from RandomState(0), the same for every seed."""
    clean = np.random.default_rng(1).integers(0, NUM_CLASSES, 3000)
    spec = {"kind": "symmetric", "rate": 0.8, "realisation": "per_sample", "fixed_seed": 0}
    expected = _coteaching_multiclass_noisify(clean, 0.8, 0, NUM_CLASSES)
    for seed in (0, 1):
        assert np.array_equal(corrupt(spec, seed, clean=clean).noisy, expected)
    assert not np.array_equal(corrupt({**spec, "fixed_seed": 1}, clean=clean).noisy, expected)
    assert 0.77 < corrupt(spec, clean=clean).rate < 0.83 and corrupt(spec, clean=clean).rate != 0.8


def test_symmetric_per_sample_any_class_is_iegs_uniform_noise():
    """IEG load_train_val_uniform_noise: each sample with probability rate (rand ≤ rate) gets a label
    drawn over all C classes: the count of redrawn samples varies, about rate·(C−1)/C end up wrong,
    and every other class is equally likely."""
    spec = {"kind": "symmetric", "rate": 0.4, "convention": "any_class", "realisation": "per_sample"}
    clean = np.repeat(np.arange(NUM_CLASSES), 5000)
    rates = [apply_noise(clean, NUM_CLASSES, spec, np.random.default_rng(s)).rate for s in range(4)]
    assert len(set(rates)) == 4  # not an exact count
    assert all(abs(r - 0.36) < 0.01 for r in rates)  # 0.4 · 9/10, within ~4 binomial σ
    matrix = transition_matrix(clean, apply_noise(clean, NUM_CLASSES, spec, np.random.default_rng(0)).noisy, 10)
    off = matrix[~np.eye(NUM_CLASSES, dtype=bool)]
    assert np.all(np.abs(off - 0.04) < 0.01) and np.all(np.abs(np.diag(matrix) - 0.64) < 0.02)


def test_symmetric_per_sample_other_class_always_changes_a_drawn_label():
    spec = {"kind": "symmetric", "rate": 0.8, "realisation": "per_sample"}
    clean = np.repeat(np.arange(NUM_CLASSES), 5000)
    result = apply_noise(clean, NUM_CLASSES, spec, np.random.default_rng(0))
    assert abs(result.rate - 0.8) < 0.01 and result.is_noisy.sum() != 40000
    matrix = transition_matrix(result.clean, result.noisy, NUM_CLASSES)
    assert np.all(np.abs(matrix[~np.eye(NUM_CLASSES, dtype=bool)] - 0.8 / 9) < 0.015)


def test_symmetric_exact_stays_the_default_and_fixed_seed_needs_per_sample():
    base = {"kind": "symmetric", "rate": 0.4}
    assert np.array_equal(corrupt(base).noisy, corrupt({**base, "realisation": "exact"}).noisy)
    assert corrupt(base).is_noisy.sum() == 2000
    with pytest.raises(ValueError, match="fixed_seed 0 draws per sample; set realisation: per_sample"):
        corrupt({**base, "fixed_seed": 0})


def test_per_sample_cifar10_pairs_are_iegs_asymmetric_noise():
    """IEG load_asymmetric: each sample of a source class independently takes its CIFAR-10 target
    with probability rate (a multinomial draw from its transition row); other classes stay clean."""
    spec = {"kind": "asymmetric", "rate": 0.4, "pairs": "cifar10", "realisation": "per_sample"}
    counts = []
    for seed in range(3):
        result = apply_noise(CIFAR10_LIKE, 10, spec, np.random.default_rng(seed))
        matrix = transition_matrix(result.clean, result.noisy, 10)
        for source, target in ((9, 1), (2, 0), (4, 7), (3, 5), (5, 3)):
            assert abs(matrix[source, target] - 0.4) < 0.03  # 5,000 draws: σ ≈ 0.007
        assert np.array_equal(np.diag(matrix)[[0, 1, 6, 7, 8]], np.ones(5))
        counts.append(int(result.is_noisy.sum()))
    assert len(set(counts)) == 3  # drawn, not exactly 2,000 per source class
