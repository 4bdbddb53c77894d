"""The estimated wrong-label share, the noisier-subset check and the selection summary, on cases
whose answer is known by construction."""

import json
import math
import warnings

import numpy as np
import pytest

import noisyprune
from noisyprune.api import NoisierSubsetWarning
from noisyprune.noise_estimate import estimate_wrong_labels, likely_wrong
from noisyprune.noisier_subset import clean_keeping_methods, is_noisier, noisier_message, share_tolerance
from noisyprune.pruners.base import Pruner
from noisyprune.pruners.registry import PRUNERS


def test_the_labels_a_model_disagrees_with_are_the_likely_wrong_ones():
    labels = np.array([0, 1, 2, 0, 1])
    probabilities = np.array(
        [
            [0.8, 0.1, 0.1],  # agrees
            [0.7, 0.2, 0.1],  # class 0 more probable: wrong
            [0.1, 0.1, 0.8],  # agrees
            [0.4, 0.4, 0.2],  # a tie with the given label goes to the given label
            [0.1, 0.3, 0.6],  # wrong
        ]
    )
    assert likely_wrong(labels, probabilities).tolist() == [False, True, False, False, True]
    assert likely_wrong(labels, np.log(probabilities) + 5.0).tolist() == [False, True, False, False, True]
    estimate = estimate_wrong_labels(labels, probabilities, kept=np.array([1, 4, 0]))
    assert estimate.kept_share == pytest.approx(2 / 3) and estimate.all_share == pytest.approx(2 / 5)
    assert math.isnan(estimate_wrong_labels(labels, probabilities, kept=np.array([], dtype=int)).kept_share)


def test_the_estimate_finds_exactly_the_flipped_labels_when_the_model_knows_the_true_classes():
    rng = np.random.default_rng(0)
    true = rng.integers(0, 4, 500)
    probabilities = rng.dirichlet(np.ones(4), size=500) * 0.5
    probabilities[np.arange(500), true] += 0.5  # the true class always the most probable
    given = true.copy()
    flipped = rng.choice(500, size=150, replace=False)
    given[flipped] = (true[flipped] + rng.integers(1, 4, 150)) % 4
    estimate = estimate_wrong_labels(given, probabilities, kept=flipped[:50])
    assert np.array_equal(np.flatnonzero(estimate.wrong), np.sort(flipped))
    assert estimate.all_share == 0.3 and estimate.kept_share == 1.0


def test_the_tolerance_is_two_standard_deviations_of_a_random_subset_and_at_least_one_sample():
    # 30% wrong among 178 samples, 53 kept: √(0.21/53 · 125/177) = 0.0529
    assert share_tolerance(0.3, 53, 178) == pytest.approx(2 * math.sqrt(0.21 / 53 * 125 / 177))
    assert share_tolerance(0.3, 178, 178) == pytest.approx(1 / 178)  # every sample kept: one sample
    assert share_tolerance(0.0, 10, 1000) == pytest.approx(0.1)  # no wrong label: one sample of ten
    assert is_noisier(0.3 + 0.106, 0.3, 53, 178) and not is_noisier(0.3 + 0.105, 0.3, 53, 178)
    assert not is_noisier(0.3, 0.3, 178, 178)
    assert not is_noisier(float("nan"), 0.3, 53, 178) and not is_noisier(0.9, None, 53, 178)


def test_the_warning_says_what_the_pruner_keeps_and_which_methods_keep_clean_samples():
    assert clean_keeping_methods() == ["confident_learning", "small_loss"]
    text = noisier_message("prune4rel", PRUNERS.get("prune4rel"), 0.49, 0.30, 53, 178, "estimated")
    assert "49.0% of the 53 kept against 30.0% of all 178 (estimated shares; tolerance 10.6%)" in text
    assert "a re-labeling learner can correct, not clean ones" in text
    assert text.endswith("use confident_learning or small_loss.")
    # a method designed to keep clean samples does not point elsewhere
    text = noisier_message("small_loss", PRUNERS.get("small_loss"), 0.5, 0.3, 50, 500, "true")
    assert "small_loss keeps the samples the warm-up model fits best" in text and "use " not in text
    for name in PRUNERS.names():  # every built-in pruner declares what it keeps
        assert PRUNERS.get(name).keeps != Pruner.keeps, name


def confident_flipped(n_per_class=20, classes=3, seed=0):
    """Tight clusters, one per class, the first 4 samples of each labelled as the next class. The
    model knows every true class, and it is surest of the flipped samples (0.98 against 0.6): what
    Prune4ReL picks first, as the samples a re-labeling learner can correct."""
    rng = np.random.default_rng(seed)
    true = np.repeat(np.arange(classes), n_per_class)
    features = (np.eye(classes, 8)[true] * 10 + rng.normal(scale=0.1, size=(len(true), 8))).astype(np.float32)
    flipped = np.concatenate([np.arange(c * n_per_class, c * n_per_class + 4) for c in range(classes)])
    labels = true.copy()
    labels[flipped] = (true[flipped] + 1) % classes
    confidence = np.where(np.isin(np.arange(len(true)), flipped), 0.98, 0.6)
    probabilities = np.repeat(((1 - confidence) / (classes - 1))[:, None], classes, axis=1)
    probabilities[np.arange(len(true)), true] = confidence
    return labels, features, probabilities, flipped


def test_prune4rel_keeping_the_confident_flipped_samples_warns_and_small_loss_does_not():
    labels, features, probabilities, flipped = confident_flipped()
    with pytest.warns(NoisierSubsetWarning, match="a re-labeling learner can correct") as caught:
        kept = noisyprune.select_subset(
            labels, method="prune4rel", budget=3, features=features, probabilities=probabilities, tau=0.9
        )
    assert len(caught) == 1 and set(kept.indices) <= set(flipped)  # one flipped pick per cluster
    wrong = kept.summary["wrong_labels"]
    assert wrong["kept"] == 1.0 and wrong["all"] == 0.2 and wrong["noisier"]
    assert kept.summary["warning"] == str(caught[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error", NoisierSubsetWarning)
        clean = noisyprune.select_subset(labels, method="small_loss", fraction=0.5, probabilities=probabilities)
    assert not set(clean.indices) & set(flipped)
    assert clean.summary["wrong_labels"]["kept"] == 0.0 and clean.summary["warning"] is None


def test_the_summary_counts_kept_per_class_and_is_plain_json():
    labels, features, probabilities, _ = confident_flipped()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoisierSubsetWarning)
        kept = noisyprune.select_subset(
            labels, method="prune4rel", budget=6, features=features, probabilities=probabilities, tau=0.9
        )
    summary = kept.summary
    assert summary["method"] == "prune4rel" and summary["params"]["tau"] == 0.9
    assert summary["kept"] == 6 and summary["candidates"] == 60
    assert summary["classes"] == [
        {"class": c, "kept": int(np.sum(labels[kept.indices] == c)), "input": 20} for c in range(3)
    ]
    assert summary["diagnostics"]["tau"] == 0.9 and "picked_confidence_mean" in summary["diagnostics"]
    json.dumps(summary, allow_nan=False)  # no NaN, no numpy scalars
    uniform = noisyprune.select_subset(labels, method="uniform", fraction=0.5)  # no probabilities: no estimate
    assert uniform.summary["wrong_labels"] is None and uniform.summary["warning"] is None
