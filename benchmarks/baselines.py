"""Selection time of every pruner on real warm-up features: Fashion-MNIST, n = 60,000.

    .venv/bin/python benchmarks/baselines.py [--root ../shared/data/fashion-mnist] [--epochs 3]

Trains a CE warm-up (small CNN, 40% symmetric noise, 2 CPU threads) with the package's own loop,
extracts its features and dynamics exactly as the workflow's stages do, then times each pruner's
``select`` at fractions 0.2 and 0.8 and records the realised noise rate of the subset. Also writes
the noise-detection quality of every score. Results: ``benchmarks/results/baselines.csv`` and
``benchmarks/results/detection_fashion_mnist.csv`` (and the warm-up's accuracy in the first).
"""

from __future__ import annotations

import argparse
import csv
import os
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import torch

from noisyprune.artifacts import Artifact
from noisyprune.data import load_dataset
from noisyprune.derived_scores import confidence_scores
from noisyprune.detection import detection_quality, noise_scores
from noisyprune.noise import apply_noise
from noisyprune.pruners import build_pruner
from noisyprune.pruners.base import PrunerInputs
from noisyprune.pruners.budget import budget_for
from noisyprune.training.callbacks import DynamicsRecorder
from noisyprune.training.inference import embed_and_classify
from noisyprune.training.job import TrainingJob
from noisyprune.training.run import train_on_samples

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"

METHODS = {
    "uniform": {"pruner": "uniform"},
    "small_loss": {"pruner": "small_loss"},
    "margin": {"pruner": "uncertainty", "score": "margin"},
    "el2n": {"pruner": "el2n"},
    "grand": {"pruner": "grand"},
    "forgetting": {"pruner": "forgetting"},
    "moderate": {"pruner": "moderate"},
    "kcenter_greedy": {"pruner": "kcenter_greedy"},
    "glister": {"pruner": "glister"},
    "ccs": {"pruner": "ccs"},
    "confident_learning": {"pruner": "confident_learning"},
    "prune4rel_graph": {"pruner": "prune4rel", "tau": 0.975, "engine": "graph"},
    "prune4rel_ivf": {"pruner": "prune4rel", "tau": 0.975, "engine": "ivf"},
}


def warmup_artifacts(root: str, epochs: int, seed: int = 0):
    """Train the warm-up and return ``(features, dynamics, noisy labels, is_noisy, test accuracy, seconds)``."""
    torch.set_num_threads(os.cpu_count() or 1)
    data = load_dataset("fashion_mnist", {"loader": "fashion_mnist", "root": root})
    noise = apply_noise(data.train_y, data.num_classes, {"kind": "symmetric", "rate": 0.4}, np.random.default_rng(seed))
    recorder = DynamicsRecorder()
    start = time.perf_counter()
    entry = {"learner": "ce", "epochs": epochs, "batch_size": 256, "lr": 0.05}
    job = TrainingJob(entry, {"arch": "small_cnn", "channels": [16, 32, 64]}, seed=seed, inference_batch_size=2048)
    result = train_on_samples(
        job, data, noise.noisy, np.arange(data.num_train), torch.device("cpu"), callbacks=[recorder]
    )
    seconds = time.perf_counter() - start
    logits, embedding = embed_and_classify(result.ctx.model, torch.as_tensor(data.train_x), 2048)
    scores = confidence_scores(logits, torch.as_tensor(noise.noisy))
    n, classes = data.num_train, data.num_classes
    table = pa.table(
        {
            "sample_id": np.arange(n),
            "noisy_label": noise.noisy,
            "probs": pa.FixedSizeListArray.from_arrays(pa.array(scores["probs"].numpy().reshape(-1)), classes),
            "embedding": pa.FixedSizeListArray.from_arrays(pa.array(embedding.numpy().reshape(-1)), embedding.shape[1]),
            **{key: scores[key].numpy() for key in ("loss", "confidence", "margin", "entropy", "prediction")},
        }
    )
    dynamics = pa.table(dict(recorder.columns(noise.noisy).items()))
    return (
        Artifact(table, {}, None),
        Artifact(dynamics, {}, None),
        noise.noisy,
        noise.is_noisy,
        result.history.rows[-1]["test_acc"],
        seconds,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=str(REPO.parent / "shared" / "data" / "fashion-mnist"))
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    features, dynamics, noisy, is_noisy, warmup_acc, warmup_seconds = warmup_artifacts(args.root, args.epochs)
    print(f"warm-up: {args.epochs} epochs in {warmup_seconds:.0f} s, clean test accuracy {warmup_acc:.4f}")
    inputs = PrunerInputs(
        sample_id=np.arange(len(noisy)), noisy_label=noisy, num_classes=10, features=features, dynamics=dynamics
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, entry in METHODS.items():
        for fraction in (0.2, 0.8):
            budget = budget_for(fraction, len(noisy))
            start = time.perf_counter()
            selection = build_pruner(entry).select(inputs, budget, np.random.default_rng(0))
            seconds = time.perf_counter() - start
            row = {
                "method": name,
                "fraction": fraction,
                "n": len(noisy),
                "select_seconds": round(seconds, 3),
                "subset_noise_rate": round(float(is_noisy[selection.positions].mean()), 4),
                "dataset_noise_rate": round(float(is_noisy.mean()), 4),
                "diagnostics": selection.diagnostics,
                "runtime": {k: round(v, 3) if isinstance(v, float) else v for k, v in selection.runtime.items()},
                "warmup_test_acc": round(warmup_acc, 4),
                "warmup_seconds": round(warmup_seconds, 1),
                "cpus": os.cpu_count(),
                "date": time.strftime("%Y-%m-%d"),
            }
            rows.append(row)
            print(row, flush=True)
    with (RESULTS / "baselines.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    detection = detection_quality(noise_scores(features, dynamics, noisy, 10), is_noisy)
    with (RESULTS / "detection_fashion_mnist.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["score", "auroc", "average_precision"])
        writer.writeheader()
        writer.writerows({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()} for row in detection)
    for row in detection:
        print(f"{row['score']:32s} AUROC {row['auroc']:.4f}  AP {row['average_precision']:.4f}")


if __name__ == "__main__":
    main()
