"""The verdict in words and in human tables: sentences generated from ``verdict.cell_verdicts`` and
``verdict.pruner_summary``, and their rows as text in percent and points.

Every number a sentence states is a cell of one of the two tables, formatted by the same helpers,
so the front page of the report and the tables cannot disagree. Method names go through a
``name`` formatter so that the same sentences serve reStructuredText (the report's front page),
Markdown and HTML.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd
from scipy import stats

from noisyprune.reporting.tables import METRIC_TITLES
from noisyprune.reporting.verdict import (
    LOSES,
    ONE_SEED,
    TIED,
    WINS,
    baseline_comparisons,
    cell_verdicts,
    pruner_summary,
)

Namer = Callable[[str], str]


def points(value: float) -> str:
    """A difference in points with its sign: ``+4.2``, ``−1.0`` (a true minus sign)."""
    return f"{value:+.1f}".replace("-", "−")


def interval(low: float, high: float) -> str:
    """``[1.1, 7.3]`` (points), or "" when the interval is undefined (one seed)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return ""
    return f"[{low:.1f}, {high:.1f}]".replace("-", "−")


def percent(value: float) -> str:
    """A mean already in percent, one decimal: ``84.5``; "–" when missing."""
    return f"{value:.1f}" if math.isfinite(value) else "–"


def comparison_text(difference: float, low: float, high: float) -> str:
    """``+4.2 [1.1, 7.3]``; just ``+4.2`` with one seed; "–" without a comparison."""
    if not math.isfinite(difference):
        return "–"
    bounds = interval(low, high)
    return f"{points(difference)} {bounds}" if bounds else points(difference)


def kept_text(fraction: float) -> str:
    """A kept fraction in percent: 0.2 → ``20%``."""
    return f"{100.0 * fraction:g}%"


def cell_frame(cells: pd.DataFrame) -> pd.DataFrame:
    """The per-cell verdict as text columns for Markdown, LaTeX and HTML (percent and points)."""
    return pd.DataFrame(
        {
            "dataset": cells["dataset"],
            "noise": cells["noise"],
            "warm-up": cells["warmup"],
            "learner": cells["learner"],
            "kept": cells["fraction"].map(kept_text),
            "seeds": cells["seeds"].map(str),
            "best": cells["best"],
            "best (%)": cells["best_mean"].map(percent),
            "vs baseline (points)": [
                comparison_text(d, lo, hi)
                for d, lo, hi in zip(
                    cells["vs_baseline_difference"], cells["vs_baseline_low"], cells["vs_baseline_high"]
                )
            ],
            "": cells["vs_baseline_word"],
            "runner-up": cells["runner_up"].fillna("–"),
            "vs runner-up (points)": [
                comparison_text(d, lo, hi)
                for d, lo, hi in zip(
                    cells["vs_runner_up_difference"], cells["vs_runner_up_low"], cells["vs_runner_up_high"]
                )
            ],
            " ": cells["vs_runner_up_word"],
        }
    )


def summary_frame(summary: pd.DataFrame) -> pd.DataFrame:
    """The per-pruner summary as text columns (percent and points)."""
    return pd.DataFrame(
        {
            "pruner": summary["method"],
            "cells": summary["cells"].map(str),
            "seeds": summary["seeds"].map(str),
            "mean (%)": summary["mean"].map(percent),
            "vs baseline (points)": [
                "–" if word == "baseline" else comparison_text(d, lo, hi)
                for d, lo, hi, word in zip(
                    summary["vs_baseline_difference"],
                    summary["vs_baseline_low"],
                    summary["vs_baseline_high"],
                    summary["vs_baseline_word"],
                )
            ],
            "": summary["vs_baseline_word"],
            "cells won / tied / lost": [
                f"{w} / {t} / {lo}"
                for w, t, lo in zip(summary["cells_won"], summary["cells_tied"], summary["cells_lost"])
            ],
            "mean rank": summary["mean_rank"].map(lambda r: f"{r:.2f}"),
            "best in": summary["best_in"].map(str),
        }
    )


def cell_csv(cells: pd.DataFrame) -> pd.DataFrame:
    """The per-cell verdict for CSV: numbers in percent (``_pct``) and points (``_pts``)."""
    renamed = cells.rename(
        columns={
            "best_mean": "best_mean_pct",
            "runner_up_mean": "runner_up_mean_pct",
            "baseline_mean": "baseline_mean_pct",
            **{
                f"{side}_{part}": f"{side}_{part}_pts"
                for side in ("vs_baseline", "vs_runner_up")
                for part in ("difference", "low", "high")
            },
        }
    )
    return renamed.assign(kept_pct=100.0 * cells["fraction"]).drop(columns="fraction")


def summary_csv(summary: pd.DataFrame) -> pd.DataFrame:
    """The per-pruner summary for CSV: the mean in percent, the lead in points."""
    return summary.rename(
        columns={
            "mean": "mean_pct",
            "vs_baseline_difference": "vs_baseline_difference_pts",
            "vs_baseline_low": "vs_baseline_low_pts",
            "vs_baseline_high": "vs_baseline_high_pts",
        }
    )


def _word_clause(word: str) -> str:
    return {WINS: "wins", TIED: "tied", LOSES: "loses", ONE_SEED: "one seed, no interval"}.get(word, word)


def verdict_sentences(
    cells: pd.DataFrame,
    summary: pd.DataFrame,
    metric: str,
    baseline: str,
    confidence: float,
    name: Namer = str,
) -> dict[str, list[str]]:
    """The verdict in sentences: ``"method"`` (what was compared and how), ``"overall"`` (which
    pruner gains most on average and which beat, tie or lose to the baseline) and ``"cells"`` (one
    sentence per cell). ``name`` formats a method name (``"``x``"`` for reStructuredText, say)."""
    seeds = int(cells["seeds"].max()) if len(cells) else 0
    metric_title = METRIC_TITLES.get(metric, metric).replace(" (%)", "").lower()
    method = [
        f"Metric: {metric_title}. Differences are in percentage points, paired by seed (the same noisy labels "
        f"and warm-up), with {100 * confidence:g}% Student-t intervals over the seeds; a lead wins when its "
        "interval lies above 0, loses when below, and is tied when the interval covers 0."
    ]
    if seeds <= 1:
        method.append(
            "This study has one seed: no intervals and no words — each difference is one run and says nothing "
            "about seed noise. Run more seeds (sweep.seeds) before deciding."
        )
    else:
        quantile = stats.t.ppf(0.5 + confidence / 2, seeds - 1)
        method.append(
            f"{seeds} seeds: each interval reaches {quantile:.1f} standard errors either side of the mean, so only "
            "large, consistent leads are told apart from seed noise. Each cell's best pruner is picked on the same "
            "seeds that measure its lead, so a single cell's lead is optimistic; the averages over cells per "
            "pruner are not picked that way."
        )
    return {
        "method": method,
        "overall": _overall(summary, baseline, seeds, name),
        "cells": _cells(cells, baseline, name),
    }


def _overall(summary: pd.DataFrame, baseline: str, seeds: int, name: Namer) -> list[str]:
    if summary.empty:
        return ["No finished runs to compare."]
    rivals = summary[summary["method"] != baseline].dropna(subset=["vs_baseline_difference"])
    if rivals.empty:
        return [
            f"{name(baseline)} is not in the sweep (config report.baseline): the pruners are ordered by their mean."
        ]
    top = rivals.iloc[0]
    cells = int(top["cells"])
    lead = comparison_text(top["vs_baseline_difference"], top["vs_baseline_low"], top["vs_baseline_high"])
    word = top["vs_baseline_word"]
    if top["vs_baseline_difference"] > 0:
        first = (
            f"Averaged over its {_cells_text(cells)}, {name(top['method'])} gains most against {name(baseline)}: "
            f"{_signed_points(lead)} ({_word_clause(word)})."
        )
    else:
        first = (
            f"No pruner gains against {name(baseline)} on average: the closest, {name(top['method'])}, "
            f"is at {_signed_points(lead)} over its {_cells_text(cells)} ({_word_clause(word)})."
        )
    sentences = [first]
    if seeds > 1:
        groups = {
            word: [name(m) for m in rivals.loc[rivals["vs_baseline_word"] == word, "method"]]
            for word in (WINS, TIED, LOSES)
        }
        parts = []
        if groups[WINS]:
            parts.append(f"beat {name(baseline)} beyond seed noise: {', '.join(groups[WINS])}")
        if groups[TIED]:
            parts.append(f"tied with it: {', '.join(groups[TIED])}")
        if groups[LOSES]:
            parts.append(f"lose to it: {', '.join(groups[LOSES])}")
        sentences.append("On average over the cells: " + "; ".join(parts) + ".")
    return sentences


def _cells(cells: pd.DataFrame, baseline: str, name: Namer) -> list[str]:
    several = cells[["dataset", "noise", "warmup"]].drop_duplicates().shape[0] > 1
    sentences = []
    for _, cell in cells.iterrows():
        where = f"At {kept_text(cell['fraction'])} kept with {cell['learner']}"
        if several:
            where += f" ({cell['dataset']} · {cell['noise']} · warm-up {cell['warmup']})"
        best = name(cell["best"])
        if cell["vs_baseline_word"] == "is baseline":
            text = f"{where}, {name(baseline)} itself is best ({percent(cell['best_mean'])}%)"
        elif math.isfinite(cell["vs_baseline_difference"]):
            verb = "leads" if cell["vs_baseline_difference"] >= 0 else "trails"
            text = (
                f"{where}, {best} is best ({percent(cell['best_mean'])}%) and {verb} {name(baseline)} by "
                f"{_magnitude(cell, 'vs_baseline')} ({_word_clause(cell['vs_baseline_word'])})"
            )
        else:
            text = f"{where}, {best} is best ({percent(cell['best_mean'])}%)"
        if isinstance(cell["runner_up"], str) and math.isfinite(cell["vs_runner_up_difference"]):
            text += (
                f"; its lead over the runner-up {name(cell['runner_up'])} is {_magnitude(cell, 'vs_runner_up')} "
                f"({_word_clause(cell['vs_runner_up_word'])})"
            )
        sentences.append(text + ".")
    return sentences


def _cells_text(count: int) -> str:
    return "1 cell" if count == 1 else f"{count} cells"


def _signed_points(text: str) -> str:
    """``+4.2 [1.1, 7.3]`` → ``+4.2 points [1.1, 7.3]``."""
    value, _, bounds = text.partition(" ")
    return f"{value} points {bounds}".rstrip()


def _magnitude(cell: pd.Series, side: str) -> str:
    """``4.2 points [1.1, 7.3]``: the size of a lead without its sign, the interval as measured."""
    difference = abs(cell[f"{side}_difference"])
    bounds = interval(cell[f"{side}_low"], cell[f"{side}_high"])
    return f"{difference:.1f} points {bounds}" if bounds else f"{difference:.1f} points"


def rst_literal(text: str) -> str:
    """A method name as reStructuredText inline literal."""
    return f"``{text}``"


def sentences_rst(sentences: dict[str, Sequence[str]], title: str = "Verdict") -> str:
    """The sentences as a reStructuredText section (the report's front page): the overall verdict,
    one bullet per cell, then how it was measured."""
    lines = [title, "=" * len(title), ""]
    for paragraph in sentences["overall"]:
        lines += [paragraph, ""]
    lines += [*(f"- {s}" for s in sentences["cells"]), ""]
    for paragraph in sentences["method"]:
        lines += [paragraph, ""]
    return "\n".join(lines)


@dataclass(frozen=True)
class VerdictDocument:
    """Everything the verdict files are made of: the two tables (numbers), the sentences (plain, and
    with reStructuredText literals for the report) and the text sections of the human tables."""

    metric: str
    baseline: str
    cells: pd.DataFrame
    summary: pd.DataFrame
    comparisons: pd.DataFrame
    sentences: dict[str, list[str]]
    rst: str

    @property
    def title(self) -> str:
        metric = METRIC_TITLES.get(self.metric, self.metric).replace(" (%)", "").lower()
        return f"Verdict: which pruner wins against {self.baseline}, by {metric}"

    @property
    def paragraphs(self) -> list[str]:
        return [*self.sentences["overall"], *self.sentences["method"]]

    @property
    def sections(self) -> list[tuple[str, pd.DataFrame]]:
        return [
            ("Per cell: the best pruner against the baseline and the runner-up", cell_frame(self.cells)),
            (f"Per pruner, across cells: the paired lead over {self.baseline}", summary_frame(self.summary)),
            (f"Every pruner against {self.baseline}, per cell (points)", comparisons_frame(self.comparisons)),
        ]


def verdict_document(
    runs: pd.DataFrame, methods: Sequence[str], metric: str, baseline: str, confidence: float
) -> VerdictDocument:
    """The verdict of the tidy ``runs`` (``runs.parquet``/``runs.csv`` rows; metric a fraction) for
    the pruners ``methods`` by ``metric`` against ``baseline`` with ``confidence`` intervals."""
    cells = cell_verdicts(runs, methods, metric, baseline, confidence)
    summary = pruner_summary(runs, methods, metric, baseline, confidence)
    comparisons = baseline_comparisons(runs, methods, metric, baseline, confidence)
    plain = verdict_sentences(cells, summary, metric, baseline, confidence)
    literal = verdict_sentences(cells, summary, metric, baseline, confidence, name=rst_literal)
    return VerdictDocument(metric, baseline, cells, summary, comparisons, plain, sentences_rst(literal))


def comparisons_frame(comparisons: pd.DataFrame) -> pd.DataFrame:
    """Every pruner against the baseline as text: rows = pruners (by their mean difference), one
    column per cell ("elr 20%", with the setting when there are several), cells
    ``−4.5 [−12.8, 3.8] tied``; "–" where a pruner did not run."""
    if comparisons.empty:
        return pd.DataFrame(columns=["pruner"])
    several = comparisons[["dataset", "noise", "warmup"]].drop_duplicates().shape[0] > 1
    frame = comparisons.assign(
        cell=[
            (f"{d} · {n} · {w} · " if several else "") + f"{learner} {kept_text(f)}"
            for d, n, w, learner, f in zip(
                comparisons["dataset"],
                comparisons["noise"],
                comparisons["warmup"],
                comparisons["learner"],
                comparisons["fraction"],
                strict=True,
            )
        ],
        text=[
            f"{comparison_text(d, lo, hi)} {word if word != ONE_SEED else ''}".rstrip()
            for d, lo, hi, word in zip(
                comparisons["difference"], comparisons["low"], comparisons["high"], comparisons["word"], strict=True
            )
        ],
    )
    order = frame.groupby("method")["difference"].mean().sort_values(ascending=False).index
    columns = list(dict.fromkeys(frame["cell"]))
    table = frame.pivot(index="method", columns="cell", values="text").reindex(index=order, columns=columns)
    return table.fillna("–").reset_index().rename(columns={"method": "pruner"}).rename_axis(columns=None)
