"""The verdict: paired intervals over seeds with known answers, the words, the ordering across cells
that cannot crown a pruner that loses on average, and the sentences generated from the tables."""

import math

import numpy as np
import pandas as pd
import pytest

from noisyprune.reporting.verdict import (
    baseline_comparisons,
    cell_verdicts,
    paired_comparison,
    pruner_summary,
)
from noisyprune.reporting.verdict_text import sentences_rst, verdict_sentences

# Student-t quantile t(0.975, df=2), from a printed table: the interval is not taken on trust.
T_975_DF2 = 4.302652729749464


def test_a_deterministic_two_point_lead_over_five_seeds_wins():
    lead = paired_comparison("a", "b", [2.0] * 5)
    assert (lead.difference, lead.low, lead.high, lead.word, lead.seeds) == (2.0, 2.0, 2.0, "wins", 5)
    assert paired_comparison("a", "b", [-2.0] * 5).word == "loses"


def test_an_alternating_three_point_difference_is_tied():
    alternating = paired_comparison("a", "b", [3.0, -3.0, 3.0, -3.0, 3.0])
    assert alternating.word == "tied" and alternating.low < 0 < alternating.high
    assert alternating.difference == pytest.approx(0.6)


def test_the_interval_is_the_student_t_interval_of_the_mean_difference():
    comparison = paired_comparison("a", "b", [1.0, 2.0, 3.0])  # mean 2, sd 1
    half_width = T_975_DF2 * 1.0 / math.sqrt(3)
    assert comparison.low == pytest.approx(2.0 - half_width) and comparison.high == pytest.approx(2.0 + half_width)
    assert comparison.word == "tied"  # -0.48 < 0
    narrower = paired_comparison("a", "b", [1.0, 2.0, 3.0], confidence=0.5)
    assert comparison.low < narrower.low < 2.0 < narrower.high < comparison.high


def test_one_seed_has_no_interval_and_no_word():
    single = paired_comparison("a", "b", [4.0])
    assert single.word == "one seed" and math.isnan(single.low) and math.isnan(single.high)
    assert paired_comparison("a", "b", []).word == ""


def _runs(effects, seeds=(0, 1, 2, 3, 4), seed_shift=10.0, noise=0.0):
    """Tidy rows: accuracy (fraction) = 0.5 + (effect of the method in that cell + a per-seed shift
    shared by every method + optional independent noise) / 100."""
    rng = np.random.default_rng(0)
    rows = []
    for (learner, fraction), by_method in effects.items():
        for seed in seeds:
            shared = seed_shift * (seed - 2)  # same noisy labels and warm-up: same for every pruner
            for method, effect in by_method.items():
                rows.append(
                    {
                        "dataset": "d",
                        "noise": "sym40",
                        "warmup": "ce",
                        "learner": learner,
                        "fraction": fraction,
                        "seed": seed,
                        "method": method,
                        "test_acc_last": 0.5 + (effect + shared + rng.normal(0, noise)) / 100,
                    }
                )
    return pd.DataFrame(rows)


def test_differences_are_paired_by_seed():
    """A constant one-point lead under a ±20-point seed effect shared by both pruners wins: the
    pairing removes the seed effect that an unpaired comparison would drown in."""
    runs = _runs({("elr", 0.2): {"uniform": 0.0, "small_loss": 1.0}})
    cell = cell_verdicts(runs, ["uniform", "small_loss"], "test_acc_last", "uniform").iloc[0]
    assert cell["best"] == "small_loss" and cell["vs_baseline_word"] == "wins"
    assert cell["vs_baseline_difference"] == pytest.approx(1.0)
    assert cell["best_mean"] == pytest.approx(51.0) and cell["seeds"] == 5


def test_the_better_mean_rank_with_the_lower_mean_is_not_the_winner():
    """``narrow`` is first in three cells by 1.75 points and loses the fourth by 16: the better mean
    rank (1.5 against 1.75) but 2.7 points below Uniform on average. ``steady`` gains in every cell."""
    effects = {
        ("ce", 0.2): {"uniform": 0.0, "narrow": 1.75, "steady": 1.0},
        ("ce", 0.5): {"uniform": 0.0, "narrow": 1.75, "steady": 1.0},
        ("elr", 0.2): {"uniform": 0.0, "narrow": 1.75, "steady": 1.0},
        ("elr", 0.5): {"uniform": 0.0, "narrow": -16.0, "steady": 0.5},
    }
    methods = ["uniform", "narrow", "steady"]
    summary = pruner_summary(_runs(effects, noise=0.3), methods, "test_acc_last", "uniform").set_index("method")
    assert summary.loc["narrow", "mean_rank"] < summary.loc["steady", "mean_rank"]
    assert list(summary.index) == ["steady", "uniform", "narrow"]  # by the lead over Uniform
    assert summary.loc["steady", "vs_baseline_word"] == "wins"
    assert summary.loc["narrow", "vs_baseline_word"] == "loses"
    assert summary.loc["narrow", "vs_baseline_difference"] == pytest.approx((3 * 1.75 - 16) / 4, abs=0.3)
    assert (summary.loc["narrow", "cells_won"], summary.loc["narrow", "cells_lost"]) == (3, 1)
    assert summary.loc["narrow", "best_in"] == 3
    cells = cell_verdicts(_runs(effects, noise=0.3), methods, "test_acc_last", "uniform")
    sentences = verdict_sentences(cells, summary.reset_index(), "test_acc_last", "uniform", 0.95)
    assert sentences["overall"][0].startswith("Averaged over its 4 cells, steady gains most against uniform")
    assert "lose to it: narrow" in sentences["overall"][1]


def test_each_cell_names_its_best_and_runner_up_and_says_when_the_baseline_is_best():
    effects = {
        ("elr", 0.2): {"uniform": 0.0, "a": 4.0, "b": 3.5},
        ("elr", 0.5): {"uniform": 2.0, "a": 0.0, "b": 1.0},
    }
    cells = cell_verdicts(_runs(effects, noise=0.2), ["uniform", "a", "b"], "test_acc_last", "uniform")
    first, second = cells.iloc[0], cells.iloc[1]
    assert (first["best"], first["runner_up"], first["vs_baseline_word"]) == ("a", "b", "wins")
    assert first["vs_runner_up_difference"] == pytest.approx(0.5, abs=0.3)
    assert (second["best"], second["vs_baseline_word"], second["runner_up"]) == ("uniform", "is baseline", "b")
    summary = pruner_summary(_runs(effects, noise=0.2), ["uniform", "a", "b"], "test_acc_last", "uniform")
    text = verdict_sentences(cells, summary, "test_acc_last", "uniform", 0.95)["cells"]
    expected = (
        f"leads uniform by {first['vs_baseline_difference']:.1f} points "
        f"[{first['vs_baseline_low']:.1f}, {first['vs_baseline_high']:.1f}] (wins)"
    )
    assert text[0].startswith("At 20% kept with elr, a is best (") and expected in text[0]
    assert text[1].startswith("At 50% kept with elr, uniform itself is best")


def test_one_seed_says_so_and_gives_no_interval():
    runs = _runs({("elr", 0.2): {"uniform": 0.0, "a": 4.0}}, seeds=(0,))
    cells = cell_verdicts(runs, ["uniform", "a"], "test_acc_last", "uniform")
    summary = pruner_summary(runs, ["uniform", "a"], "test_acc_last", "uniform")
    sentences = verdict_sentences(cells, summary, "test_acc_last", "uniform", 0.95)
    assert any("one seed" in s for s in sentences["method"])
    assert all("[" not in s for part in sentences.values() for s in part)
    assert "one seed, no interval" in sentences["cells"][0]


def test_without_the_baseline_in_the_sweep_the_verdict_says_so():
    runs = _runs({("elr", 0.2): {"a": 1.0, "b": 0.0}})
    cells = cell_verdicts(runs, ["a", "b"], "test_acc_last", "uniform")
    assert cells.iloc[0]["best"] == "a" and cells.iloc[0]["vs_runner_up_word"] == "wins"
    summary = pruner_summary(runs, ["a", "b"], "test_acc_last", "uniform")
    assert list(summary["method"]) == ["a", "b"]  # by the mean
    text = verdict_sentences(cells, summary, "test_acc_last", "uniform", 0.95)
    assert "not in the sweep" in text["overall"][0]
    assert baseline_comparisons(runs, ["a", "b"], "test_acc_last", "uniform").empty


def test_a_lower_is_better_metric_is_compared_the_right_way_round():
    runs = _runs({("elr", 0.2): {"uniform": 40.0, "clean": 10.0}})
    runs = runs.rename(columns={"test_acc_last": "subset_noise_rate"})
    cell = cell_verdicts(runs, ["uniform", "clean"], "subset_noise_rate", "uniform").iloc[0]
    assert cell["best"] == "clean" and cell["vs_baseline_difference"] == pytest.approx(30.0)
    assert cell["best_mean"] == pytest.approx(60.0)  # in percent, its own sign


def test_the_reference_never_competes_and_the_front_page_is_restructuredtext():
    effects = {("elr", 0.2): {"uniform": 0.0, "a_b": 1.0}}
    runs = _runs(effects)
    full = runs[runs["method"] == "uniform"].assign(method="full", fraction=1.0, test_acc_last=0.99)
    runs = pd.concat([runs, full])
    cells = cell_verdicts(runs, ["uniform", "a_b"], "test_acc_last", "uniform")
    assert list(cells["fraction"]) == [0.2] and cells.iloc[0]["best"] == "a_b"
    summary = pruner_summary(runs, ["uniform", "a_b"], "test_acc_last", "uniform")
    assert "full" not in set(summary["method"])
    from docutils.core import publish_parts

    rst = verdict_sentences(cells, summary, "test_acc_last", "uniform", 0.95, name=lambda m: f"``{m}``")
    html = publish_parts(sentences_rst(rst), writer="html", settings_overrides={"report_level": 2})["html_body"]
    assert "docutils literal" in html and "a_b" in html and "System Message" not in html


def test_every_pruner_against_the_baseline_per_cell_as_text():
    from noisyprune.reporting.verdict_text import comparisons_frame

    effects = {
        ("elr", 0.2): {"uniform": 0.0, "a": 2.0, "b": -5.0},
        ("elr", 0.5): {"uniform": 0.0, "a": 2.0},
    }
    comparisons = baseline_comparisons(_runs(effects), ["uniform", "a", "b"], "test_acc_last", "uniform")
    frame = comparisons_frame(comparisons)
    assert list(frame.columns) == ["pruner", "elr 20%", "elr 50%"] and list(frame["pruner"]) == ["a", "b"]
    assert frame.iloc[0]["elr 20%"] == "+2.0 [2.0, 2.0] wins"
    assert frame.iloc[1]["elr 20%"] == "−5.0 [−5.0, −5.0] loses" and frame.iloc[1]["elr 50%"] == "–"
