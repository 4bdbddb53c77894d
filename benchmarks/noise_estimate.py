"""How close the estimated wrong-label share comes to the true one, on data whose truth is known.

    .venv/bin/python benchmarks/noise_estimate.py            # every setting (80 s on 2 cores; 45 s cached)
    .venv/bin/python benchmarks/noise_estimate.py --quick    # without Fashion-MNIST

For data without clean labels, ``noisyprune select`` and the workflow's select stage report an
*estimated* share of wrong labels, kept and overall (``noisyprune.noise_estimate``). This script
compares candidate estimators with the truth, for the whole candidate set and for the subsets that
several pruners keep, on:

- ``digits`` (scikit-learn's, 1,257 training images) with symmetric and pair (``next``) noise at
  20% and 40%, seeds 0–2, and the probabilities of the workflow's own warm-up: the embedded
  default's 10-epoch CE warm-up of the MLP and, to show the failure, a 100-epoch warm-up that
  memorises every given label (40% symmetric noise only);
- ``fashion_mnist`` (the IDX files in ``../shared/data/fashion-mnist``; the stratified 4,000-image
  training subset and narrow CNN of ``benchmarks/configs/screen_fashion.yaml``, the 10-epoch
  warm-up of ``config/fashion_mnist.yaml``) with 40% symmetric and pair noise, seed 0;
- ``wine`` and ``breast_cancer`` (standardised features) with 20/30/40% symmetric noise, seeds
  0–4, and a logistic regression's probabilities, in-sample and 5-fold cross-validated.

The warm-ups run through the workflow's own stage functions (noise → warmup → extract) and are
cached in ``benchmarks/.cache/noise_estimate/``. Subsets: ``uniform``, ``small_loss``,
``prune4rel`` (τ of the settings' configs: 0.95 on digits, 0.975 on Fashion-MNIST, ``auto`` on the
tabular sets), ``margin`` and ``el2n`` (hard end, as the embedded default), ``moderate``,
``kcenter_greedy`` and ``confident_learning`` at fractions 0.2, 0.5 and 0.8 through
``noisyprune.select_subset``.

Estimators (shares of the kept and of all candidates): ``predicted_neq_given`` (the given label is
not the most probable class: what noisyprune reports), cleanlab's ``find_label_issues`` flags with
``prune_by_noise_rate`` and ``confident_learning``, ``expected`` (the mean of 1 − p[given label]),
and, for the whole set only, cleanlab's ``num_label_issues`` (``off_diagonal_calibrated``).

Writes ``benchmarks/results/noise_estimate.csv`` (one row per setting, seed and subset: the true
shares and each estimator's, kept and ``_all``)
and ``benchmarks/results/noise_estimate.md`` (absolute errors in percentage points, and how often
the warning about a noisier subset, decided on the estimate, agrees with the one decided on the
truth); both overwritten.
"""

from __future__ import annotations

import argparse
import logging
import warnings
from pathlib import Path

import numpy as np

import noisyprune
from noisyprune.jobserver import thread_limit
from noisyprune.noise_estimate import likely_wrong
from noisyprune.noisier_subset import NoisierSubsetWarning, is_noisier
from noisyprune.stages.common import aligned_features, load_labels
from noisyprune.stages.interface import Compute, Run, TrainingEntries

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
CACHE = REPO / "benchmarks" / ".cache" / "noise_estimate"
FASHION_ROOT = REPO.parent / "shared" / "data" / "fashion-mnist"

FRACTIONS = (0.2, 0.5, 0.8)
NOISE = {
    "sym20": {"kind": "symmetric", "rate": 0.2, "convention": "other_class"},
    "sym40": {"kind": "symmetric", "rate": 0.4, "convention": "other_class"},
    "pair20": {"kind": "asymmetric", "rate": 0.2, "pairs": "next"},
    "pair40": {"kind": "asymmetric", "rate": 0.4, "pairs": "next"},
}
DIGITS = {"loader": "digits", "model": "mlp", "test_fraction": 0.3, "split_seed": 0}
FASHION = {"loader": "fashion_mnist", "model": "cnn", "max_train": 4000, "max_test": 1000}
MODELS = {
    "digits": {"arch": "mlp", "hidden": [256, 128]},
    "fashion_mnist": {"arch": "small_cnn", "channels": [16, 32, 64]},
}
WARMUPS = {
    "digits": {"learner": "ce", "epochs": 10, "batch_size": 64, "lr": 0.05},
    "fashion_mnist": {"learner": "ce", "epochs": 10, "batch_size": 128, "lr": 0.05},
}
TAU = {"digits": 0.95, "fashion_mnist": 0.975}


def methods(tau) -> dict[str, dict]:
    """The pruners whose subsets are measured: name → ``select_subset`` keywords."""
    return {
        "uniform": {"method": "uniform"},
        "small_loss": {"method": "small_loss"},
        "prune4rel": {"method": "prune4rel", "tau": tau},
        "margin": {"method": "uncertainty", "score": "margin", "keep": "hard"},
        "el2n": {"method": "el2n", "keep": "hard"},
        "moderate": {"method": "moderate"},
        "kcenter_greedy": {"method": "kcenter_greedy"},
        "confident_learning": {"method": "confident_learning"},
    }


def workflow_arrays(dataset: str, entry: dict, noise: str, epochs: int, seed: int):
    """``(given labels, clean labels, probabilities, embedding)`` of the training candidates from the
    workflow's noise, warm-up and extract stages (cached)."""
    from noisyprune.stages.extract import run_extract_stage
    from noisyprune.stages.noise import run_noise_stage
    from noisyprune.stages.warmup import run_warmup_stage

    folder = CACHE / dataset / noise / f"ce{epochs}" / f"seed{seed}"
    labels_path, features_path = folder / "labels.parquet", folder / "features.parquet"
    if not features_path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        compute = Compute(device="cpu", threads=1, inference_batch_size=1024)
        run_noise_stage(
            run=Run(dataset, noise, seed),
            outputs={"labels": str(labels_path)},
            dataset_entry=entry,
            noise_entry=NOISE[noise],
        )
        warmup = Run(dataset, noise, seed, warmup=f"ce{epochs}")
        outputs = {key: str(folder / f"{key}.out") for key in ("model", "dynamics", "history", "snapshots")}
        run_warmup_stage(
            run=warmup,
            inputs={"labels": str(labels_path)},
            outputs=outputs,
            training=TrainingEntries(
                f"warmups.ce{epochs}", {**WARMUPS[dataset], "epochs": epochs}, MODELS[dataset], entry
            ),
            compute=compute,
            code_hash="benchmark",
        )
        run_extract_stage(
            run=warmup,
            inputs={"labels": str(labels_path), "model": outputs["model"]},
            outputs={"features": str(features_path)},
            dataset_entry=entry,
            compute=compute,
            code_hash="benchmark",
        )
    labels = load_labels(str(labels_path))
    rows = labels.training_rows
    features = aligned_features(str(features_path), labels.sample_id, labels.path).take(rows)
    probs = features.numpy("probs").astype(np.float64)
    return labels.noisy[rows], labels.clean[rows], probs / probs.sum(axis=1, keepdims=True), features.numpy("embedding")


def tabular_arrays(name: str, rate: float, seed: int, probabilities: str):
    """``(given labels, clean labels, probabilities, standardised features)`` of scikit-learn's
    ``name`` set with ``rate`` symmetric noise (``noisyprune.noise``) and a logistic regression's
    ``insample`` or 5-fold ``crossval`` probabilities."""
    from sklearn import datasets
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.preprocessing import StandardScaler

    from noisyprune.noise import apply_noise

    x, clean = getattr(datasets, f"load_{name}")(return_X_y=True)
    x = StandardScaler().fit_transform(x)
    classes = int(clean.max()) + 1
    noise = {"kind": "symmetric", "rate": rate, "convention": "other_class"}
    given = apply_noise(clean, classes, noise, np.random.default_rng(seed)).noisy
    model = LogisticRegression(max_iter=1000)
    if probabilities == "insample":
        probs = model.fit(x, given).predict_proba(x)
    else:
        folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
        probs = cross_val_predict(model, x, given, cv=folds, method="predict_proba")
    return given, clean, probs, x


def estimators(given: np.ndarray, probs: np.ndarray) -> dict[str, np.ndarray]:
    """Per-sample wrong-label indicators (or probabilities, for ``expected``) of each estimator."""
    from cleanlab.filter import find_label_issues

    return {
        "predicted_neq_given": likely_wrong(given, probs).astype(np.float64),
        "cleanlab_noise_rate": find_label_issues(given, probs, filter_by="prune_by_noise_rate", n_jobs=1).astype(float),
        "cleanlab_confident_joint": find_label_issues(given, probs, filter_by="confident_learning", n_jobs=1).astype(
            float
        ),
        "expected": 1.0 - probs[np.arange(len(given)), given],
    }


def measure(setting: dict, given, clean, probs, embedding, tau, seed: int) -> list[dict]:
    """One row per (subset, estimator) of one setting: true and estimated shares, kept and overall."""
    from cleanlab.count import num_label_issues

    wrong = given != clean
    n = len(given)
    flags = estimators(given, probs)
    count = num_label_issues(given, probs, estimation_method="off_diagonal_calibrated") / n
    subsets = {("all", 1.0): np.arange(n)}
    for name, keywords in methods(tau).items():
        for fraction in FRACTIONS:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NoisierSubsetWarning)  # the script compares, not warns
                kept = noisyprune.select_subset(
                    given, fraction=fraction, features=embedding, probabilities=probs, seed=seed, **keywords
                )
            subsets[(name, fraction)] = kept.indices
    rows = []
    for (method, fraction), kept in subsets.items():
        for estimator, values in {**flags, "cleanlab_count": None}.items():
            if values is None and method != "all":
                continue
            estimated_all = count if values is None else float(values.mean())
            estimated = count if values is None else float(values[kept].mean())
            rows.append(
                {
                    **setting,
                    "seed": seed,
                    "method": method,
                    "fraction": fraction,
                    "budget": len(kept),
                    "num_candidates": n,
                    "estimator": estimator,
                    "true_share": float(wrong[kept].mean()),
                    "true_share_all": float(wrong.mean()),
                    "estimated_share": estimated,
                    "estimated_share_all": estimated_all,
                }
            )
    return rows


def wide(rows: list[dict]):
    """One row per setting, seed and subset: the true shares, then each estimator's kept and overall
    share (``<estimator>`` and ``<estimator>_all``; ``cleanlab_count`` for the whole set only)."""
    import pandas as pd

    frame = pd.DataFrame(rows)
    keys = ["dataset", "noise", "probabilities", "seed", "method", "fraction", "budget", "num_candidates"]
    truth = frame.drop_duplicates(keys)[[*keys, "true_share", "true_share_all"]]
    shares = frame.pivot(index=keys, columns="estimator", values=["estimated_share", "estimated_share_all"])
    order = list(dict.fromkeys(frame["estimator"]))
    columns = {("estimated_share", e): e for e in order} | {("estimated_share_all", e): f"{e}_all" for e in order}
    shares = shares[list(columns)].set_axis(list(columns.values()), axis=1).reset_index()
    return truth.merge(shares, on=keys)


def error_cells(rows: list[dict]) -> list[str]:
    """The cells of one summary line over ``rows`` of one estimator: whole-set error mean and max,
    subset error mean and max, error of (kept − all), and the noisier-subset decisions."""
    whole = [abs(r["estimated_share_all"] - r["true_share_all"]) * 100 for r in rows if r["method"] == "all"]
    subsets = [r for r in rows if r["method"] != "all"]
    if not subsets:
        return [f"{np.mean(whole):.1f}", f"{np.max(whole):.1f}"] + ["–"] * 6
    errors = [abs(r["estimated_share"] - r["true_share"]) * 100 for r in subsets]
    diff = [
        abs((r["estimated_share"] - r["estimated_share_all"]) - (r["true_share"] - r["true_share_all"])) * 100
        for r in subsets
    ]
    truth = [is_noisier(r["true_share"], r["true_share_all"], r["budget"], r["num_candidates"]) for r in subsets]
    guess = [
        is_noisier(r["estimated_share"], r["estimated_share_all"], r["budget"], r["num_candidates"]) for r in subsets
    ]
    agree = np.mean([t == g for t, g in zip(truth, guess)]) * 100
    missed = sum(t and not g for t, g in zip(truth, guess))
    false = sum(g and not t for t, g in zip(truth, guess))
    return [
        f"{np.mean(whole):.1f}",
        f"{np.max(whole):.1f}",
        f"{np.mean(errors):.1f}",
        f"{np.max(errors):.1f}",
        f"{np.mean(diff):.1f}",
        f"{agree:.1f}% of {len(subsets)}",
        f"{missed} of {sum(truth)}",
        str(false),
    ]


def summary(rows: list[dict]) -> str:
    """Markdown: per setting group and estimator, the absolute errors in percentage points and the
    agreement of the noisier-subset decision with the truth's; then the reported estimator's error
    per pruner."""

    def group(row):
        return f"{row['dataset']} ({row['probabilities']})"

    lines = [
        "Absolute error of the estimated wrong-label share, in percentage points (pp): `whole` over the",
        "whole candidate set (one value per setting and seed), `subsets` over the kept subsets of 8 pruners",
        "at 3 fractions. `diff` is the error of (kept − all). `warning agrees`: the noisier-subset decision",
        "(`noisyprune.noisier_subset.is_noisier`) on the estimated shares equals the decision on the true",
        "shares; `missed` counts the subsets the truth calls noisier and the estimate does not (of all the",
        "truth calls noisier), `false` the reverse. The last rows pool every setting but the memorised one.",
        "Reported by noisyprune: `predicted_neq_given`.",
        "",
        "| setting | estimator | whole mean | whole max | subsets mean | subsets max | diff mean "
        "| warning agrees | missed | false |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    groups = sorted({group(row) for row in rows})
    names = list(dict.fromkeys(row["estimator"] for row in rows))
    pooled = [row for row in rows if "memorised" not in row["probabilities"]]
    blocks = [(key, [row for row in rows if group(row) == key]) for key in groups]
    blocks += [
        ("**all but memorised**", pooled),
        ("**all but memorised, prune4rel subsets**", [row for row in pooled if row["method"] in ("all", "prune4rel")]),
    ]
    for key, chosen in blocks:
        for estimator in names:
            mine = [row for row in chosen if row["estimator"] == estimator]
            lines.append(f"| {key} | {estimator} | " + " | ".join(error_cells(mine)) + " |")
    lines += [
        "",
        "Signed error (estimated − true, pp) of the whole-set estimate per setting, mean over seeds (the true",
        "share in the first column):",
        "",
        "| setting | noise | true | " + " | ".join(names) + " |",
        "|---|---|---|" + "---|" * len(names),
    ]
    for key in groups:
        for noise in dict.fromkeys(row["noise"] for row in rows if group(row) == key):
            whole = [row for row in rows if group(row) == key and row["noise"] == noise and row["method"] == "all"]
            true = np.mean([row["true_share_all"] for row in whole if row["estimator"] == names[0]]) * 100
            cells = [
                np.mean([(r["estimated_share_all"] - r["true_share_all"]) * 100 for r in whole if r["estimator"] == e])
                for e in names
            ]
            lines.append(f"| {key} | {noise} | {true:.1f} | " + " | ".join(f"{c:+.1f}" for c in cells) + " |")
    lines += [
        "",
        "Signed error (estimated − true, pp) of `predicted_neq_given` per pruner, mean over fractions, seeds",
        "and settings of each group:",
        "",
        "| setting | " + " | ".join(methods(0.9)) + " |",
        "|---|" + "---|" * len(methods(0.9)),
    ]
    for key in groups:
        cells = []
        for method in methods(0.9):
            signed = [
                (r["estimated_share"] - r["true_share"]) * 100
                for r in rows
                if group(r) == key and r["estimator"] == "predicted_neq_given" and r["method"] == method
            ]
            cells.append(f"{np.mean(signed):+.1f}")
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="leave Fashion-MNIST out")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    # One thread, as a workflow job: confident learning's logistic regression is many times slower
    # on a BLAS pool of one thread per core when the cores are shared.
    with thread_limit(1):
        rows = measurements(args.quick)
    RESULTS.mkdir(parents=True, exist_ok=True)
    wide(rows).to_csv(RESULTS / "noise_estimate.csv", index=False, float_format="%.6g")
    text = summary(rows)
    (RESULTS / "noise_estimate.md").write_text(text)
    print(text)


def measurements(quick: bool) -> list[dict]:
    """The rows of every setting (Fashion-MNIST left out when ``quick``)."""
    rows: list[dict] = []
    for noise in NOISE:
        for seed in range(3):
            arrays = workflow_arrays("digits", DIGITS, noise, 10, seed)
            setting = {"dataset": "digits", "noise": noise, "probabilities": "warm-up, 10 epochs"}
            rows += measure(setting, *arrays, TAU["digits"], seed)
    for seed in range(3):
        arrays = workflow_arrays("digits", DIGITS, "sym40", 100, seed)
        setting = {"dataset": "digits", "noise": "sym40", "probabilities": "warm-up, 100 epochs (memorised)"}
        rows += measure(setting, *arrays, TAU["digits"], seed)
    if not quick:
        entry = {**FASHION, "root": str(FASHION_ROOT)}
        for noise in ("sym40", "pair40"):
            arrays = workflow_arrays("fashion_mnist", entry, noise, 10, 0)
            setting = {"dataset": "fashion_mnist", "noise": noise, "probabilities": "warm-up, 10 epochs"}
            rows += measure(setting, *arrays, TAU["fashion_mnist"], 0)
    for name in ("wine", "breast_cancer"):
        for rate in (0.2, 0.3, 0.4):
            for probabilities in ("insample", "crossval"):
                for seed in range(5):
                    setting = {"dataset": name, "noise": f"sym{round(rate * 100)}", "probabilities": probabilities}
                    rows += measure(setting, *tabular_arrays(name, rate, seed, probabilities), "auto", seed)
    return rows


if __name__ == "__main__":
    main()
