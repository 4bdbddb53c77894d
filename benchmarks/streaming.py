"""The image-file path at scale: decode a file list into the cache, load it in memory or streamed,
and train one epoch each way (run by hand).

    .venv/bin/python benchmarks/streaming.py [--images 70000] [--workers 2] [--threads 2]

Writes Fashion-MNIST (../shared/data) as PNG files with a `<path> <label>` list, as WebVision and
Clothing-1M come, into a temporary folder. Then it measures:
- the first load, which decodes into the uint8 cache;
- a later job's load in memory (standardising the whole set to float32) and streamed (a memory map);
- one CE epoch of the fast preset's CNN at batch 512 each way, and whether both give the same weights.

Appends one row to benchmarks/results/streaming.csv.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from train_speed import append_row  # benchmarks/ is the script's folder, hence on sys.path

from noisyprune.data import load_dataset
from noisyprune.training.device import configure_torch
from noisyprune.training.job import TrainingJob
from noisyprune.training.run import train_on_samples

REPO = Path(__file__).resolve().parents[1]
FASHION = REPO.parent / "shared" / "data" / "fashion-mnist"
# One CE epoch of the small CNN, the same for every storage so that their weights can be compared.
JOB = TrainingJob(
    {"learner": "ce", "epochs": 1, "batch_size": 512, "lr": 0.2},
    {"arch": "small_cnn", "channels": [16, 32, 64]},
    seed=0,
    inference_batch_size=4096,
)


def write_file_list(root: Path, images: int) -> None:
    """Fashion-MNIST's first ``images`` training images (and its first 10,000 test images) as PNGs
    under ``root/images`` with ``train.txt``/``test.txt`` label lists."""
    from PIL import Image

    data = load_dataset("fashion_mnist", {"loader": "fashion_mnist", "root": str(FASHION)})
    (root / "images").mkdir(parents=True)

    def pixels(x: np.ndarray) -> np.ndarray:
        return np.clip(np.round((x[0] * data.pixel_std[0] + data.pixel_mean[0]) * 255), 0, 255).astype(np.uint8)

    for split, xs, ys, count in (
        ("train", data.train_x, data.train_y, images),
        ("test", data.test_x, data.test_y, 10_000),
    ):
        lines = []
        for i in range(min(count, len(ys))):
            name = f"images/{split}{i:06d}.png"
            Image.fromarray(pixels(xs[i])).save(root / name)
            lines.append(f"{name} {int(ys[i])}")
        (root / f"{split}.txt").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=60_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "results" / "streaming.csv")
    args = parser.parse_args()
    device = configure_torch("cpu", args.threads)
    with tempfile.TemporaryDirectory(prefix="streaming-") as scratch:
        root = Path(scratch)
        start = time.perf_counter()
        write_file_list(root, args.images)
        write_seconds = time.perf_counter() - start
        entry = {
            "loader": "file_list",
            "root": str(root),
            "train_list": "train.txt",
            "test_list": "test.txt",
            "image_size": 28,
            "workers": args.workers,
            "cache_dir": str(root / "cache"),
            "clean_labels": True,
        }
        timings, results = {}, {}
        for label, storage in (("decode", "memory"), ("memory", "memory"), ("stream", "stream")):
            start = time.perf_counter()
            data = load_dataset("fashion_png", {**entry, "storage": storage})
            timings[f"load_{label}_s"] = round(time.perf_counter() - start, 2)
            if label == "decode":
                continue
            torch.manual_seed(0)
            start = time.perf_counter()
            result = train_on_samples(JOB, data, data.train_y, np.arange(data.num_train), device)
            timings[f"epoch_{label}_s"] = round(float(result.history.columns()["epoch_seconds"][0]), 2)
            timings[f"train_{label}_s"] = round(time.perf_counter() - start, 2)
            timings[f"test_acc_{label}"] = round(float(result.history.columns()["test_acc"][-1]), 4)
            results[label] = result.ctx.model.state_dict()
        cache_bytes = sum(path.stat().st_size for path in (root / "cache").glob("*.npy"))
    identical = all(torch.equal(results["memory"][k], results["stream"][k]) for k in results["memory"])
    row = {
        "images": args.images,
        "workers": args.workers,
        "threads": args.threads,
        "write_pngs_s": round(write_seconds, 1),
        **timings,
        "cache_mb": round(cache_bytes / 1e6, 1),
        "same_weights": identical,
        "torch": torch.__version__,
        "machine": platform.machine(),
        "cpus": torch.get_num_threads(),
    }
    print(row)
    append_row(args.output, row)


if __name__ == "__main__":
    main()
