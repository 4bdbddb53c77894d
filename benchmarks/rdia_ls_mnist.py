"""RDIA-LS on MNIST at 80% symmetric noise (config/rdia_ls_mnist.yaml), next to the figure its
README cites: 87.85 ± 0.21 "average test accuracy" (run by hand; not part of the tests).

    .venv/bin/python benchmarks/rdia_ls_mnist.py --mnist data/mnist              # 3 seeds, ~199 epochs each
    .venv/bin/python benchmarks/rdia_ls_mnist.py --mnist data/mnist --cores 4 --workdir /scratch/rdia

``--mnist`` is the folder with the four MNIST IDX files (``train-images-idx3-ubyte`` …, raw or
``.gz``), or a torchvision root holding ``MNIST/raw``; without them the script stops before
anything runs and says where it looked. It runs the preset as shipped — the original's choices:
pixels in [0, 1] (``input_scaling: unit``), the per-sample noise of a fixed ``RandomState(0)``
(``fixed_seed: 0``), the last partial batch dropped — for seeds 0, 1, 2, with Snakemake in
``--workdir`` (a temporary folder unless given), and writes per learner and seed the last, best,
mean-of-the-last-10 and mean-over-all-epochs clean test accuracy (in percent), the realised noise
rate, and their means ± sample standard deviations over the seeds beside the cited figure:

    benchmarks/results/rdia_ls_mnist.csv   one row per (learner, seed)
    benchmarks/results/rdia_ls_mnist.md    the summary table, with the cited 87.85 ± 0.21

Which statistic the README's "average" is is not stated (config/rdia_ls_mnist.yaml's header and
docs/methods.md#rdia-ls give the reasoning), so all four are reported.

``--loader fashion_mnist`` with ``--epochs`` / ``--max-train`` runs the same recipe on
Fashion-MNIST as a quick check of the pipeline; its results go to ``rdia_ls_fashion_mnist_check.*``
and are not comparable with the cited MNIST figure.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from snakemake_command import snakemake_command  # benchmarks/ is the script's folder, hence on sys.path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
PRESET = REPO / "config" / "rdia_ls_mnist.yaml"
CITED = {"mean": 87.85, "std": 0.21, "source": "Viperccc/RDIA README, RDIA-LS on MNIST at 80% noise"}
STATISTICS = {
    "test_acc_last": "last epoch",
    "test_acc_best": "best epoch",
    "test_acc_mean_last10": "mean of the last 10 epochs",
    "test_acc_mean_all": "mean over all epochs",
}


def check_idx_files(root: Path, variant: str) -> None:
    """Stop with a message naming where the four IDX files were looked for, unless all are there."""
    from noisyprune.data.mnist import FILES, _find

    missing = []
    for stem in FILES.values():
        try:
            _find(root, stem, variant)
        except FileNotFoundError as err:
            missing.append(str(err).split(" Put the four")[0])
    if missing:
        sys.exit(
            f"{variant} IDX files missing under {root}:\n  " + "\n  ".join(missing) + "\nGive --mnist the folder "
            "holding train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and "
            "t10k-labels-idx1-ubyte (raw or .gz), or a torchvision root with MNIST/raw. Nothing was run."
        )


def benchmark_config(args) -> dict:
    """The preset with the data folder, seeds and threads of this run (and the check's overrides)."""
    config = yaml.safe_load(PRESET.read_text(encoding="utf-8"))
    config = copy.deepcopy(config)
    dataset = config["datasets"]["mnist"]
    dataset.update(loader=args.loader, root=str(args.mnist.resolve()))
    for key in ("max_train", "max_test"):
        if getattr(args, key) is not None:
            dataset[key] = getattr(args, key)
    config["sweep"]["seeds"] = list(args.seeds)
    config["sweep"]["learners"] = list(args.learners)
    config["threads"] = args.threads
    if args.epochs is not None:
        for entry in config["learners"].values():
            entry["epochs"] = args.epochs
            entry["decay_start"] = min(entry.get("decay_start", 80), args.epochs)
    return config


def run_workflow(config: dict, workdir: Path, cores: int) -> None:
    """``snakemake --cores`` on ``config`` in ``workdir`` (its own results/ folder)."""
    workdir.mkdir(parents=True, exist_ok=True)
    config_path = workdir / "rdia_ls_mnist.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    subprocess.run(snakemake_command(workdir, [config_path], "--cores", str(cores)), check=True)


def per_seed_rows(workdir: Path) -> pd.DataFrame:
    """One row per (learner, seed): the four statistics in percent and the realised noise rate."""
    rows = []
    for path in sorted(workdir.glob("results/*/*/seed*/train/*/full/f1.0/*/metrics.json")):
        metrics = json.loads(path.read_text())
        run = metrics["run"]
        row = {"learner": run["learner"], "seed": int(run["seed"])}
        row.update({key: 100 * metrics["metrics"][key] for key in STATISTICS})
        row["best_epoch"] = metrics["metrics"]["best_epoch"]
        row["noise_rate"] = 100 * metrics["metrics"]["dataset_noise_rate"]
        rows.append(row)
    if not rows:
        raise SystemExit(f"no metrics.json under {workdir}/results: did the workflow run?")
    return pd.DataFrame(rows).sort_values(["learner", "seed"]).reset_index(drop=True)


def summary_table(rows: pd.DataFrame, title: str, cited: bool) -> str:
    """Markdown: per learner and statistic, mean ± sample std over seeds, beside the cited figure."""
    lines = [
        f"# {title}",
        "",
        f"Seeds {', '.join(map(str, sorted(rows['seed'].unique())))}; clean test accuracy in percent, mean ± "
        "sample standard deviation over seeds; realised noise "
        + ", ".join(f"{rate:.2f}%" for rate in sorted(rows["noise_rate"].unique()))
        + ".",
        "",
        "| learner | statistic | mean ± std | per seed |" + (" cited |" if cited else ""),
        "|---|---|---|---|" + ("---|" if cited else ""),
    ]
    for learner, group in rows.groupby("learner", sort=True):
        for key, label in STATISTICS.items():
            values = group[key].to_numpy()
            spread = f" ± {np.std(values, ddof=1):.2f}" if len(values) > 1 else ""
            cells = [learner, label, f"{values.mean():.2f}{spread}", " / ".join(f"{v:.2f}" for v in values)]
            if cited:
                cells.append(f"{CITED['mean']} ± {CITED['std']}" if learner == "rdia_ls" else "")
            lines.append("| " + " | ".join(cells) + " |")
    if cited:
        lines += [
            "",
            f'Cited: {CITED["source"]}: {CITED["mean"]} ± {CITED["std"]} "average test accuracy"; which statistic '
            "it is is not stated (config/rdia_ls_mnist.yaml, docs/methods.md#rdia-ls).",
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", type=Path, required=True, help="folder with the four MNIST IDX files")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--learners", nargs="+", default=["rdia_ls", "ce"], choices=["rdia_ls", "ce"])
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="threads per job (the preset's `threads`)")
    parser.add_argument("--workdir", type=Path, default=None, help="Snakemake's working folder (default: temporary)")
    parser.add_argument("--output", type=Path, default=None, help="CSV path; the .md is written beside it")
    parser.add_argument("--loader", default="mnist", choices=["mnist", "fashion_mnist"], help=argparse.SUPPRESS)
    parser.add_argument("--epochs", type=int, default=None, help="(pipeline check only) fewer epochs")
    parser.add_argument("--max-train", dest="max_train", type=int, default=None, help="(pipeline check only)")
    parser.add_argument("--max-test", dest="max_test", type=int, default=None, help="(pipeline check only)")
    args = parser.parse_args(argv)
    check_idx_files(args.mnist, args.loader)
    reproduction = args.loader == "mnist" and args.epochs is None and args.max_train is None and args.max_test is None
    stem = "rdia_ls_mnist" if reproduction else f"rdia_ls_{args.loader}_check"
    output = args.output or RESULTS / f"{stem}.csv"
    config = benchmark_config(args)
    start = time.perf_counter()
    if args.workdir is None:
        with tempfile.TemporaryDirectory(prefix="noisyprune-rdia-ls-") as tmp:
            run_workflow(config, Path(tmp), args.cores)
            rows = per_seed_rows(Path(tmp))
    else:
        run_workflow(config, args.workdir, args.cores)
        rows = per_seed_rows(args.workdir)
    wall = time.perf_counter() - start
    title = (
        "RDIA-LS on MNIST, 80% symmetric noise (config/rdia_ls_mnist.yaml)"
        if reproduction
        else f"Pipeline check on {args.loader} (not comparable with the cited MNIST figure)"
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    rows.round(4).to_csv(output, index=False)
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, --cores {args.cores}, --threads {args.threads}"
    note = f"\nWall time {wall / 60:.1f} min ({machine}).\n"
    output.with_suffix(".md").write_text(summary_table(rows, title, cited=reproduction) + note, encoding="utf-8")
    print(output.with_suffix(".md").read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
