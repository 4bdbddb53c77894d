"""Jobs, GPU-hours and disk of each shipped paper-scale study, from its config (docs/sizing.md).

    .venv/bin/python benchmarks/sizing.py [--configs config/cifar10n.yaml ...] [--a100-tflops-scale 1.0]

Writes ``benchmarks/results/sizing.csv`` (one row per study and rule), ``sizing.md`` (the table of
docs/sizing.md) and ``sizing_inputs.json`` (every measured and stated figure it used).

- **Jobs** per rule: ``snakemake -n`` on the config (a dry run needs no data); the per-job list that
  the time and disk come from is rebuilt from the same config and must give the same counts.
- **Compute** (FLOPs, multiply-add = 2, matrix products and convolutions only, as torch's
  ``FlopCounterMode`` counts them): measured here on the CPU while the real learner code trains
  (``train_on_samples``) on 16 synthetic samples of the preset's input shape and class count, per
  epoch kind (DivideMix: warm-up epochs and full epochs, whose MixMatch part scales with the samples
  the co-divide labels, taken as the labels' clean share); inference passes (test evaluation every
  epoch, snapshots, extraction, the retrain's re-labeling pass over every sample) from the measured
  forward cost.
- **Time**: FLOPs ÷ a sustained A100 rate derived from two published figures (``A100_FIGURES``);
  an H100 is faster (its dense bf16 peak is 989 against 312 TFLOP/s, NVIDIA's data sheets), by how
  much for these small convolutional networks is what benchmarks/gpu_speed.sh will measure. These
  are floors: the published rates come from tuned pipelines at large batches; batches of 32-128,
  per-sample augmentation and the learners' own elementwise work run below them.
- **Disk**: the files each job writes, their bytes per row measured by writing synthetic tables of
  incompressible floats through the workflow's own writer (an upper bound), the checkpoints' bytes
  from the networks, and the decoded-image cache (uint8, train + test) of image-folder and
  file-list datasets. The raw data sets are not counted.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import torch
import yaml
from snakemake_command import snakemake_command  # benchmarks/ is the script's folder, hence on sys.path
from torch.utils.flop_counter import FlopCounterMode

from noisyprune.artifacts import DYNAMICS, FEATURES, LABELS, RELABELS, SNAPSHOTS, SUBSET, write_table
from noisyprune.config import model_entry, sweep_runs, validate_config
from noisyprune.data.base import ArrayDataset
from noisyprune.derived_scores import feature_columns
from noisyprune.models import build_model
from noisyprune.training.context import Callback
from noisyprune.training.job import TrainingJob
from noisyprune.training.run import train_on_samples

REPO = Path(__file__).resolve().parents[1]
PRESETS = [
    "config/cifar10n.yaml",
    "config/cifar10n_fast.yaml",
    "config/cifar100n.yaml",
    "config/cifar100n_fast.yaml",
    "config/clothing1m.yaml",
    "config/webvision.yaml",
    "config/imagenet.yaml",
]

# Sizes of the data sets (training, test samples), as the presets' headers and the data sets' own
# releases state them; noise = the share of wrong training labels, where DivideMix's cost needs it.
DATASETS = {
    "cifar10n": {
        "train": 50_000,
        "test": 10_000,
        "classes": 10,
        "noise": 0.4021,
        "source": "CIFAR-10; CIFAR-10N worst: 40.21%",
    },
    "cifar100n": {
        "train": 50_000,
        "test": 10_000,
        "classes": 100,
        "noise": 0.4020,
        "source": "CIFAR-100; CIFAR-100N: 40.20%",
    },
    "clothing1m": {
        "train": 1_000_000,
        "test": 10_526,
        "classes": 14,
        "noise": 0.385,
        "source": "config/clothing1m.yaml: the 1M noisy training set, 10,526 test images; ~38.5% noise (Xiao et al.)",
    },
    "webvision": {
        "train": 65_944,
        "test": 2_500,
        "classes": 50,
        "source": "config/webvision.yaml: 65,944 (classes < 50), 50 val/class",
    },
    "imagenet100": {
        "train": 128_000,
        "test": 5_000,
        "classes": 100,
        "source": "config/imagenet.yaml: ~128k (100 classes), 50 val/class",
    },
}

# Sustained training throughput of one A100, from published figures (effective TFLOP/s in the
# FlopCounterMode convention). preact_resnet18 is the CIFAR ResNet-18 of the first; resnet50 the
# second, converted with this script's own FLOP count of a 224-px ResNet-50 training step.
A100_FIGURES = {
    "resnet18_cifar": {
        "text": "airbench README (KellerJordan/cifar10-airbench): 'Standard ResNet-18 training', 96.0% on "
        "CIFAR-10 in 7 min for 32.3 PFLOPs on a 400 W A100 (torch 2.4.1)",
        "tflops": 32.3e15 / (7 * 60) / 1e12,
    },
    "resnet50_imagenet": {
        "text": "NVIDIA DeepLearningExamples, PyTorch ResNet-50 v1.5 README, 'Training performance: NVIDIA "
        "DGX A100 (8x A100 80GB)': 2,470 img/s on 1 GPU, mixed precision, 224 px (pytorch-21.03 container)",
        "images_per_second": 2470,
    },
}

RULES = ("noise", "warmup", "extract", "detect", "select", "retrain")
GPU_RULES = ("warmup", "extract", "retrain")


def merged_config(path: Path) -> dict:
    """The workflow's config for ``--configfile path``: config/config.yaml with the file layered on
    top as Snakemake does (nested mappings merged, everything else replaced), validated (defaults
    filled)."""

    def merge(base: dict, update: dict) -> dict:
        for key, value in update.items():
            base[key] = (
                merge(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
            )
        return base

    default = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    return validate_config(merge(default, yaml.safe_load(path.read_text())))


def dry_run_counts(path: Path) -> dict[str, int]:
    """Jobs per rule of ``snakemake -n`` with the config at ``path`` (in a throw-away folder)."""
    with tempfile.TemporaryDirectory() as workdir:
        done = subprocess.run(
            snakemake_command(Path(workdir), [path.resolve()], "-n", "--cores", "1"),
            capture_output=True,
            text=True,
            check=True,
        )
    table = done.stdout.split("Job stats:")[1]
    return {rule: int(count) for rule, count in re.findall(r"^(\w+)\s+(\d+)$", table, flags=re.MULTILINE)}


def jobs_of(config: dict) -> dict[str, list]:
    """The sweep's jobs per rule, rebuilt from the config: warm-ups (and their extraction and
    detection) per (dataset, noise, seed, warm-up), selections per method and fraction (``full`` at
    1.0 included), retrains per run."""
    runs = sweep_runs(config)
    warmups = sorted({(r.dataset, r.noise, r.seed, r.warmup) for r in runs})
    return {
        "noise": sorted({(r.dataset, r.noise, r.seed) for r in runs}),
        "warmup": warmups,
        "extract": warmups,
        "detect": warmups,
        "select": sorted({(r.dataset, r.noise, r.seed, r.warmup, r.method, r.fraction) for r in runs}),
        "retrain": runs,
    }


class EpochFlops(Callback):
    """Reads the FLOP counter at the end of every epoch (before the test evaluation of that epoch)."""

    def __init__(self, counter: FlopCounterMode):
        self.counter = counter
        self.totals: list[int] = []

    def on_epoch_end(self, ctx) -> None:
        self.totals.append(self.counter.get_total_flops())


_MEASURED: dict[tuple, dict] = {}


def measure(model: dict, input_shape: tuple, classes: int, learner: str, augment: dict | None) -> dict:
    """FLOPs of ``learner`` training ``model`` on inputs of ``input_shape``, per sample and epoch
    kind, and of inference per image; bytes of the network and of the learner's per-sample state."""
    key = (json.dumps(model, sort_keys=True), input_shape, classes, learner)
    if key in _MEASURED:
        return _MEASURED[key]
    n, n_test = 16, 4
    rng = np.random.default_rng(0)
    y = np.arange(n) % classes
    x = rng.normal(size=(n, *input_shape)).astype(np.float32)
    x.reshape(n, -1)[np.arange(n), y] += 3.0  # a per-class signal: DivideMix's co-divide splits
    noisy = np.where(np.arange(n) % 4 == 3, (y + 1) % classes, y)
    names = tuple(f"c{i}" for i in range(classes))
    data = ArrayDataset("synthetic", x, y, x[:n_test], y[:n_test], names)
    dividemix = learner == "dividemix"
    # batch 1 for DivideMix: its MixMatch step pairs every labelled batch with a full unlabelled one
    entry = {"learner": learner, "epochs": 2 if dividemix else 1, "batch_size": 1 if dividemix else 4, "lr": 1e-5}
    if dividemix:
        entry["warmup_epochs"] = 1
    torch.manual_seed(0)
    with FlopCounterMode(display=False) as counter:
        epochs = EpochFlops(counter)
        job = TrainingJob(entry, model, seed=0, inference_batch_size=64, augment_entry=augment)
        result = train_on_samples(job, data, noisy, np.arange(n), torch.device("cpu"), callbacks=[epochs])
    with FlopCounterMode(display=False) as counter:
        result.learner.predict_logits(result.ctx, torch.as_tensor(x[:n_test]), 64)
    evaluation = counter.get_total_flops() / n_test  # every network the readout sums
    network = result.ctx.model.eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        network(torch.as_tensor(x[:n_test]))
    forward = counter.get_total_flops() / n_test
    buffer = io.BytesIO()
    torch.save(network.state_dict(), buffer)
    state = sum(
        t.numel() * t.element_size()
        for k in result.learner.state_keys
        for t in _tensors(getattr(result.learner, k, None))
    )
    measured = {
        "train_per_sample": epochs.totals[0] / n,  # epoch 1: DivideMix's CE warm-up, else a full epoch
        "eval_per_image": evaluation,
        "forward_per_image": forward,
        "checkpoint_bytes": buffer.getbuffer().nbytes,
        "networks": len(result.ctx.models),
        "state_bytes_per_sample": state / n,
        "embedding_dim": network.embedding_dim,
    }
    if dividemix:
        full = epochs.totals[1] - epochs.totals[0] - evaluation * n_test  # less epoch 1's test pass
        codivide = 2 * n * forward  # each network's losses over the trained samples
        labelled = sum(int((p > result.learner.p_threshold).sum()) for p in result.learner.clean_prob)
        measured.update(codivide_per_sample=2 * forward, mixmatch_per_labelled=(full - codivide) / max(labelled, 1))
        measured["labelled_share_measured"] = labelled / (2 * n)
    _MEASURED[key] = measured
    return measured


def _tensors(value) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, np.ndarray):
        return [torch.from_numpy(value)]
    if isinstance(value, torch.nn.Module):
        return list(value.state_dict().values())
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list | tuple):
        return [t for item in value for t in _tensors(item)]
    return []


def epoch_flops(m: dict, learner_entry: dict, samples: int, clean_share: float) -> list[float]:
    """FLOPs of each training epoch (test evaluation excluded) on ``samples`` trained samples."""
    epochs = int(learner_entry["epochs"])
    if learner_entry["learner"] != "dividemix":
        return [m["train_per_sample"] * samples] * epochs
    warm = min(epochs, int(learner_entry.get("warmup_epochs", 10)))
    full = samples * (m["codivide_per_sample"] + 2 * clean_share * m["mixmatch_per_labelled"])
    return [m["train_per_sample"] * samples] * warm + [full] * (epochs - warm)


def resnet50_224_training_flops() -> float:
    """FLOPs of one ResNet-50 (ImageNet stem, 1,000 classes) training step per 224-px image."""
    network = build_model({"arch": "resnet50", "small_input": False}, (3, 224, 224), 1000)
    x = torch.randn(2, 3, 224, 224)
    with FlopCounterMode(display=False) as counter:
        torch.nn.functional.cross_entropy(network(x), torch.tensor([0, 1])).backward()
    return counter.get_total_flops() / 2


def process_baseline_gb() -> float:
    """Peak resident memory (GB) of a fresh process that imported torch and the training stages,
    what every job holds before its data (on a GPU node the CUDA libraries come on top)."""
    code = "import torch, noisyprune.stages.retrain, noisyprune.stages.noise\n"
    code += "from noisyprune.training.memory import peak_memory\n"
    code += "print(peak_memory(torch.device('cpu'))['peak_memory_mb'])"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(done.stdout) * 2**20 / 1e9


def a100_tflops(arch: str, resnet50_flops: float) -> tuple[float, str]:
    """The sustained A100 rate (TFLOP/s) assumed for ``arch``, with the figure it comes from."""
    if arch.startswith("resnet"):
        figure = A100_FIGURES["resnet50_imagenet"]
        return figure["images_per_second"] * resnet50_flops / 1e12, "resnet50_imagenet"
    return A100_FIGURES["resnet18_cifar"]["tflops"], "resnet18_cifar"


def bytes_per_row(classes: int, dim: int) -> dict[str, float]:
    """Bytes per row of each table a sample contributes to, written by the workflow's own writer
    with incompressible values (2,000 rows; an upper bound for real files)."""
    rows = 2000
    rng = np.random.default_rng(0)
    ids = np.arange(rows)
    labels = rng.integers(0, classes, rows)
    tables = {
        "labels": (
            LABELS,
            {
                "sample_id": ids,
                "clean_label": labels,
                "noisy_label": labels,
                "is_noisy": labels > 0,
                "is_probe": ids < 0,
            },
            {"dataset": "d", "noise": "n", "num_classes": classes, "noise_rate": 0.4, "transition_matrix": []},
        ),
        "features": (
            FEATURES,
            feature_columns(ids, labels, torch.randn(rows, classes) * 3, torch.relu(torch.randn(rows, dim))),
            {"num_classes": classes, "embedding_dim": dim, "model": "m"},
        ),
        "dynamics": (
            DYNAMICS,
            {
                "sample_id": ids,
                "epoch": np.ones(rows, int),
                "loss": rng.random(rows),
                "correct": labels > 0,
                "prediction": labels,
            },
            {"num_classes": classes, "epochs": 1},
        ),
        "snapshots": (
            SNAPSHOTS,
            {
                "sample_id": ids,
                "epoch": np.ones(rows, int),
                "loss": rng.random(rows),
                "el2n": rng.random(rows),
                "grand": rng.random(rows),
            },
            {"epochs": [1]},
        ),
        "subset": (
            SUBSET,
            {"sample_id": ids, "rank": ids, "score": rng.random(rows)},
            {
                "method": "m",
                "fraction": 0.5,
                "budget": rows,
                "num_candidates": rows,
                "noise_rate": 0.4,
                "class_counts": [],
            },
        ),
        "relabels": (
            RELABELS,
            {"sample_id": ids, "noisy_label": labels, "relabel": labels, "in_subset": labels > 0},
            {"num_classes": classes, "learner": "l"},
        ),
    }
    sizes = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, (contract, columns, metadata) in tables.items():
            path = Path(folder) / f"{name}.parquet"
            write_table(columns, path, contract, metadata=metadata)
            sizes[name] = path.stat().st_size / rows
    return sizes


def size_study(path: Path, scale: float, resnet50_flops: float, process_gb: float) -> tuple[list[dict], dict]:
    """The rows of sizing.csv for the study at ``path`` and the inputs they used."""
    config = merged_config(path)
    jobs = jobs_of(config)
    counted = dry_run_counts(path)
    rebuilt = {rule: len(jobs[rule]) for rule in RULES}
    if any(counted.get(rule, 0) != count for rule, count in rebuilt.items()):
        raise SystemExit(f"{path}: jobs rebuilt from the config {rebuilt} differ from snakemake -n {counted}")
    (dataset,) = config["sweep"]["datasets"]
    facts = DATASETS[dataset]
    n, n_test, classes = facts["train"], facts["test"], facts["classes"]
    clean_share = 1 - facts.get("noise", 0.4)
    entry = config["datasets"][dataset]
    size = int(entry.get("image_size", 32))
    shape = (3, size, size)
    arch = config["models"][entry["model"]]["arch"]
    tflops, figure = a100_tflops(arch, resnet50_flops)
    rate = tflops * scale * 1e12  # FLOP/s
    flops, longest, measured, disk = Counter(), Counter(), {}, Counter()
    rows_bytes = None
    for rule in ("warmup", "retrain"):
        for item in jobs[rule]:
            training = config["warmups"][item[3]] if rule == "warmup" else config["learners"][item.learner]
            model = {k: v for k, v in model_entry(config, dataset, training).items() if k not in ("name", "weights")}
            m = measure(model, shape, classes, training["learner"], entry.get("augment"))
            measured[f"{model['arch']} {size} px, {classes} classes, {training['learner']}"] = m
            rows_bytes = rows_bytes or bytes_per_row(classes, m["embedding_dim"])
            if rule == "warmup":
                trained = n
                # snapshot scores after each of score_epochs: a forward pass over every sample
                passes = len(training.get("score_epochs") or []) * n * m["forward_per_image"]
                extract = n * m["forward_per_image"]  # the extraction job: one more such pass
                flops["extract"] += extract
                longest["extract"] = max(longest["extract"], extract / rate / 3600)
                disk["warm-up: model, dynamics, snapshots, features"] += (
                    m["checkpoint_bytes"]
                    + n * int(training["epochs"]) * rows_bytes["dynamics"]
                    + n * len(training.get("score_epochs") or []) * rows_bytes["snapshots"]
                    + n * rows_bytes["features"]
                )
            else:
                trained = max(1, math.floor(float(item.fraction) * n + 0.5))  # round(f·n), halves up
                passes = n * m["eval_per_image"]  # the re-labeling readout over every training sample
                disk["retrain: relabels"] += n * rows_bytes["relabels"]
            total = sum(epoch_flops(m, training, trained, clean_share))
            total += int(training["epochs"]) * n_test * m["eval_per_image"] + passes  # test pass per epoch
            flops[rule] += total
            longest[rule] = max(longest[rule], total / rate / 3600)
    disk["labels"] = len(jobs["noise"]) * n * rows_bytes["labels"]
    disk["subsets"] = sum(float(s[5]) * n * rows_bytes["subset"] for s in jobs["select"])
    images = (n + n_test) * 3 * size * size
    # Every job that loads the data set (noise, warm-up, extraction, retraining) holds it as float32
    # beside its uint8 source while standardising (data/images.py choose_storage counts the same
    # 5 bytes per value), on top of the process itself; a streamed set holds batches only.
    memory_gb = images * 5 / 1e9
    if entry["loader"] in ("image_folder", "file_list"):
        disk["decoded-image cache"] = images  # uint8
        streamed = entry.get("storage", "auto") == "stream" or (
            entry.get("storage", "auto") == "auto" and memory_gb > entry.get("max_memory_gb", 8.0)
        )
        memory_gb = 0.0 if streamed else memory_gb
    device_gb = memory_gb * 4 / 5  # an in-memory set is copied to the training device as float32
    memory_gb += process_gb
    # a resume file: each network's weights, its SGD momentum and a copy being written, plus the
    # learner's per-sample state (sized to the whole training set)
    resume = max(m["networks"] * 3 * m["checkpoint_bytes"] + n * m["state_bytes_per_sample"] for m in measured.values())
    rows = [
        {
            "study": path.stem,
            "rule": rule,
            "jobs": counted[rule],
            "pflops": round(flops[rule] / 1e15, 3) if rule in GPU_RULES else None,
            "a100_hours": round(flops[rule] / rate / 3600, 2) if rule in GPU_RULES else None,
            "longest_job_a100_hours": round(longest[rule], 2) if rule in GPU_RULES else None,
            "runtime_limit_hours": config["resources"][rule]["runtime"] / 60,
        }
        for rule in RULES
    ]
    inputs = {
        "study": path.stem,
        "dataset": dataset,
        "samples": {"train": n, "test": n_test, "classes": classes, "source": facts["source"]},
        "input_shape": list(shape),
        "clean_share_for_dividemix": round(clean_share, 4),
        "a100_tflops": round(rate / 1e12, 1),
        "a100_figure": A100_FIGURES[figure]["text"],
        "measured": measured,
        "bytes_per_row": {k: round(v, 1) for k, v in rows_bytes.items()},
        "disk_bytes": {k: round(v) for k, v in disk.items()},
        "largest_resume_file_bytes": round(resume),
        "memory_need_gb": round(memory_gb, 2),
        "data_on_device_gb": round(device_gb, 2),
        "process_baseline_gb": round(process_gb, 2),
        "mem_mb": {rule: config["resources"][rule]["mem_mb"] for rule in ("noise", "warmup", "extract", "retrain")},
        "dry_run_jobs": counted,
    }
    return rows, inputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", nargs="+", default=PRESETS)
    parser.add_argument(
        "--a100-tflops-scale", type=float, default=1.0, help="multiply the published A100 rates (e.g. 0.5)"
    )
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    args = parser.parse_args()
    torch.set_num_threads(1)
    all_rows, all_inputs = [], []
    resnet50_flops = resnet50_224_training_flops()
    process_gb = process_baseline_gb()
    for config in args.configs:
        rows, inputs = size_study(REPO / config, args.a100_tflops_scale, resnet50_flops, process_gb)
        inputs["resnet50_224px_training_gflops_per_image"] = round(resnet50_flops / 1e9, 2)
        all_rows += rows
        all_inputs.append(inputs)
        print(config, {r["rule"]: r["a100_hours"] for r in rows if r["a100_hours"] is not None}, flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "sizing.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(all_rows[0]))
        writer.writeheader()
        writer.writerows(all_rows)
    (args.out / "sizing_inputs.json").write_text(json.dumps(all_inputs, indent=1, default=float) + "\n")
    (args.out / "sizing.md").write_text(markdown(all_rows, all_inputs))


def markdown(rows: list[dict], inputs: list[dict]) -> str:
    """The study table of docs/sizing.md."""
    by_study = {}
    for row in rows:
        by_study.setdefault(row["study"], {})[row["rule"]] = row
    lines = [
        "| study | jobs: noise / warmup / extract / detect / select / retrain"
        " | A100-hours: warm-up + extract / retrain / total | longest retrain (A100-h) vs its `runtime`"
        " | disk: results / image cache (GB) | largest resume file (GB)"
        " | host memory per job (GB) vs `mem_mb` of noise / training jobs | data set on the GPU (GB) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for facts in inputs:
        study = by_study[facts["study"]]
        jobs = " / ".join(str(study[rule]["jobs"]) for rule in RULES)
        warm = study["warmup"]["a100_hours"] + study["extract"]["a100_hours"]
        retrain = study["retrain"]["a100_hours"]
        cache = facts["disk_bytes"].get("decoded-image cache", 0)
        mem = facts["mem_mb"]
        short = [rule for rule, mb in mem.items() if facts["memory_need_gb"] * 1000 > mb]
        short = f" (**short: {', '.join(short)}**)" if short else ""
        results = sum(v for k, v in facts["disk_bytes"].items() if k != "decoded-image cache")
        lines.append(
            f"| `{facts['study']}` | {jobs} | {warm:,.1f} / {retrain:,.1f} / {warm + retrain:,.1f}"
            f" | {study['retrain']['longest_job_a100_hours']:,.1f} vs {study['retrain']['runtime_limit_hours']:g} h"
            f" | {results / 1e9:,.1f} / {cache / 1e9:,.1f} | {facts['largest_resume_file_bytes'] / 1e9:,.2f}"
            f" | {facts['memory_need_gb']:,.1f} vs {mem['noise'] / 1000:g} / {mem['retrain'] / 1000:g}{short}"
            f" | {facts['data_on_device_gb']:,.1f} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
