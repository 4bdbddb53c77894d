"""The ``torch`` engine's exact τ-graph (float32 screen, float64 decisions) on a CUDA device.

    PYTHONPATH=src python3 benchmarks/prune4rel_gpu.py --output $OUT/prune4rel_gpu.csv

Needs only torch, numpy and this package (no faiss): on ``unstructured_embeddings`` (see
``benchmarks/prune4rel.py``) it checks that the GPU graph equals the CPU one (``NumpyTiles``, the
``graph`` engine's screened path) at ``--check-n`` samples, then times the GPU build at each
``--sizes`` n. One CSV row per case: n, d, device, seconds, edges, identical (only at the check size).
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))


def main() -> None:
    import torch
    from reference_prune4rel import unstructured_embeddings

    from noisyprune.pruners.neighbours.graph import unit_rows
    from noisyprune.pruners.neighbours.sources import exact_graph_blocked
    from noisyprune.pruners.neighbours.streamed_graph import NumpyTiles, all_pairs_groups, build_streamed_graph

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[200_000, 1_000_000])
    parser.add_argument("--check-n", type=int, default=50_000)
    parser.add_argument("--d", type=int, default=512)
    parser.add_argument("--tau", type=float, default=0.975)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--output", default=str(REPO / "benchmarks" / "results" / "prune4rel_gpu.csv"))
    args = parser.parse_args()
    device_name = torch.cuda.get_device_name() if args.device == "cuda" else "cpu"
    rows = []
    for n in [args.check_n, *args.sizes]:
        unit = unit_rows(unstructured_embeddings(n, args.d, 10)[0])
        if args.device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        graph = exact_graph_blocked(unit, args.tau, args.device, block_rows=8192)
        seconds = time.perf_counter() - start
        row = dict(n=n, d=args.d, device=device_name, seconds=round(seconds, 2), edges=graph.num_edges, identical="")
        if n == args.check_n:
            cpu = build_streamed_graph(n, all_pairs_groups(n), NumpyTiles(unit, args.tau, screen=True))
            row["identical"] = bool(
                np.array_equal(cpu.indptr, graph.indptr)
                and np.array_equal(cpu.indices, graph.indices)
                and np.allclose(cpu.weights, graph.weights, rtol=0, atol=1e-14)
            )
        print(row, flush=True)
        rows.append(row)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    with open(args.output, "a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        if handle.tell() == 0:
            writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    main()
