"""Time the embedded default run from scratch (run by hand; not part of the tests).

    .venv/bin/python benchmarks/default_run.py [--cores 2]
    .venv/bin/python benchmarks/default_run.py --no-job-server --output benchmarks/results/default_run_no_server.json

Runs `snakemake --cores N` on config/config.yaml in a fresh temporary directory, then writes the
wall time, per-rule job times (from Snakemake's benchmark files and the runs table) and the machine
to benchmarks/results/default_run.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path

import pandas as pd
from snakemake_command import snakemake_command  # benchmarks/ is the script's folder, hence on sys.path

REPO = Path(__file__).resolve().parents[1]


def rule_seconds(workdir: Path) -> dict[str, dict[str, float]]:
    """Sum, count and max of the wall seconds of each rule's jobs, from the benchmark TSVs."""
    stats: dict[str, list[float]] = {}
    for tsv in workdir.glob("results/**/*.benchmark.tsv"):
        rule = tsv.name.split(".")[0]
        stats.setdefault(rule, []).extend(pd.read_csv(tsv, sep="\t")["s"].tolist())
    return {
        rule: {"jobs": len(v), "total_s": round(sum(v), 2), "max_s": round(max(v), 2)}
        for rule, v in sorted(stats.items())
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "results" / "default_run.json")
    parser.add_argument("--no-job-server", action="store_true", help="every job a plain process (job_server: false)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="noisyprune-bench-") as tmp:
        workdir = Path(tmp)
        config_files = [REPO / "config" / "config.yaml"]
        if args.no_job_server:
            (workdir / "no_server.yaml").write_text("job_server: false\n")
            config_files.append(workdir / "no_server.yaml")
        command = snakemake_command(workdir, config_files, "--cores", str(args.cores), "--quiet")
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        wall = time.perf_counter() - start
        runs = pd.read_parquet(workdir / "results" / "tables" / "runs.parquet")
        result = {
            "benchmark": "default config, full run from scratch",
            "command": " ".join(["snakemake", "--cores", str(args.cores)]),
            "job_server": not args.no_job_server,
            "wall_seconds": round(wall, 1),
            "runs": len(runs),
            "rules": rule_seconds(workdir),
            "in_process_seconds": {
                "warmup_mean": round(float(runs.drop_duplicates("seed")["warmup_seconds"].mean()), 2),
                "select_mean": round(float(runs["select_seconds"].mean()), 4),
                "retrain_mean": round(float(runs["retrain_seconds"].mean()), 2),
            },
            # mean over seeds, per learner, method and fraction
            **{
                f"mean_{metric}": {
                    f"{learner}/{method}@{fraction}": round(float(value), 4)
                    for (learner, method, fraction), value in runs.groupby(["learner", "method", "fraction"])[metric]
                    .mean()
                    .items()
                }
                for metric in ("test_acc_last", "test_acc_best", "relabel_acc_all")
            },
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
            "date": time.strftime("%Y-%m-%d"),
        }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
