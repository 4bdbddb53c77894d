"""Re-labeling learners on Fashion-MNIST with 40% symmetric noise: every learner at full data and at
fraction 0.4 with uniform and prune4rel selection.

    .venv/bin/python benchmarks/learners.py                      # the default (about 30 min on 2 cores)
    .venv/bin/python benchmarks/learners.py --shift 2 --output learners_shift2.csv   # weak view shifted
    .venv/bin/python benchmarks/learners.py --train 60000 --epochs 100 --workers 1   # paper-like, GPU
    .venv/bin/python benchmarks/learners.py --probe 100 --learners ce ce_probe l2r ieg rdia rdia_ls \
        --output learners_meta.csv                                 # meta-learning and influence learners

A CE warm-up trains on the (sub)set and its features drive the selection; then every learner
trains a fresh small CNN on each subset through the same ``train_on_samples`` the pipeline uses.
Reported per run: clean test accuracy (last and best epoch), re-labeling accuracy over the whole
training set, the kept subset and its noisy part, the subset's noise rate and wall time. Results
go to ``benchmarks/results/<--output>`` (one row per run, overwritten).

The weak view is unaugmented by default (``--shift 0``; the strong view keeps RandAugment and
Cutout for SOP+): with 2–4k images and 30 epochs, a shifted weak view keeps CE in its early-learning
phase, where it does not memorise the wrong labels yet and re-labeling has nothing to correct (see
``learners_shift2.csv``). Without it CE fits the noise within the budget, which is the regime the
re-labeling learners are for (and the one long CIFAR schedules reach with augmentation).

``--probe P`` adds a clean probe set of P further training images (the P after the first
``--train``, class counts as they come; their labels stay clean, they are never pruned and never
trained on by the warm-up) for the learners that need one (``l2r``, ``ieg``, ``rdia``); ``rdia`` also
reads the warm-up's embeddings. ``ce_probe`` is IEG's "supervised" reference: CE on the subset plus
the probe set, i.e. the same clean labels used as plain training data. Re-labeling accuracies are
over the ``--train`` images only, so rows with and without a probe set compare.

On a 2-core CPU the default takes the first ``--train`` images of the training split (3,000, about
300 per class) and the first 2,000 test images, so that the whole grid fits in about half an hour.
"""

from __future__ import annotations

import argparse
import csv
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"

MODEL = {"arch": "small_cnn", "channels": [32, 64, 128]}
# Short-schedule settings (the original defaults assume ~400 steps per epoch and 200–300 epochs):
# SOP's u/v grow geometrically from 1e-8, so Prune4ReL's CIFAR-10N rates; ELR+'s weight average
# spans ~100 steps (~1.5 epochs here) instead of ~330; DivideMix warms up for a sixth of the run.
LEARNERS = {
    "ce": {"learner": "ce"},
    "sop": {"learner": "sop", "lr_u": 10.0, "lr_v": 100.0},
    "sop_plus": {"learner": "sop_plus", "lr_u": 10.0, "lr_v": 100.0},
    "elr": {"learner": "elr", "beta": 0.7, "lam": 3.0},
    "elr_plus": {"learner": "elr_plus", "beta": 0.7, "lam": 3.0, "ema_alpha": 0.99, "ema_step": 1000},
    "dividemix": {"learner": "dividemix", "warmup_epochs": 5, "rampup_epochs": 10, "lambda_u": 25.0},
    # IEG's CIFAR factors; its weight average over ~100 steps (2 epochs here) instead of ~1000
    "ieg": {"learner": "ieg", "ce_factor": 5.0, "consistency_factor": 20.0, "ema_decay": 0.99},
    "l2r": {"learner": "l2r", "meta_lr": 0.1},
    "rdia": {"learner": "rdia", "alpha": 0.1},
    # the noise rate known, as RDIA-LS assumes; γ and the schedule of the original's MNIST run
    "rdia_ls": {"learner": "rdia_ls", "noise_rate": 0.4, "clean_weight": 0.2, "init_epoch": 10, "num_gradual": 10},
    "ce_probe": {"learner": "ce"},  # trained on the subset plus the probe set (see the docstring)
}
NEEDS_PROBE = {"ieg", "l2r", "rdia", "ce_probe"}
SETTINGS = [("full", 1.0), ("uniform", 0.4), ("prune4rel", 0.4)]
PRUNE4REL = {"pruner": "prune4rel", "tau": 0.975, "eta": 1.0, "balance": "equal"}


def load(root: str, train: int, probe: int = 0):
    """The first ``train`` (+ ``probe``) training and 2,000 test images of Fashion-MNIST, and 40%
    symmetric noise on the first ``train`` labels (the probe's stay clean)."""
    from noisyprune.data import load_dataset
    from noisyprune.data.base import ArrayDataset
    from noisyprune.noise import apply_noise

    full = load_dataset("fashion_mnist", {"loader": "fashion_mnist", "root": root})
    data = ArrayDataset(
        "fashion_mnist",
        full.train_x[: train + probe],
        full.train_y[: train + probe],
        full.test_x[:2000],
        full.test_y[:2000],
        full.class_names,
        full.pixel_mean,
        full.pixel_std,
    )
    noise = apply_noise(
        data.train_y[:train], data.num_classes, {"kind": "symmetric", "rate": 0.4}, np.random.default_rng(0)
    )
    noisy = np.concatenate([noise.noisy, data.train_y[train:]])
    return data, noise, noisy


def select(root: str, train: int, epochs: int, probe: int = 0) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """CE warm-up on the ``train`` noisy images, then the kept sample ids of every setting, and the
    warm-up's embedding of every image (probe included) ``(train + probe, d)``."""
    import pyarrow as pa

    from noisyprune.artifacts import Artifact
    from noisyprune.derived_scores import confidence_scores
    from noisyprune.pruners import build_pruner
    from noisyprune.pruners.base import PrunerInputs
    from noisyprune.pruners.budget import budget_for
    from noisyprune.training.inference import embed_and_classify
    from noisyprune.training.job import TrainingJob
    from noisyprune.training.run import train_on_samples

    data, noise, _ = load(root, train, probe)
    entry = {"learner": "ce", "epochs": epochs, "batch_size": 128, "lr": 0.05}
    job = TrainingJob(entry, MODEL, seed=1, inference_batch_size=2048)
    warmup = train_on_samples(job, data, noise.noisy, np.arange(train), torch.device("cpu"))
    logits, embedding = embed_and_classify(warmup.ctx.model, torch.as_tensor(data.train_x), 2048)
    all_embeddings = embedding.numpy()
    logits, embedding = logits[:train], embedding[:train]
    scores = confidence_scores(logits, torch.as_tensor(noise.noisy))
    features = pa.table(
        {
            "sample_id": np.arange(train),
            "noisy_label": noise.noisy,
            "probs": pa.FixedSizeListArray.from_arrays(pa.array(scores["probs"].numpy().reshape(-1)), 10),
            "embedding": pa.FixedSizeListArray.from_arrays(pa.array(embedding.numpy().reshape(-1)), embedding.shape[1]),
            **{key: scores[key].numpy() for key in ("loss", "confidence", "margin", "entropy", "prediction")},
        }
    )
    inputs = PrunerInputs(
        sample_id=np.arange(train), noisy_label=noise.noisy, num_classes=10, features=Artifact(features, {}, None)
    )
    subsets = {}
    for method, fraction in SETTINGS:
        entry = PRUNE4REL if method == "prune4rel" else {"pruner": method}
        selection = build_pruner(entry).select(inputs, budget_for(fraction, train), np.random.default_rng(0))
        subsets[method] = np.sort(np.asarray(selection.positions))
    print(f"warm-up: test accuracy {warmup.history.rows[-1]['test_acc']:.4f}", flush=True)
    return subsets, all_embeddings


def run_one(job) -> dict:
    """Train one learner on one subset and score it (runs in a worker process)."""
    from noisyprune.metrics import relabeling_metrics
    from noisyprune.training.job import TrainingJob
    from noisyprune.training.run import train_on_samples

    root, train, probe, epochs, learner, method, fraction, kept, shift, batch_size, embeddings = job
    torch.set_num_threads(1)
    data, noise, noisy = load(root, train, probe)
    probe_ids = np.arange(train, train + probe) if learner in NEEDS_PROBE else None
    if learner in NEEDS_PROBE and not probe:
        raise SystemExit(f"{learner} needs a probe set: pass --probe")
    trained = np.concatenate([kept, probe_ids]) if learner == "ce_probe" else kept
    entry = {**LEARNERS[learner], "epochs": epochs, "batch_size": batch_size, "lr": 0.05}
    start = time.perf_counter()
    job = TrainingJob(entry, MODEL, seed=0, inference_batch_size=2048, augment_entry={"shift": shift})
    result = train_on_samples(
        job,
        data,
        noisy,
        trained,
        torch.device("cpu"),
        probe_ids=None if learner == "ce_probe" else probe_ids,
        warmup_embeddings=embeddings if learner == "rdia" else None,
    )
    seconds = time.perf_counter() - start
    x = torch.as_tensor(data.train_x[:train])
    logits = result.learner.predict_logits(result.ctx, x, 2048)
    relabel = result.learner.relabel(result.ctx, torch.arange(train), torch.as_tensor(noise.noisy), logits).numpy()
    in_subset = np.isin(np.arange(train), kept)
    test_acc = [row["test_acc"] for row in result.history.rows]
    row = {
        "learner": learner,
        "method": method,
        "fraction": fraction,
        "n": train,
        "probe": probe if learner in NEEDS_PROBE else 0,
        "epochs": epochs,
        "weak_shift": shift,
        "batch_size": batch_size,
        "test_acc_last": round(test_acc[-1], 4),
        "test_acc_best": round(max(test_acc), 4),
        **{
            key: round(value, 4)
            for key, value in relabeling_metrics(relabel, data.train_y[:train], noise.is_noisy, in_subset).items()
        },
        "relabel_acc_prediction": round(float((logits.argmax(1).numpy() == data.train_y[:train]).mean()), 4),
        "subset_noise_rate": round(float(noise.is_noisy[in_subset].mean()), 4),
        **dict(getattr(result.learner, "report", {}).items()),
        "train_seconds": round(seconds, 1),
        "cpus": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d"),
    }
    print(row, flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=str(REPO.parent / "shared" / "data" / "fashion-mnist"))
    parser.add_argument("--train", type=int, default=3000, help="training images used (from the start)")
    parser.add_argument("--shift", type=int, default=0, help="weak-view shift in pixels (0 = unaugmented)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--output", default="learners.csv")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--warmup-epochs", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--learners", nargs="*", default=[name for name in LEARNERS if name not in NEEDS_PROBE and name != "rdia_ls"]
    )
    parser.add_argument("--probe", type=int, default=0, help="clean probe images after the first --train")
    args = parser.parse_args()
    torch.set_num_threads(args.workers)
    subsets, embeddings = select(args.root, args.train, args.warmup_epochs, args.probe)
    jobs = [
        (
            args.root,
            args.train,
            args.probe,
            args.epochs,
            learner,
            method,
            fraction,
            subsets[method],
            args.shift,
            args.batch_size,
            embeddings,
        )
        for learner in args.learners
        for method, fraction in SETTINGS
    ]
    cost = {"dividemix": 3, "elr_plus": 3, "sop_plus": 3, "l2r": 3, "ieg": 6}
    jobs.sort(key=lambda job: -(job[6] * cost.get(job[4], 1)))
    with ProcessPoolExecutor(args.workers) as pool:
        rows = list(pool.map(run_one, jobs))
    RESULTS.mkdir(parents=True, exist_ok=True)
    with (RESULTS / args.output).open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(dict.fromkeys(key for row in rows for key in row)))
        writer.writeheader()
        writer.writerows(sorted(rows, key=lambda row: (list(LEARNERS).index(row["learner"]), row["method"])))


if __name__ == "__main__":
    main()
