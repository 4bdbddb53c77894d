"""The smoke layer: a config file laid over a shipped study that shrinks its sizes and nothing else.

``snakemake --configfile config/<study>.yaml smoke.yaml`` then runs the study's own DAG — its
architectures (and their pretrained weights), learners, every pruner with its τ and balance, its
noise models, its loaders with their storage mode and workers, its execution settings — on a few
dozen samples for one epoch, so a paper-scale config is executed for real before anyone spends a
GPU-day on it (``tests/test_paper_smoke.py``). Sizes, and why each size keeps the code path the
study will run:

- ``device: cpu``, ``threads: 1``: the test machine; nothing may need a GPU.
- ``sweep.seeds``: the first seed. ``sweep.noise``: the first entry of each noise kind (further
  entries of a kind run the same code with other rates or label sets). ``sweep.fractions``: one
  pruned fraction — the study's smallest that still keeps ``MIN_BUDGET`` samples, so every pruner
  makes several picks — and ``1.0`` where the study has it.
- Datasets: ``max_train`` ``TRAIN_SAMPLES`` and ``max_test`` ``TEST_SAMPLES`` (config/README.md: a
  fixed class-stratified subset, or a plain random one when there are more classes than samples);
  image loaders decode at a small ``image_size`` that still leaves the last ResNet stage 2×2 (64 px
  with the ImageNet stem, 16 px with the CIFAR stem), so BatchNorm never sees a single value per
  channel. Data paths stay the study's own (the test lays out the data where the config expects it).
- Warm-ups and learners: ``epochs: 1``, ``score_epochs: [1]`` where the study scores snapshots, and
  ``batch_size`` at most ``BATCH_SIZE`` (a batch larger than the whole training set is refused, and
  a small one gives the full set several steps; with ``drop_last`` at most ``MIN_BUDGET // 2``, so
  that the smallest subset still fills a batch). Epoch counts of a learner's phases move into that
  one epoch so that its main step runs: DivideMix's ``warmup_epochs`` 0 (co-divide and MixMatch in
  the first epoch), RDIA-LS's ``init_epoch`` 1 (its full loss) and a ``linear_decay`` schedule's
  ``decay_start`` 1 (the decay and Adam's β1 switch).
- Noise: ``probe_per_class`` 1 (a clean probe set still exists for the learners that need one).
- Active learning: one query round, pools of ``TRAIN_SAMPLES // 4``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from snakemake.utils import update_config

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = REPO / "config" / "config.yaml"

TRAIN_SAMPLES = 32
TEST_SAMPLES = 10
BATCH_SIZE = 16
MIN_BUDGET = 6


def layered(*layers: Path | Mapping[str, Any]) -> dict[str, Any]:
    """The config Snakemake builds from ``config/config.yaml`` and the ``--configfile`` ``layers``
    (files or mappings), in order: mappings merged key by key, everything else replaced, by
    ``snakemake.utils.update_config``, the function Snakemake itself layers them with."""
    config = yaml.safe_load(DEFAULT_CONFIG.read_text())
    for layer in layers:
        update_config(config, layer if isinstance(layer, Mapping) else yaml.safe_load(Path(layer).read_text()))
    return config


def budget(fraction: float, samples: int) -> int:
    """The selection budget of ``fraction`` of ``samples`` (halves up, at least one, as the workflow)."""
    return max(1, int(fraction * samples + 0.5))


def smoke_fractions(fractions: Iterable[float], samples: int = TRAIN_SAMPLES) -> list[float]:
    """The study's smallest pruned fraction whose budget is at least ``MIN_BUDGET`` (else its
    largest), then ``1.0`` if the study runs it."""
    fractions = sorted(fractions)
    pruned = [f for f in fractions if f < 1.0]
    large_enough = [f for f in pruned if budget(f, samples) >= MIN_BUDGET]
    chosen = (large_enough or pruned[-1:])[:1]
    return chosen + [1.0] * (1.0 in fractions)


def first_of_each_kind(noise: Mapping[str, Mapping[str, Any]], names: Iterable[str]) -> list[str]:
    """The first of ``names`` of each noise ``kind``, in sweep order."""
    kept: dict[str, str] = {}
    for name in names:
        kept.setdefault(noise[name]["kind"], name)
    return list(kept.values())


def image_size(config: Mapping[str, Any], entry: Mapping[str, Any]) -> int:
    """The decoding size of an image loader's smoke run: the last ResNet stage stays 2×2."""
    model = config["models"].get(entry["model"], {})
    imagenet_stem = model.get("arch", "").startswith("resnet") and model.get("small_input") is False
    return min(entry.get("image_size", 32), 64 if imagenet_stem else 16)


def training_layer(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A warm-up's or learner's overrides: one epoch with the learner's phases in it, small batches."""
    # A learner that drops the last partial batch refuses a subset smaller than one batch: its
    # batches are small enough for the smallest subset, probe samples taken out, to fill one.
    largest = MIN_BUDGET // 2 if entry.get("drop_last") else BATCH_SIZE
    layer: dict[str, Any] = {"epochs": 1, "batch_size": min(entry.get("batch_size", 128), largest)}
    if entry.get("score_epochs"):
        layer["score_epochs"] = [1]
    if entry["learner"] == "dividemix":
        layer["warmup_epochs"] = 0  # co-divide and MixMatch from the first epoch
    if entry["learner"] == "rdia_ls":
        layer["init_epoch"] = 1  # the full loss from the first epoch
    if entry.get("schedule") == "linear_decay":
        layer["decay_start"] = 1  # the decay (and Adam's β1 switch) in the one epoch
    return layer


def smoke_layer(config: Mapping[str, Any]) -> dict[str, Any]:
    """The layer over ``config`` (the study as Snakemake builds it, see :func:`layered`) that
    shrinks its sizes (module docstring). Data paths stay the study's own."""
    sweep = config["sweep"]
    active = [config["active"][name] for name in sweep.get("active", [])]
    layer: dict[str, Any] = {
        "device": "cpu",
        "threads": 1,
        "sweep": {
            "seeds": sweep.get("seeds", [0])[:1],
            "noise": first_of_each_kind(config["noise"], sweep["noise"]),
            "fractions": smoke_fractions(sweep["fractions"]),
        },
        "datasets": {},
        "warmups": {},
        "learners": {},
    }
    for name in sweep["datasets"]:
        entry = config["datasets"][name]
        dataset: dict[str, Any] = {"max_train": TRAIN_SAMPLES, "max_test": TEST_SAMPLES}
        if entry["loader"] in ("image_folder", "file_list"):
            dataset["image_size"] = image_size(config, entry)
        layer["datasets"][name] = dataset
    trained = {
        "warmups": sweep["warmups"],
        "learners": [*sweep["learners"], *(experiment["learner"] for experiment in active)],
    }
    for section, names in trained.items():
        for name in names:
            if config[section][name].get("source") != "precomputed":
                layer[section][name] = training_layer(config[section][name])
        if not layer[section]:
            del layer[section]
    # every entry, swept or not: a test may run the noise stage of the others too
    probes = {name: {"probe_per_class": 1} for name, entry in config["noise"].items() if entry.get("probe_per_class")}
    if probes:
        layer["noise"] = probes
    if active:
        pool = TRAIN_SAMPLES // 4
        layer["active"] = {name: {"initial": pool, "query": pool, "rounds": 1} for name in sweep["active"]}
    return layer


if __name__ == "__main__":
    # A smoke layer for any study: python tests/smoke_layer.py my.yaml [more.yaml …] > smoke.yaml,
    # then snakemake --cores 2 --configfile my.yaml [more.yaml …] smoke.yaml
    import sys

    print(yaml.safe_dump(smoke_layer(layered(*map(Path, sys.argv[1:]))), sort_keys=False), end="")
