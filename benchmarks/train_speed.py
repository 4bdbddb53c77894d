"""Training throughput per learner and model, on either data path (run by hand).

    .venv/bin/python benchmarks/train_speed.py [--threads 2] [--device auto] [--epochs 2] [--cases 5 6]
    .venv/bin/python benchmarks/train_speed.py --storage stream --workers 2 --cases 5 6

For each (dataset, model, learner, batch size) it trains from scratch for ``--epochs`` epochs through
the same ``train_on_samples`` the warm-up and retrain jobs use (whole dataset as tensors on the
device, batched augmentation, no DataLoader) and records the mean seconds of the epochs after the
first (the first pays one-time costs) and the training images per second. Datasets: Fashion-MNIST
(60,000 images, ../shared/data) with the small CNN and an MLP, and digits with the MLP. Appends to
benchmarks/results/train_speed.csv with the device, thread count and torch version.

``--storage stream`` measures the streaming path (``storage: stream`` of image datasets): the images
are written as uint8 to a memory-mapped .npy in a temporary folder, as the decoded-image cache
is, and every batch is read and standardised by ``--workers`` DataLoader workers.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from noisyprune.data import load_dataset
from noisyprune.data.base import ArrayDataset
from noisyprune.data.stored import StoredImages, standardise
from noisyprune.training.device import configure_torch, device_description
from noisyprune.training.job import TrainingJob
from noisyprune.training.run import train_on_samples

REPO = Path(__file__).resolve().parents[1]
# ../shared beside the checkout; NOISYPRUNE_FASHION points elsewhere (a copy carried to a GPU machine)
FASHION = Path(os.environ.get("NOISYPRUNE_FASHION", REPO.parent / "shared" / "data" / "fashion-mnist"))
CASES = [
    # dataset entry, model entry, learner, batch size
    ({"loader": "fashion_mnist", "root": str(FASHION)}, {"arch": "small_cnn", "channels": [32, 64, 128]}, "ce", 128),
    ({"loader": "fashion_mnist", "root": str(FASHION)}, {"arch": "small_cnn", "channels": [32, 64, 128]}, "ce", 512),
    ({"loader": "fashion_mnist", "root": str(FASHION)}, {"arch": "small_cnn", "channels": [32, 64, 128]}, "elr", 128),
    (
        {"loader": "fashion_mnist", "root": str(FASHION)},
        {"arch": "small_cnn", "channels": [32, 64, 128]},
        "sop_plus",
        128,
    ),
    ({"loader": "digits"}, {"arch": "mlp", "hidden": [256, 128]}, "ce", 64),
    # the fast preset's narrower CNN and batch (config/fashion_mnist_fast.yaml)
    ({"loader": "fashion_mnist", "root": str(FASHION)}, {"arch": "small_cnn", "channels": [16, 32, 64]}, "ce", 512),
    # an MLP epoch computes little, so the data path's own cost shows
    ({"loader": "fashion_mnist", "root": str(FASHION)}, {"arch": "mlp", "hidden": [256, 128]}, "ce", 512),
    # a still narrower CNN: how far the width must drop for a 10-s epoch on 2 cores
    ({"loader": "fashion_mnist", "root": str(FASHION)}, {"arch": "small_cnn", "channels": [8, 16, 32]}, "ce", 512),
    # GPU cases (skipped on a CPU unless named with --cases): PreActResNet-18 on CIFAR-shaped data,
    # 50,000 training images, the CE and SOP+ (two views, AutoAugment strong view) epochs
    ({"loader": "cifar_shaped"}, {"arch": "preact_resnet18"}, "ce", 512),
    ({"loader": "cifar_shaped"}, {"arch": "preact_resnet18"}, "sop_plus", 512),
]
GPU_CASES = {8, 9}


def cifar_shaped(train: int = 50_000, test: int = 10_000) -> ArrayDataset:
    """Random 3×32×32 images with 10 random labels, standardised with CIFAR-10's statistics: the
    shapes and augmentation of CIFAR-10 without the download (throughput does not depend on content)."""
    rng = np.random.default_rng(0)
    mean, std = np.array([0.4914, 0.4822, 0.4465]), np.array([0.2470, 0.2435, 0.2616])

    def images(count: int) -> np.ndarray:
        pixels = rng.integers(0, 256, size=(count, 3, 32, 32), dtype=np.uint8)
        return standardise(pixels, mean, std)

    return ArrayDataset(
        "cifar_shaped",
        images(train),
        rng.integers(0, 10, train),
        images(test),
        rng.integers(0, 10, test),
        tuple(str(c) for c in range(10)),
        pixel_mean=tuple(mean),
        pixel_std=tuple(std),
    )


def streamed_copy(data: ArrayDataset, workers: int, folder: Path) -> ArrayDataset:
    """``data`` with its images stored as uint8 in memory-mapped .npy files under ``folder`` and
    read per batch by ``workers`` DataLoader workers (what ``storage: stream`` does)."""
    channels = data.input_shape[0]
    mean = np.broadcast_to(np.asarray(data.pixel_mean, dtype=np.float64), (channels,))
    std = np.broadcast_to(np.asarray(data.pixel_std, dtype=np.float64), (channels,))

    def store(x: np.ndarray, name: str) -> StoredImages:
        pixels = x * std[None, :, None, None] + mean[None, :, None, None]
        np.save(folder / name, np.clip(np.round(pixels * 255), 0, 255).astype(np.uint8))
        return StoredImages.from_file(folder / name, mean, std, workers)

    return dataclasses.replace(data, train_x=store(data.train_x, "train.npy"), test_x=store(data.test_x, "test.npy"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "results" / "train_speed.csv")
    parser.add_argument("--cases", type=int, nargs="*", help="indices into CASES (default: all)")
    parser.add_argument("--storage", choices=["memory", "stream"], default="memory")
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers of --storage stream")
    parser.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="auto")
    parser.add_argument("--channels-last", choices=["auto", "true", "false"], default="auto")
    parser.add_argument("--compile", action="store_true", help="torch.compile every network")
    parser.add_argument("--train-images", type=int, help="train and test on this many images only (smoke tests)")
    args = parser.parse_args()
    channels_last = {"auto": "auto", "true": True, "false": False}[args.channels_last]
    device = configure_torch(
        args.device,
        args.threads,
        {"precision": args.precision, "channels_last": channels_last, "compile": args.compile},
    )
    scratch = tempfile.TemporaryDirectory(prefix="train-speed-")
    for index, (dataset_entry, model_entry, learner, batch_size) in enumerate(CASES):
        if (args.cases and index not in args.cases) or (not args.cases and index in GPU_CASES and device.type == "cpu"):
            continue
        if dataset_entry["loader"] == "cifar_shaped":
            data = cifar_shaped()
        else:
            data = load_dataset(dataset_entry["loader"], dataset_entry)
        if args.train_images:
            data = dataclasses.replace(
                data,
                train_x=data.train_x[: args.train_images],
                train_y=data.train_y[: args.train_images],
                test_x=data.test_x[: args.train_images],
                test_y=data.test_y[: args.train_images],
            )
        data_path = "device-resident tensors, batched augmentation"
        if args.storage == "stream":
            data = streamed_copy(data, args.workers, Path(scratch.name))
            data_path = f"streamed from a uint8 memmap by {args.workers} DataLoader workers, batched augmentation"
        entry = {"learner": learner, "epochs": args.epochs, "batch_size": batch_size, "lr": 0.05}
        start = time.perf_counter()
        job = TrainingJob(entry, model_entry, seed=0, inference_batch_size=4096)
        result = train_on_samples(job, data, data.train_y, np.arange(data.num_train), device)
        wall = time.perf_counter() - start
        epoch_seconds = result.history.columns()["epoch_seconds"]
        steady = float(np.mean(epoch_seconds[1:])) if len(epoch_seconds) > 1 else float(epoch_seconds[0])
        row = {
            "dataset": dataset_entry["loader"],
            "model": model_entry["arch"],
            "learner": learner,
            "batch_size": batch_size,
            "train_images": data.num_train,
            "epochs": args.epochs,
            "epoch_seconds": round(steady, 3),
            "first_epoch_seconds": round(float(epoch_seconds[0]), 3),
            "images_per_second": round(data.num_train / steady, 1),
            "wall_seconds": round(wall, 2),
            "device": device_description(device),
            "threads": args.threads,
            "torch": torch.__version__,
            "machine": platform.machine(),
            "data_path": data_path,
            "model_channels": str(model_entry.get("channels", model_entry.get("hidden"))),
            "test_acc_last": round(float(result.history.columns()["test_acc"][-1]), 4),  # clean labels
        }
        print(row)
        # appended as soon as measured, so a run cut off by a time limit keeps what it measured
        append_row(args.output, row)


def append_row(path: Path, row: dict) -> None:
    """Append ``row`` to the CSV at ``path``, widening the header when the row brings new columns
    (older rows get those columns empty)."""
    rows = list(csv.DictReader(path.open())) if path.exists() else []
    fields = list(dict.fromkeys([*(rows[0] if rows else {}), *row]))
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows([*rows, row])


if __name__ == "__main__":
    main()
