"""What a short call of the Python API costs around its pruning: a fresh interpreter that starts,
imports torch, imports noisyprune's API, or selects from 300 samples (uniform; Prune4ReL), in
wall-clock seconds, the median of ``--repeats`` runs, each in a new process (so nothing is cached
in memory but the OS's files).

    .venv/bin/python benchmarks/import_cost.py             # writes benchmarks/results/import_cost.json

Set OMP_NUM_THREADS=1 on shared machines. The figures depend on the disk cache: the first run after
a boot reads torch from disk and is slower; the repeats measure the warm case.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
# A selection on 300 samples in 3 classes: the smallest call, so nearly all of it is start-up.
SMALL = (
    "import numpy as np, noisyprune; r = np.random.default_rng(0); y = np.arange(300) % 3; "
    "x = r.normal(size=(300, 16)) + 3 * np.eye(3, 16)[y]; p = np.full((300, 3), 0.1); p[range(300), y] = 0.8; "
)
STATEMENTS = {
    "python_start_s": "pass",
    "import_torch_s": "import torch",
    "import_api_s": "import noisyprune.api",
    "select_uniform_300_s": SMALL + "noisyprune.select_subset(y, method='uniform', fraction=0.5)",
    "select_prune4rel_300_s": SMALL
    + "noisyprune.select_subset(y, method='prune4rel', fraction=0.5, features=x, probabilities=p)",
}


def seconds(statement: str, repeats: int) -> float:
    """Median wall-clock seconds of ``python -c statement`` in a fresh process."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", statement], check=True, env=os.environ.copy())
        times.append(time.perf_counter() - start)
    return round(statistics.median(times), 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output", type=Path, default=RESULTS / "import_cost.json")
    args = parser.parse_args()
    seconds(STATEMENTS["import_api_s"], 1)  # warm the disk cache once
    result = {"date": date.today().isoformat(), "cpus": os.cpu_count(), "repeats": args.repeats}
    result |= {key: seconds(statement, args.repeats) for key, statement in STATEMENTS.items()}
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
