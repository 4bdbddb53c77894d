"""Prune4ReL selection speed and memory: our engine vs the dense original-algorithm reference.

    .venv/bin/python benchmarks/prune4rel.py            # the full grid (about an hour on 2 cores)
    .venv/bin/python benchmarks/prune4rel.py --quick    # the 10k cases only
    .venv/bin/python benchmarks/prune4rel.py --sizes 50000 200000
    .venv/bin/python benchmarks/prune4rel.py --data unstructured   # issue 25's cases

Data (``data`` column): ``clustered`` — class-clustered synthetic embeddings
(``tests/reference_prune4rel.py:clustered_embeddings``: each class a mixture of 8 low-dimensional
blobs, confidences rounded to 1e-3 so ties occur, 20% of noisy labels flipped); ``unstructured`` —
i.i.d. Gaussian directions with 10% near-duplicates (``unstructured_embeddings``: at τ = 0.975,
d = 512, mean τ-degree ≈ 1.13 with itself, 12% of samples have a neighbour), where no clustering
prunes any pair. Selection: ``gain: own``, ``balance: equal``, ``eta: 1``, ``engine: auto``.
``--label`` names the implementation in the ``implementation`` column (e.g. the code of ``main``
run through ``PYTHONPATH`` for a before/after comparison).

Each case runs in a fresh subprocess, so ``peak_rss_gb`` is that process's peak resident memory
(input generation included). The reference (the original algorithm in numpy, float64, norms
recomputed per pick as the original does) runs only where it finishes in reasonable time; where it
runs, ``identical`` says whether both selected the same samples in the same order.
``cpu_seconds`` is the CPU time of the timed call (all threads) and ``load_average`` the machine's
1-minute load when the case ended: with other work on the machine, wall ``seconds`` grow while
``cpu_seconds`` barely do. Results are appended to ``benchmarks/results/prune4rel.csv`` (one row
per case and implementation).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
RESULTS = REPO / "benchmarks" / "results" / "prune4rel.csv"
CACHE = REPO / "benchmarks" / ".cache"

# (n, d, classes, fraction, tau, run the reference)
UNSTRUCTURED_GRID = [
    (10_000, 512, 10, 0.8, 0.975, True),
    (20_000, 512, 10, 0.8, 0.975, True),
    (40_000, 512, 10, 0.8, 0.975, False),
    (200_000, 512, 10, 0.2, 0.975, False),
]
GRID = [
    *[(10_000, d, c, f, 0.975, True) for d in (512, 2048) for c in (10, 1000) for f in (0.2, 0.8)],
    (50_000, 512, 10, 0.8, 0.975, True),  # the CIFAR-10N goal setting
    (50_000, 512, 10, 0.2, 0.975, False),
    (50_000, 512, 1000, 0.2, 0.975, False),
    (50_000, 512, 1000, 0.8, 0.975, False),
    *[(50_000, 2048, c, f, 0.975, False) for c in (10, 1000) for f in (0.2, 0.8)],
    *[(200_000, 512, c, f, 0.975, False) for c in (10, 1000) for f in (0.2, 0.8)],
    (1_000_000, 512, 1000, 0.2, 0.95, False),  # the scale goal
    (1_000_000, 512, 10, 0.2, 0.975, False),
]
COLUMNS = [
    "data",
    "n",
    "d",
    "classes",
    "fraction",
    "tau",
    "implementation",
    "engine",
    "seconds",
    "neighbours_seconds",
    "greedy_seconds",
    "neighbour_rows",
    "estimated_graph_seconds",
    "estimated_rows_seconds",
    "multiplied_pair_fraction",
    "peak_rss_gb",
    "input_gb",
    "budget",
    "mean_degree",
    "neighbour_recall",
    "identical",
    "cpus",
    "date",
    "graph_strategy",
    "graph_seconds",
    "estimated_peak_graph_gb",
    "peak_rss_before_select_gb",
    "max_graph_gb",
    "estimated_clustered_float64_seconds",
    "estimated_clustered_screened_seconds",
    "estimated_all_pairs_screened_seconds",
    "cpu_seconds",
    "load_average",
]


def make_inputs(n, d, classes, data="clustered", seed=0):
    """The synthetic case as pruner inputs (embedding held once, in an Arrow column)."""
    import pyarrow as pa
    from reference_prune4rel import clustered_embeddings, unstructured_embeddings

    from noisyprune.artifacts import Artifact
    from noisyprune.pruners.base import PrunerInputs

    generate = {"clustered": clustered_embeddings, "unstructured": unstructured_embeddings}[data]
    embedding, confidence, labels = generate(n, d, classes, seed=seed)
    table = pa.table(
        {
            "sample_id": np.arange(n),
            "confidence": confidence,
            "embedding": pa.FixedSizeListArray.from_arrays(pa.array(embedding.reshape(-1)), d),
        }
    )
    del embedding
    return PrunerInputs(
        sample_id=np.arange(n),
        noisy_label=labels,
        num_classes=classes,
        features=Artifact(table=table, metadata={}, path=None),
    )


def run_case(case: dict) -> dict:
    """Run one implementation on one case in this process and return its result row."""
    from reference_prune4rel import reference_prune4rel

    from noisyprune.pruners.budget import budget_for
    from noisyprune.pruners.prune4rel import Prune4ReL

    inputs = make_inputs(case["n"], case["d"], case["classes"], case["data"])
    budget = budget_for(case["fraction"], case["n"])
    row = {key: case[key] for key in ("data", "n", "d", "classes", "fraction", "tau", "implementation")}
    row.update(budget=budget, input_gb=round(case["n"] * case["d"] * 4 / 1e9, 3))
    row["peak_rss_before_select_gb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 2)
    if case["implementation"] != "reference":
        row["max_graph_gb"] = 4.0  # the default the pruner runs with
        pruner = Prune4ReL(balance="equal", tau=case["tau"], eta=1.0, gain="own", engine="auto")
        start, cpu_start = time.perf_counter(), _cpu_seconds()
        selection = pruner.select(inputs, budget, np.random.default_rng(0))
        row["seconds"] = round(time.perf_counter() - start, 2)
        row["cpu_seconds"] = round(_cpu_seconds() - cpu_start, 2)
        row["engine"] = selection.diagnostics["engine"]
        row["neighbour_recall"] = selection.diagnostics.get("neighbour_recall", "")
        row.update(
            {key: round(value, 4) if isinstance(value, float) else value for key, value in selection.runtime.items()}
        )
        np.save(case["positions_file"], selection.positions)
        reference = Path(case["reference_file"])
        if reference.is_file():  # a reference computed earlier on the same case
            row["identical"] = bool(np.array_equal(np.load(reference), selection.positions))
    else:
        embedding = inputs.features.numpy("embedding")
        confidence = inputs.features.numpy("confidence")
        start, cpu_start = time.perf_counter(), _cpu_seconds()
        picks, _ = reference_prune4rel(
            embedding, confidence, budget, case["tau"], 1.0, inputs.noisy_label, inputs.num_classes, "equal"
        )
        row["seconds"] = round(time.perf_counter() - start, 2)
        row["cpu_seconds"] = round(_cpu_seconds() - cpu_start, 2)
        row["engine"] = "dense reference"
        Path(case["reference_file"]).parent.mkdir(parents=True, exist_ok=True)
        np.save(case["reference_file"], picks)
        engine_picks = np.load(case["positions_file"])
        row["identical"] = bool(np.array_equal(picks, engine_picks))
    row["peak_rss_gb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 2)
    row["load_average"] = round(os.getloadavg()[0], 2)  # other work on the machine slows wall times
    return row


def _cpu_seconds() -> float:
    """CPU time of this process (user + system, all threads): robust to other load, unlike wall time."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only the 10k cases")
    parser.add_argument("--sizes", type=int, nargs="*", help="only cases with these n")
    parser.add_argument("--skip-reference", action="store_true", help="run our engine only")
    parser.add_argument("--data", choices=("clustered", "unstructured", "all"), default="clustered")
    parser.add_argument("--label", default="engine", help="implementation name for the engine's rows")
    parser.add_argument("--classes", type=int, nargs="*", help="only cases with these class counts")
    parser.add_argument("--fractions", type=float, nargs="*", help="only cases with these fractions")
    parser.add_argument("--case", help=argparse.SUPPRESS)  # internal: run one case (JSON)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(json.loads(args.case))))
        return
    sizes = [10_000] if args.quick else args.sizes
    grids = {"clustered": GRID, "unstructured": UNSTRUCTURED_GRID}
    kinds = list(grids) if args.data == "all" else [args.data]
    grid = [
        (kind, *case)
        for kind in kinds
        for case in grids[kind]
        if (not sizes or case[0] in sizes)
        and (not args.classes or case[2] in args.classes)
        and (not args.fractions or case[3] in args.fractions)
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    new_file = not RESULTS.exists()
    with RESULTS.open("a", newline="") as handle, tempfile.TemporaryDirectory() as tmp:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        if new_file:
            writer.writeheader()
        for data, n, d, classes, fraction, tau, with_reference in grid:
            name = f"{n}_{d}_{classes}_{fraction}_{tau}" + ("" if data == "clustered" else f"_{data}")
            positions_file = str(Path(tmp) / f"positions_{name}.npy")
            # References are slow and never change: cached picks let --skip-reference still check.
            reference_file = str(CACHE / f"reference_{name}.npy")
            with_reference = with_reference and not args.skip_reference
            for implementation in (args.label, "reference") if with_reference else (args.label,):
                case = dict(
                    data=data,
                    n=n,
                    d=d,
                    classes=classes,
                    fraction=fraction,
                    tau=tau,
                    implementation=implementation,
                    positions_file=positions_file,
                    reference_file=reference_file,
                )
                done = subprocess.run(
                    [sys.executable, __file__, "--case", json.dumps(case)], capture_output=True, text=True
                )
                if done.returncode != 0:
                    row = {
                        **{k: case[k] for k in ("data", "n", "d", "classes", "fraction", "tau", "implementation")},
                        "engine": f"FAILED: {done.stderr.strip().splitlines()[-1] if done.stderr else done.returncode}",
                    }
                else:
                    row = json.loads(done.stdout.strip().splitlines()[-1])
                row.update(cpus=os.cpu_count(), date=time.strftime("%Y-%m-%d"))
                writer.writerow({key: row.get(key, "") for key in COLUMNS})
                handle.flush()
                print(json.dumps(row), flush=True)
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs; results in {RESULTS}")


if __name__ == "__main__":
    main()
