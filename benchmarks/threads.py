"""Threads that do not spin: a training epoch and a Prune4ReL selection on quiet and on loaded cores.

    .venv/bin/python benchmarks/threads.py [--repeats 2] [--load 2]

OpenMP worker threads (torch's intra-op pool, MKL) busy-wait between parallel regions by default.
When another process holds the cores they wait for, they spin instead of yielding and a job runs
many times slower. For each setting — ``threads`` (the job's ``threads``) and the environment the
job starts with (``OMP_WAIT_POLICY`` unset, the OpenMP default, or ``PASSIVE``; libgomp's spin
before sleeping with ``GOMP_SPINCOUNT``; core binding with ``OMP_PROC_BIND``) — every workload runs
in a fresh process (the variables are read when the OpenMP runtime loads), alternately on quiet
cores and with ``--load`` processes spinning on the same cores (pure Python loops, as another user's
job would). Workloads: one epoch of the default's MLP on Fashion-MNIST's 60,000 training images with
CE at batch 128 (the second epoch is timed), and an exact Prune4ReL selection at n = 20,000 (128-d
clustered embeddings, 20% kept, the graph engine). Results: ``benchmarks/results/threads.csv`` and
``threads.md`` (median of ``--repeats`` runs, loaded/quiet ratio).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import multiprocessing
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
FASHION = Path(os.environ.get("NOISYPRUNE_FASHION", REPO.parent / "shared" / "data" / "fashion-mnist"))
RESULTS = REPO / "benchmarks" / "results"
sys.path.insert(0, str(REPO / "src"))
from noisyprune.thread_policy import JOB_THREAD_ENVIRONMENT  # noqa: E402

# the settings a job gets when the config does not say: the schema's default and the thread policy
DEFAULT_THREADS = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())["properties"]["threads"][
    "default"
]
DEFAULT_SETTING = ", ".join(
    [f"{DEFAULT_THREADS} thread{'s' if DEFAULT_THREADS > 1 else ''}"]
    + [f"{variable}={value}" for variable, value in JOB_THREAD_ENVIRONMENT.items()]
)
# (label, threads, extra environment)
SETTINGS = [
    ("1 thread", 1, {}),
    ("1 thread, OMP_WAIT_POLICY=PASSIVE", 1, {"OMP_WAIT_POLICY": "PASSIVE"}),
    ("2 threads", 2, {}),
    ("2 threads, OMP_WAIT_POLICY=PASSIVE", 2, {"OMP_WAIT_POLICY": "PASSIVE"}),
    ("2 threads, GOMP_SPINCOUNT=1000 (a short spin, then sleep)", 2, {"GOMP_SPINCOUNT": "1000"}),
    ("2 threads, OMP_PROC_BIND=close (threads bound to cores)", 2, {"OMP_PROC_BIND": "close"}),
]
WORKLOADS = ("epoch", "selection")


def epoch_seconds(threads: int) -> float:
    """Seconds of the second CE epoch of the default's MLP on Fashion-MNIST (60,000 images, batch 128)."""
    import numpy as np
    import torch

    from noisyprune.data import load_dataset
    from noisyprune.models import build_model

    torch.set_num_threads(threads)
    data = load_dataset("fashion_mnist", {"loader": "fashion_mnist", "root": str(FASHION)})
    x = torch.as_tensor(np.asarray(data.train_x, dtype=np.float32))
    y = torch.as_tensor(np.asarray(data.train_y, dtype=np.int64))
    model = build_model({"arch": "mlp", "hidden": [256, 128]}, data.input_shape, data.num_classes)
    optimiser = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    order = torch.Generator().manual_seed(0)
    seconds = 0.0
    for _ in range(2):
        start = time.perf_counter()
        for batch in torch.randperm(len(y), generator=order).split(128):
            optimiser.zero_grad(set_to_none=True)
            loss = torch.nn.functional.cross_entropy(model(x[batch]), y[batch])
            loss.backward()
            optimiser.step()
        seconds = time.perf_counter() - start
    return seconds


def selection_seconds(threads: int) -> float:
    """Seconds of an exact Prune4ReL selection (graph engine) at n = 20,000, 20% kept."""
    import numpy as np
    from threadpoolctl import threadpool_limits

    import noisyprune

    rng = np.random.default_rng(0)
    n, classes, dim = 20_000, 10, 128
    centres = rng.normal(size=(200, dim))
    features = centres[rng.integers(0, 200, n)] + 0.35 * rng.normal(size=(n, dim))
    labels = rng.integers(0, classes, n)
    probabilities = rng.dirichlet(np.ones(classes), n)
    with threadpool_limits(limits=threads):
        start = time.perf_counter()
        noisyprune.select_subset(
            labels,
            method="prune4rel",
            fraction=0.2,
            features=features,
            probabilities=probabilities,
            tau=0.95,
            engine="graph",
        )
        return time.perf_counter() - start


def spin() -> None:
    """Hold a core: what another user's busy process does."""
    while True:
        pass


@contextlib.contextmanager
def spinning(processes: int) -> Iterator[None]:
    """``processes`` busy processes on the machine's cores for the duration of the block."""
    spinners = [multiprocessing.Process(target=spin, daemon=True) for _ in range(processes)]
    for process in spinners:
        process.start()
    try:
        yield
    finally:
        for process in spinners:
            process.kill()
            process.join()


def measure(workload: str, threads: int, environment: dict[str, str]) -> float:
    """Run ``workload`` in a fresh process with ``threads`` and ``environment``; its seconds."""
    env = {**os.environ, **environment}
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[variable] = str(threads)
    for variable in ("OMP_WAIT_POLICY", "OMP_PROC_BIND", "GOMP_SPINCOUNT"):  # only what the setting names
        if variable not in environment:
            env.pop(variable, None)
    command = [sys.executable, __file__, "--worker", workload, "--threads", str(threads)]
    output = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    return float(json.loads(output.strip().splitlines()[-1])["seconds"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--load", type=int, default=2, help="busy processes on the same cores when loaded")
    parser.add_argument("--worker", choices=WORKLOADS, help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    load_at_start = os.getloadavg()[0]  # the 1-minute load average: other users' work
    if args.worker:
        run = epoch_seconds if args.worker == "epoch" else selection_seconds
        print(json.dumps({"seconds": run(args.threads)}))
        return
    rows = []
    for workload in WORKLOADS:
        for label, threads, environment in SETTINGS:
            # quiet and loaded alternate run by run, so that a change in the machine's background
            # load during the benchmark falls on both columns alike
            times: dict[str, list[float]] = {"quiet": [], "loaded": []}
            for _ in range(args.repeats):
                times["quiet"].append(measure(workload, threads, environment))
                with spinning(args.load):
                    times["loaded"].append(measure(workload, threads, environment))
            for condition, seconds in times.items():
                rows.append(
                    {
                        "workload": workload,
                        "setting": label,
                        "condition": condition,
                        "seconds": round(statistics.median(seconds), 2),
                        "runs": args.repeats,
                    }
                )
                print(rows[-1], flush=True)
    meta = {
        "cpus": os.cpu_count(),
        "load": args.load,
        "date": date.today().isoformat(),
        "machine": platform.machine(),
        "load_average_at_start": round(load_at_start, 2),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    with (RESULTS / "threads.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*rows[0], *meta])
        writer.writeheader()
        writer.writerows({**row, **meta} for row in rows)
    quiet = {(r["workload"], r["setting"]): r["seconds"] for r in rows if r["condition"] == "quiet"}
    lines = [
        f"# Threads on quiet and loaded cores ({meta['cpus']} cores, {args.load} busy processes when loaded, "
        f"median of {args.repeats}; {meta['date']})",
        "",
        f"Load average when it started: {meta['load_average_at_start']} (other processes on the machine). "
        f"Jobs run with threads: {DEFAULT_THREADS} and "
        + ", ".join(f"{k}={v}" for k, v in JOB_THREAD_ENVIRONMENT.items())
        + " unless configured otherwise (noisyprune.thread_policy): the row marked *default*.",
        "",
        "| workload | setting | quiet (s) | loaded (s) | loaded / quiet |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        if row["condition"] == "loaded":
            base = quiet[(row["workload"], row["setting"])]
            marker = " *default*" if row["setting"] == DEFAULT_SETTING else ""
            lines.append(
                f"| {row['workload']} | {row['setting']}{marker} | {base} | {row['seconds']} | "
                f"{row['seconds'] / base:.1f}× |"
            )
    (RESULTS / "threads.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
