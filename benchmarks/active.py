"""Active learning on Fashion-MNIST: margin vs random acquisition over 5 query rounds (run by hand).

    .venv/bin/python benchmarks/active.py [--cores 2] [--max-train 10000] [--seeds 0 1]

Runs the real workflow (`snakemake active_all`) on ../shared/data/fashion-mnist with 40% symmetric
noise on the labels the annotator returns, a small CNN trained from scratch with CE every round,
500 initial labels and 500 per round. On a GPU drop --max-train to use all 60,000 images. Writes
benchmarks/results/active_fashion_mnist.csv (one row per round), .md (learning-curve tables) and
.png (the learning-curve plot), and prints the wall time.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import time
from pathlib import Path

import yaml
from snakemake_command import snakemake_command  # benchmarks/ is the script's folder, hence on sys.path

REPO = Path(__file__).resolve().parents[1]
FASHION = REPO.parent / "shared" / "data" / "fashion-mnist"


def config(max_train: int | None, seeds: list[int], epochs: int) -> dict:
    """A self-contained config: the active experiments plus the smallest pruning sweep the schema
    requires (not run: the target is `active_all`)."""
    dataset = {"loader": "fashion_mnist", "root": str(FASHION), "model": "cnn", "max_test": 2000}
    if max_train:
        dataset["max_train"] = max_train
    learner = {"learner": "ce", "epochs": epochs, "batch_size": 128, "lr": 0.05}
    experiment = {"learner": "ce", "initial": 500, "query": 500, "rounds": 5}
    return {
        "device": "auto",
        "threads": 1,
        "sweep": {
            "datasets": ["fashion_mnist"],
            "noise": ["sym40"],
            "seeds": seeds,
            "warmups": ["ce"],
            "methods": ["uniform"],
            "fractions": [1.0],
            "learners": ["ce"],
            "active": ["margin", "random"],
        },
        "datasets": {"fashion_mnist": dataset},
        "models": {"cnn": {"arch": "small_cnn", "channels": [32, 64, 128]}},
        "noise": {"sym40": {"kind": "symmetric", "rate": 0.4}},
        "warmups": {"ce": learner},
        "methods": {"uniform": {"pruner": "uniform"}},
        "learners": {"ce": learner},
        "active": {
            "margin": {"acquisition": "margin", **experiment},
            "random": {"acquisition": "random", **experiment},
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--max-train", type=int, default=10000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--workdir", type=Path, default=REPO / "benchmarks" / ".cache" / "active")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    config_path = args.workdir / "config.yaml"
    config_path.write_text(yaml.safe_dump(config(args.max_train or None, args.seeds, args.epochs), sort_keys=False))
    command = snakemake_command(
        args.workdir, [config_path], "--replace-workflow-config", "--cores", str(args.cores), "active_all"
    )
    start = time.perf_counter()
    subprocess.run(command, check=True)
    wall = time.perf_counter() - start
    results = REPO / "benchmarks" / "results"
    tables = args.workdir / "results" / "tables"
    shutil.copyfile(tables / "active.csv", results / "active_fashion_mnist.csv")
    shutil.copyfile(tables / "active" / "fashion_mnist__sym40.md", results / "active_fashion_mnist.md")
    shutil.copyfile(
        args.workdir / "results" / "plots" / "fashion_mnist__sym40__active.png", results / "active_fashion_mnist.png"
    )
    print(f"wall time {wall:.0f} s; results in {results}/active_fashion_mnist.*")


if __name__ == "__main__":
    main()
