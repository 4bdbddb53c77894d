"""The public API's Prune4ReL against the workflow's select stage: the same selection, the overhead named.

    .venv/bin/python benchmarks/api_overhead.py                 # n = 100,000, d = 512 (≈ 3 min on 2 cores)
    .venv/bin/python benchmarks/api_overhead.py --n 20000       # a quicker look

Data: class-clustered synthetic embeddings (``tests/reference_prune4rel.py:clustered_embeddings``,
10 classes) and class probabilities whose top entry, on the noisy label, is the generator's
confidence. Timings in one process, after a warm-up call on a small problem:

- ``pruner``: the Prune4ReL pruner's ``select`` on ready inputs (the work itself);
- ``api``: ``noisyprune.select_subset(labels, features=…, probabilities=…)`` from numpy arrays
  (validation, the derived scores, building the inputs table, the pruner);
- ``stage``: ``run_select_stage`` on ``labels.parquet`` and ``features.parquet`` written beforehand
  as the warm-up would (reading and checking both files, the pruner, writing ``subset.parquet``);
- ``api_overhead``, ``stage_overhead``: the same two calls with the pruner's ``select`` replaced by
  one that returns the selection already made, i.e. everything but the pruner's work. Measured this
  way, not as a difference of two long timings, so that load from other processes on the 2 cores
  cannot hide it; each is the fastest of ``--repeat`` calls.

``identical`` says whether the API and the stage kept the same samples in the same order. Results are
appended to ``benchmarks/results/api_overhead.csv``.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
RESULTS = REPO / "benchmarks" / "results" / "api_overhead.csv"
COLUMNS = ["n", "d", "classes", "fraction", "tau", "timing", "seconds", "identical", "cpus", "date"]


def inputs(n: int, d: int, classes: int):
    """Embeddings ``(n, d)``, noisy labels ``(n,)`` and probabilities ``(n, classes)`` whose maximum is
    the generator's confidence, on the noisy label."""
    from reference_prune4rel import clustered_embeddings

    embedding, confidence, labels = clustered_embeddings(n, d, classes, seed=0)
    confidence = np.clip(confidence, 1.0 / classes + 1e-3, 1.0)
    probabilities = np.repeat(((1 - confidence) / (classes - 1))[:, None], classes, axis=1)
    probabilities[np.arange(n), labels] = confidence
    return embedding, labels.astype(np.int64), probabilities.astype(np.float32)


def write_stage_inputs(folder: Path, embedding, labels, probabilities) -> tuple[str, str]:
    """``labels.parquet`` and ``features.parquet`` as the noise and warm-up stages would write them."""
    from noisyprune.artifacts import FEATURES, LABELS, write_table
    from noisyprune.derived_scores import scores_from_class_outputs

    n, classes = len(labels), probabilities.shape[1]
    ids = np.arange(n, dtype=np.int64)
    labels_path, features_path = str(folder / "labels.parquet"), str(folder / "features.parquet")
    write_table(
        {"sample_id": ids, "clean_label": labels, "noisy_label": labels, "is_noisy": np.zeros(n, bool),
         "is_probe": np.zeros(n, bool)},
        labels_path,
        LABELS,
        metadata={"dataset": "synthetic", "noise": "none", "num_classes": classes, "noise_rate": 0.0,
                  "transition_matrix": np.eye(classes).tolist()},
    )  # fmt: skip
    scores = scores_from_class_outputs(labels, probabilities=probabilities)
    import pyarrow as pa

    scores["max_logit"] = pa.nulls(n, pa.float32())
    write_table(
        {"sample_id": ids, "noisy_label": labels, **scores, "embedding": embedding},
        features_path,
        FEATURES,
        metadata={"num_classes": classes, "embedding_dim": embedding.shape[1], "model": None},
    )
    return labels_path, features_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--d", type=int, default=512)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--fraction", type=float, default=0.2)
    parser.add_argument("--tau", type=float, default=0.975)
    parser.add_argument("--repeat", type=int, default=3, help="calls per timing; the fastest counts")
    args = parser.parse_args()

    import pandas as pd

    import noisyprune
    from noisyprune.artifacts import FEATURES, read_table
    from noisyprune.pruners import build_pruner
    from noisyprune.pruners.base import PrunerInputs
    from noisyprune.pruners.budget import budget_for
    from noisyprune.seeding import make_rng
    from noisyprune.stages.interface import Run
    from noisyprune.stages.select import run_select_stage

    entry = {"pruner": "prune4rel", "tau": args.tau}
    small = inputs(500, 16, args.classes)
    noisyprune.select_subset(small[1], method="prune4rel", fraction=0.2, features=small[0], probabilities=small[2])
    embedding, labels, probabilities = inputs(args.n, args.d, args.classes)
    budget = budget_for(args.fraction, args.n)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        labels_path, features_path = write_stage_inputs(Path(folder), embedding, labels, probabilities)
        method = noisyprune.api.validated_method("prune4rel", {"tau": args.tau})
        features = read_table(features_path, FEATURES)
        ready = PrunerInputs(
            sample_id=np.arange(args.n), noisy_label=labels, num_classes=args.classes, features=features
        )

        def fastest(call) -> float:
            seconds = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                call()
                seconds.append(time.perf_counter() - start)
            return min(seconds)

        pruner_seconds = fastest(lambda: build_pruner(method).select(ready, budget, make_rng(0)))
        results = {}

        def api_call():
            results["kept"] = noisyprune.select_subset(
                labels, method="prune4rel", fraction=args.fraction, features=embedding,
                probabilities=probabilities, tau=args.tau,
            )  # fmt: skip

        api_seconds = fastest(api_call)
        kept = results["kept"]
        output = str(Path(folder) / "subset.parquet")

        def stage_call():
            run_select_stage(
                run=Run("synthetic", "none", 0, warmup="precomputed", method="prune4rel", fraction=str(args.fraction)),
                inputs={"labels": labels_path, "features": features_path},
                outputs={"subset": output, "timing": str(Path(folder) / "timing.json")},
                method_entry=entry | {k: v for k, v in method.items() if k not in entry}, code_hash="benchmark",
            )  # fmt: skip

        stage_seconds = fastest(stage_call)
        subset = pd.read_parquet(output).sort_values("rank")
        identical = bool(np.array_equal(subset["sample_id"].to_numpy(), kept.indices))

        from noisyprune.pruners.prune4rel import Prune4ReL

        made = build_pruner(method).select(ready, budget, make_rng(0))
        real_select = Prune4ReL.select
        Prune4ReL.select = lambda self, inputs, budget, rng: made  # everything but the pruner's work
        try:
            api_overhead, stage_overhead = fastest(api_call), fastest(stage_call)
        finally:
            Prune4ReL.select = real_select

    date = time.strftime("%Y-%m-%d")
    timings = {
        "pruner": pruner_seconds, "api": api_seconds, "stage": stage_seconds,
        "api_overhead": api_overhead, "stage_overhead": stage_overhead,
    }  # fmt: skip
    for timing, seconds in timings.items():
        row = {
            "n": args.n, "d": args.d, "classes": args.classes, "fraction": args.fraction, "tau": args.tau,
            "timing": timing, "seconds": round(seconds, 3),
            "identical": identical if timing in ("api", "stage") else "", "cpus": os.cpu_count(), "date": date,
        }  # fmt: skip
        rows.append(row)
        print(row)
    new = not RESULTS.exists()
    with RESULTS.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        if new:
            writer.writeheader()
        writer.writerows(rows)
    print(f"appended {len(rows)} rows to {RESULTS} ({platform.processor() or platform.machine()})")


if __name__ == "__main__":
    main()
