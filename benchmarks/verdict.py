"""The verdict of a finished study from its runs table, as the workflow's ``aggregate`` writes it.

    .venv/bin/python benchmarks/verdict.py RUNS.csv OUT.md [--metric test_acc_last] [--baseline uniform]
        [--confidence 0.95] [--methods m1,m2,...]

RUNS.csv is a study's ``results/tables/runs.csv`` (or a copy under ``benchmarks/results/``). OUT.md
gets the verdict in sentences, the per-cell table (best pruner, paired difference to the baseline and
to the runner-up over seeds, with intervals and words) and the per-pruner table across cells — the
same functions as ``results/tables/verdict.md`` (``noisyprune.reporting.verdict_text``), so a study
stored before the verdict existed gets the same verdict a new run would.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from noisyprune.reporting import render
from noisyprune.reporting.verdict_text import verdict_document


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--metric", default="test_acc_last")
    parser.add_argument("--baseline", default="uniform")
    parser.add_argument("--confidence", type=float, default=0.95)
    parser.add_argument("--methods", help="comma-separated order of the pruners (default: as in the table)")
    args = parser.parse_args()
    runs = pd.read_csv(args.runs)
    methods = args.methods.split(",") if args.methods else list(dict.fromkeys(runs["method"]))
    verdict = verdict_document(runs, methods, args.metric, args.baseline, args.confidence)
    source = f"Computed from `{args.runs}` by `benchmarks/verdict.py`."
    text = render.document_markdown(
        verdict.title, [source, *verdict.paragraphs], verdict.sentences["cells"], verdict.sections
    )
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
