"""Every shipped study executed for real on a tiny slice, before anyone spends a GPU-day on it.

Each study runs end to end (two of them partly, below) — noise → warm-up → extract → select →
retrain → aggregate → plots, then ``snakemake --report`` — as ``snakemake --configfile
config/<study>.yaml smoke.yaml``, where the smoke layer (``tests/smoke_layer.py``) keeps the study's
architecture and pretrained weights, learners, every pruner with its τ and balance, its noise
models, its loader with its storage mode and workers and its execution settings, and shrinks only
sizes: 32 training samples, one epoch, one seed, one pruned fraction and 1.0. The study's own data
paths are used as they are: each run's working folder gets ``data/`` (and its parent
``shared/data/``) laid out as the configs expect, with CIFAR-10N and Fashion-MNIST from the real
files of ``../shared/data`` and, for what is not there, copies in the release's own on-disk layout
(``tests/standin_data.py``): CIFAR-100 + CIFAR-100N, Clothing-1M, mini-WebVision, ImageNet, MNIST,
a9a and a ResNet-50 checkpoint.

Marked ``paper_smoke`` (``pytest -m "not paper_smoke"`` leaves them out). Only the studies of the
selected tests run, two Snakemake processes at a time.

One full run per distinct architecture × learners × loader; seconds of run + report measured on the
development machine's 2 cores, shared with another job (load 5–7), two studies side by side: 8
minutes for the module (2026-12-07; 6.9 minutes in a run during which the other job paused, where
the studies after the pause took half these times):

- ``cifar10n`` (227 s): PreActResNet-18, SOP+ warm-up, SOP+ and DivideMix, the real CIFAR-10N files.
- ``clothing1m`` (150 s): ResNet-50 from a local torchvision checkpoint, CE warm-up, DivideMix, the
  key lists, ``storage: stream`` read by 8 workers, intrinsic noise.
- ``webvision`` (73 s): ResNet-50 with the ImageNet stem, SOP, the Google list cut to 50 classes.
- ``imagenet`` (69 s): ResNet-50 with the CIFAR stem, class folders cut to 100, pair noise.
- ``fashion_mnist`` (78 s): the small CNN with CE, ELR and SOP+, the real Fashion-MNIST files.
- ``rdia_a9a`` (34 s): logistic regression, RDIA with a clean probe set, a LIBSVM pair of files.
- ``rdia_ls_mnist`` (39 s): an MLP, RDIA-LS with Adam and the linear decay, MNIST IDX files.
- ``active_digits`` (52 s): the active-learning branch with its four acquisitions.
- ``presets`` (78 s): config/presets/*.yaml over the default — every preset learner (SOP, SOP+,
  ELR, ELR+, DivideMix and its Prune4ReL variant, IEG, L2R) on the default's digits with a probe
  set, and the noise stage of every preset noise.

Partial (every selection, detection and the no-pruning reference's retrains; the pruned subsets'
retrains and the tables are the same code as in the study named, which runs them):

- ``cifar100n`` (65 s): the CIFAR-100 pickles and the CIFAR-100N label file, 100 classes, through
  the SOP+ warm-up, every pruner and SOP+ and DivideMix on the whole set (as ``cifar10n``).
- ``cifar10n_screen`` (54 s): the small CNN's warm-up on the real CIFAR-10N slice and every pruner,
  Prune4ReL with ``tau: auto`` among them (as ``fashion_mnist`` for the learners).

Shared, not run again:

- ``cifar10n_fast.yaml`` → ``cifar10n``, ``cifar100n_fast.yaml`` → ``cifar100n``,
  ``fashion_mnist_fast.yaml`` → ``fashion_mnist``: after the smoke layer each differs from the
  executed study in numbers only (learning rates, batch sizes, epochs, widths), and in two choices
  other runs execute (Prune4ReL on float32 features, a warm-up under its own cosine): the same jobs
  and entries (``test_fast_presets_differ_from_their_executed_study_in_numbers_only``).
- ``rdia_tabular.yaml``: executed at its real size by ``tests/test_workflow.py``
  (``test_rdia_tabular_preset_flips_harmful_labels_and_beats_plain_refitting``), on scikit-learn's
  bundled data with ``rdia_a9a``'s learners and architecture.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import subprocess
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import standin_data
import torch
import yaml
from conftest import REPO, REQUIRE_SHARED, SHARED_DATA, shared_cifar10_available, snakemake_command
from smoke_layer import budget, layered, smoke_layer
from snakemake.utils import update_config

from noisyprune.artifacts import DYNAMICS, FEATURES, HISTORY, LABELS, RELABELS, SNAPSHOTS, SUBSET, read_table
from noisyprune.config import fraction_label, model_entry, sweep_runs, sweep_settings, validate_config
from noisyprune.reporting.paths import GROUP_KINDS, curves_stem, group_stem

CONFIG = REPO / "config"


@dataclass(frozen=True)
class Study:
    """A smoke run: config files (under ``config/``, in ``--configfile`` order, over the default),
    a layer of the test's own laid between them and the smoke layer (the presets' sweep), further
    targets, whether it is ``partial`` (every stage but the pruned subsets' retrains and the tables:
    see :func:`partial_targets`), and its measured seconds (run + report), which order the runs
    longest first."""

    files: tuple[str, ...]
    seconds: int
    sweep: Mapping[str, Any] = field(default_factory=dict)
    targets: tuple[str, ...] = ()
    partial: bool = False


PRESETS = ("presets/asymmetric_noise.yaml", "presets/cifar10.yaml", "presets/cifar100.yaml", "presets/ieg.yaml")


def preset_entries(section: str) -> list[str]:
    """The names the preset files define in ``section`` (learners or noise), in file order."""
    names: list[str] = []
    for path in PRESETS:
        names.extend(yaml.safe_load((CONFIG / path).read_text()).get(section, {}))
    return names


STUDIES = {
    "cifar10n": Study(("cifar10n.yaml",), 227),
    "clothing1m": Study(("clothing1m.yaml",), 150),
    "webvision": Study(("webvision.yaml",), 73),
    "imagenet": Study(("imagenet.yaml",), 69),
    "fashion_mnist": Study(("fashion_mnist.yaml",), 78),
    "rdia_a9a": Study(("rdia_a9a.yaml",), 34),
    "rdia_ls_mnist": Study(("rdia_ls_mnist.yaml",), 39),
    "active_digits": Study(("active_digits.yaml",), 52),
    # The learner presets name no sweep: theirs is every preset learner, on the default's data with
    # a probe set (IEG and L2R need one) and one pruner; each preset noise runs its noise stage.
    "presets": Study(
        PRESETS,
        78,
        sweep={"noise": ["sym40_probe10"], "methods": ["uniform"], "learners": preset_entries("learners")},
        targets=tuple(f"results/digits/{noise}/seed0/labels.parquet" for noise in preset_entries("noise")),
    ),
    "cifar100n": Study(("cifar100n.yaml",), 65, partial=True),
    "cifar10n_screen": Study(("cifar10n_screen.yaml",), 54, partial=True),
}
SHARED = {
    "cifar10n_fast.yaml": "cifar10n",
    "cifar100n_fast.yaml": "cifar100n",
    "fashion_mnist_fast.yaml": "fashion_mnist",
}
# config file → the test of tests/test_workflow.py that runs it end to end
RUN_ELSEWHERE = {"rdia_tabular.yaml": "test_rdia_tabular_preset_flips_harmful_labels_and_beats_plain_refitting"}


# --- data: the folders the shipped configs name, relative to a run's working folder -------------


@pytest.fixture(scope="module")
def data_tree(request, tmp_path_factory) -> Path:
    """A folder holding ``data/`` and ``shared/data/`` as the shipped configs name them (``data/cifar``,
    ``../shared/data/fashion-mnist``, …): the real files where ``../shared/data`` has them, the
    stand-ins of ``tests/standin_data.py`` otherwise (CI must have the real ones). A run's working
    folder links ``data`` to it, and its parent folder ``shared``."""
    tree = tmp_path_factory.mktemp("smoke_data")
    data, shared = tree / "data", tree / "shared" / "data"
    for folder in (data / "cifar", data / "cifar-10-100n", shared):
        folder.mkdir(parents=True)
    if shared_cifar10_available() or REQUIRE_SHARED:
        official = request.getfixturevalue("real_cifar10_root")  # written once per session
        (data / "cifar" / "cifar-10-batches-py").symlink_to(official / "cifar-10-batches-py")
        (data / "cifar-10-100n" / "CIFAR-10_human.pt").symlink_to(SHARED_DATA / "cifar-10-100n" / "CIFAR-10_human.pt")
    else:
        labels = standin_data.cifar10(tree / "cifar10")
        (data / "cifar" / "cifar-10-batches-py").symlink_to(tree / "cifar10" / "cifar-10-batches-py")
        (data / "cifar-10-100n" / "CIFAR-10_human.pt").symlink_to(labels)
    standin_data.cifar100(data / "cifar").rename(data / "cifar-10-100n" / "CIFAR-100_human.pt")
    standin_data.clothing1m(data / "clothing1m")
    standin_data.webvision(data / "webvision")
    standin_data.imagenet(data / "imagenet")
    standin_data.mnist(data / "mnist")
    standin_data.resnet_checkpoint(data / "pretrained" / "resnet50-11ad3fa6.pth", "resnet50")
    fashion = SHARED_DATA / "fashion-mnist"
    if fashion.is_dir():
        (shared / "fashion-mnist").symlink_to(fashion)
    elif REQUIRE_SHARED:
        pytest.fail(f"{fashion} missing beside the checkout")
    else:
        standin_data.mnist(shared / "fashion-mnist")
    standin_data.libsvm_a9a(shared / "libsvm")
    return tree


# --- running: the selected studies, two at a time -----------------------------------------------


@dataclass
class SmokeRun:
    """A finished smoke run: its working folder, the config it ran (validated, defaults filled),
    Snakemake's exit status, the seconds of the run and of the report, and where its output went."""

    study: str
    workdir: Path
    config: dict[str, Any]
    returncode: int
    run_seconds: float
    report_seconds: float
    log: Path

    def failure(self) -> str:
        """The end of Snakemake's output, for an assertion message."""
        return f"{self.study} failed ({self.returncode}), {self.log}:\n" + self.log.read_text()[-6000:]


def smoke_config(study: Study) -> tuple[dict[str, Any], dict[str, Any]]:
    """The layer the test adds over ``study``'s files (its own sweep, then the smoke layer) and
    the whole config Snakemake will build from them."""
    own = {"sweep": dict(study.sweep)} if study.sweep else {}
    layer = copy.deepcopy(own)
    update_config(layer, smoke_layer(layered(*(CONFIG / f for f in study.files), own)))
    return layer, layered(*(CONFIG / f for f in study.files), layer)


def partial_targets(config: Mapping[str, Any]) -> list[str]:
    """What a partial run makes: every selection and detection, and the retrains of the no-pruning
    reference (each learner on the whole set); the pruned subsets' retrains and the tables it leaves
    to the executed study that shares them."""
    targets = set()
    for r in sweep_runs(config):
        targets.add(f"{run_folder(r)}/select/{r.warmup}/{r.method}/f{r.fraction}/subset.parquet")
        targets.add(f"{run_folder(r)}/warmup/{r.warmup}/detection.json")
        if r.method == "full":
            targets.add(f"{run_folder(r)}/train/{r.warmup}/full/f{r.fraction}/{r.learner}/metrics.json")
    return sorted(targets)


def run_study(name: str, study: Study, workdir: Path, data: Path, cores: int) -> SmokeRun:
    """Run ``study`` in ``workdir`` (a direct child of the folder holding ``shared``) with the
    shipped files and the smoke layer, then its report."""
    layer, config = smoke_config(study)
    (workdir / "data").symlink_to(data / "data")
    (workdir / "smoke.yaml").write_text(yaml.safe_dump(layer, sort_keys=False))
    command = snakemake_command(workdir, [*(CONFIG / f for f in study.files), workdir / "smoke.yaml"])
    targets = partial_targets(validate_config(copy.deepcopy(config))) if study.partial else ["all"]
    steps = [[*command, "--cores", str(cores), *targets, *study.targets]]
    if not study.partial:
        steps.append([*command, "--report", "results/report.html"])
    log, seconds, returncode = workdir / "smoke.log", [], 0
    with log.open("w") as output:
        for step in steps:
            start = time.perf_counter()
            returncode = subprocess.run(step, stdout=output, stderr=subprocess.STDOUT, check=False).returncode
            seconds.append(time.perf_counter() - start)
            if returncode:
                break
    return SmokeRun(name, workdir, validate_config(config), returncode, seconds[0], sum(seconds[1:]), log)


def selected_studies(session: pytest.Session) -> list[str]:
    """The studies whose run tests are selected, longest measured run first."""
    chosen = {
        item.callspec.params["study"]
        for item in session.items
        if item.path == Path(__file__) and getattr(item, "originalname", "") == "test_the_study_runs_on_a_tiny_slice"
    }
    return sorted(chosen, key=lambda name: -STUDIES[name].seconds)


@pytest.fixture(scope="module")
def smoke_runs(request, tmp_path_factory) -> dict[str, SmokeRun]:
    """Every selected study run once, two Snakemake processes at a time, each with both cores (a
    small run is mostly one busy process: Snakemake's own work between jobs, a job's start)."""
    names = selected_studies(request.session)
    if not names:
        return {}
    data = request.getfixturevalue("data_tree")
    base = data.parent
    if not (base / "shared").exists():
        (base / "shared").symlink_to(data / "shared")  # what ../shared/data means in a working folder

    def run(name):
        return run_study(name, STUDIES[name], tmp_path_factory.mktemp(name), data, cores=2)

    with ThreadPoolExecutor(max_workers=min(2, len(names))) as pool:
        runs = {run.study: run for run in pool.map(run, names)}
    for run in runs.values():
        print(f"smoke {run.study}: run {run.run_seconds:.0f} s, report {run.report_seconds:.0f} s")
    return runs


# --- what a finished run must hold -----------------------------------------------------------------


def run_folder(run) -> str:
    """``results/{dataset}/{noise}/seed{seed}`` of a sweep run."""
    return f"results/{run.dataset}/{run.noise}/seed{run.seed}"


def check_stages(smoke: SmokeRun) -> None:
    """labels.parquet, the warm-up's model, dynamics, history, snapshots, features and detection,
    every subset.parquet and every retrain's metrics, history and relabels (of a partial run: the
    reference's), each read through its contract."""
    config, workdir = smoke.config, smoke.workdir
    runs = sweep_runs(config)
    candidates = {}
    for key in {(r.dataset, r.noise, r.seed) for r in runs}:
        folder = workdir / run_folder(runs[[(r.dataset, r.noise, r.seed) for r in runs].index(key)])
        labels = read_table(folder / "labels.parquet", LABELS)
        assert len(labels) == config["datasets"][key[0]]["max_train"], folder
        candidates[key] = len(labels) - int(labels.numpy("is_probe").sum())
    for r in {(r.dataset, r.noise, r.seed, r.warmup): r for r in runs}.values():
        n = candidates[(r.dataset, r.noise, r.seed)]
        folder = workdir / run_folder(r) / "warmup" / r.warmup
        checkpoint = torch.load(folder / "model.pt", map_location="cpu", weights_only=True)
        assert checkpoint["epochs"] == 1 and checkpoint["model_state"], folder
        assert len(read_table(folder / "dynamics.parquet", DYNAMICS)) == n
        assert read_table(folder / "history.parquet", HISTORY).numpy("epoch").tolist() == [1]
        scored = set(read_table(folder / "snapshots.parquet", SNAPSHOTS).numpy("epoch").tolist())
        assert scored == set(config["warmups"][r.warmup].get("score_epochs", [])), folder
        features = read_table(folder / "features.parquet", FEATURES)
        assert len(features) == len(read_table(workdir / run_folder(r) / "labels.parquet", LABELS))
        assert np.isfinite(features.numpy("embedding")).all() and np.isfinite(features.numpy("probs")).all()
        assert json.loads((folder / "detection.json").read_text())["num_samples"] == n
    for r in runs:
        n = candidates[(r.dataset, r.noise, r.seed)]
        selection = workdir / run_folder(r) / "select" / r.warmup / r.method / f"f{r.fraction}"
        subset = read_table(selection / "subset.parquet", SUBSET)
        assert len(subset) == subset.metadata["budget"] == budget(float(r.fraction), n), selection
        if STUDIES[smoke.study].partial and r.method != "full":
            continue
        train = workdir / run_folder(r) / "train" / r.warmup / r.method / f"f{r.fraction}" / r.learner
        metrics = json.loads((train / "metrics.json").read_text())["metrics"]
        assert metrics["subset_size"] == len(subset), train
        assert 0 <= metrics["test_acc_last"] <= 1 and 0 <= metrics["test_acc_best"] <= 1, train
        if config["datasets"][r.dataset].get("clean_labels", True):
            assert 0 <= metrics["relabel_acc_all"] <= 1, train
        else:  # intrinsic noise: no clean training labels, so missing, never 0
            assert metrics["relabel_acc_all"] is None and metrics["subset_noise_rate"] is None, train
        assert read_table(train / "history.parquet", HISTORY).numpy("epoch").tolist() == [1]
        assert read_table(train / "relabels.parquet", RELABELS).numpy("in_subset").sum() == len(subset)


def check_tables_plots_report(smoke: SmokeRun) -> None:
    """One row per run in runs.csv, the verdict, ranking, composition and detection tables, a pivot
    per setting, every figure in PNG and PDF, and the report."""
    config, results = smoke.config, smoke.workdir / "results"
    runs = sweep_runs(config)
    table = pd.read_csv(results / "tables" / "runs.csv")
    assert sorted(zip(table["method"], table["fraction"].map(fraction_label), table["learner"])) == sorted(
        (r.method, r.fraction, r.learner) for r in runs
    )
    for name in ("verdict", "ranking", "composition", "detection"):
        for suffix in ("csv", "md", "tex", "html"):
            assert (results / "tables" / f"{name}.{suffix}").stat().st_size > 0, name
    settings = sweep_settings(config)
    pruned = [f for f in config["sweep"]["fractions"] if f < 1.0]
    assert len(pd.read_csv(results / "tables" / "verdict.csv")) == len(settings) * len(pruned)  # one per cell
    for setting in settings:
        stem = "__".join(setting[key] for key in ("dataset", "noise", "warmup", "learner"))
        assert (results / "tables" / "pivot" / f"{stem}.csv").is_file(), stem
    stems = [curves_stem(str(results / "plots"), setting) for setting in settings]
    for dataset, warmup in {(s["dataset"], s["warmup"]) for s in settings}:
        stems += [group_stem(str(results / "plots"), dataset, warmup, kind) for kind in GROUP_KINDS]
    for stem in stems:
        assert Path(f"{stem}.png").read_bytes()[:4] == b"\x89PNG" and Path(f"{stem}.pdf").stat().st_size > 1000, stem
    if config["sweep"]["active"]:
        rounds = [config["active"][name]["rounds"] + 1 for name in config["sweep"]["active"]]
        assert len(pd.read_csv(results / "tables" / "active.csv")) == sum(rounds)
    report = (results / "report.html").read_text(errors="replace")
    assert len(report) > 100_000 and "verdict" in report.lower()


def check_execution(smoke: SmokeRun) -> None:
    """What the study's own settings must have made happen: streamed images read by its workers,
    its pretrained weights loaded."""
    config = smoke.config
    for r in {(r.dataset, r.noise, r.seed, r.warmup): r for r in sweep_runs(config)}.values():
        log = (smoke.workdir / run_folder(r) / "warmup" / r.warmup / "warmup.log").read_text()
        dataset = config["datasets"][r.dataset]
        if dataset.get("storage") == "stream":
            assert f"streamed from the cache in results/.cache/images by {dataset['workers']} workers" in log
        model = config["models"][config["warmups"][r.warmup].get("model") or dataset["model"]]
        if model.get("weights"):
            assert re.search(rf"loaded (\d+) of \1 tensors from {re.escape(model['weights'])}", log), log[-2000:]


@pytest.mark.paper_smoke
@pytest.mark.workflow
@pytest.mark.parametrize("study", STUDIES)
def test_the_study_runs_on_a_tiny_slice(study, smoke_runs, record_property):
    smoke = smoke_runs[study]
    record_property("smoke_seconds", round(smoke.run_seconds + smoke.report_seconds))
    assert smoke.returncode == 0, smoke.failure()
    check_stages(smoke)
    check_execution(smoke)
    for target in STUDIES[study].targets:  # the presets' other noise models, through the noise stage
        dataset = Path(target).parts[1]  # results/<dataset>/<noise>/seed<seed>/labels.parquet
        assert len(read_table(smoke.workdir / target, LABELS)) == smoke.config["datasets"][dataset]["max_train"]
    if STUDIES[study].partial:
        assert not (smoke.workdir / "results" / "tables").exists()  # left to the study that shares them
    else:
        check_tables_plots_report(smoke)


# --- the layer and the coverage, without running anything ----------------------------------------


def test_every_shipped_config_is_run_shared_or_run_elsewhere():
    shipped = {str(path.relative_to(CONFIG)) for path in CONFIG.rglob("*.yaml")}
    covered = {"config.yaml"}  # the README's run command; the presets run over it
    covered |= {file for study in STUDIES.values() for file in study.files} | set(SHARED) | set(RUN_ELSEWHERE)
    assert shipped == covered
    workflow_tests = (REPO / "tests" / "test_workflow.py").read_text()
    assert all(f"def {test}(" in workflow_tests for test in RUN_ELSEWHERE.values())


def shape(value: Any) -> Any:
    """``value`` with every number replaced by its kind: what is left is the code a config runs."""
    if isinstance(value, Mapping):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(item) for item in value]
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    return "number"


def what_runs(config: Mapping[str, Any]) -> dict[str, Any]:
    """What a validated config executes, by the shape of each swept entry (model names resolved
    to their entries, so two names for one architecture do not count): the top-level settings,
    the jobs' wildcards and every dataset, noise, warm-up, method and learner entry of the sweep."""
    sweep = config["sweep"]
    entries = {
        section: {name: config[section][name] for name in sweep[section]}
        for section in ("noise", "warmups", "methods", "learners")
    }
    models = {
        f"{dataset}/{name}": {**model_entry(config, dataset, config[section][name]), "name": None}
        for dataset in sweep["datasets"]
        for section in ("warmups", "learners")
        for name in sweep[section]
    }
    datasets = {name: {**config["datasets"][name], "model": None} for name in sweep["datasets"]}
    settings = {key: value for key, value in config.items() if not isinstance(value, Mapping) or key == "report"}
    return shape({"settings": settings, "datasets": datasets, "models": models, **entries, "sweep": sweep})


# Choices, besides numbers, in which a fast preset may differ from its paper-scale study, as long as
# another smoke run executes the fast preset's value: (section, key).
FAST_CHOICES = (
    ("methods", "input_precision"),  # Prune4ReL on float16-rounded features, as the original stores them
    ("warmups", "schedule_epochs"),  # a warm-up under the retrain's cosine, as Prune4ReL's
)


@functools.cache
def executed_values(section: str, key: str) -> frozenset[str]:
    """The values (``repr``) that ``key`` takes in the swept entries of ``section`` of the smoke runs."""
    values = set()
    for study in STUDIES.values():
        config = validate_config(smoke_config(study)[1])
        values |= {
            repr(config[section][name][key]) for name in config["sweep"][section] if key in config[section][name]
        }
    return frozenset(values)


@pytest.mark.parametrize(("shared", "executed"), SHARED.items())
def test_fast_presets_differ_from_their_executed_study_in_numbers_only(shared, executed):
    ran = validate_config(smoke_config(STUDIES[executed])[1])
    theirs = validate_config(smoke_config(Study((shared,), 0))[1])
    for section, key in FAST_CHOICES:
        for name in theirs["sweep"][section]:
            if key in theirs[section][name]:
                assert repr(theirs[section][name][key]) in executed_values(section, key), (section, name, key)
                theirs[section][name][key] = ran[section][name][key] = None
    assert what_runs(theirs) == what_runs(ran)
    assert sweep_runs(theirs) == sweep_runs(ran)  # the same jobs, down to their wildcards


# Keys the smoke layer may set: sizes, the machine, and the epochs of a learner's phases.
SIZE_KEYS = {
    ("device",),
    ("threads",),
    ("sweep", "seeds"),
    ("sweep", "noise"),
    ("sweep", "fractions"),
    ("datasets", "*", "max_train"),
    ("datasets", "*", "max_test"),
    ("datasets", "*", "image_size"),
    *((section, "*", key) for section in ("warmups", "learners") for key in ("epochs", "batch_size")),
    *((section, "*", key) for section in ("warmups", "learners") for key in ("score_epochs", "decay_start")),
    ("learners", "*", "warmup_epochs"),
    ("learners", "*", "init_epoch"),
    ("noise", "*", "probe_per_class"),
    *(("active", "*", key) for key in ("initial", "query", "rounds")),
}


def leaf_keys(layer: Mapping[str, Any], prefix: tuple = ()) -> set[tuple]:
    """The key paths of ``layer``'s leaves, entry names (the second level) as ``*``."""
    keys = set()
    for key, value in layer.items():
        path = (*prefix, "*" if len(prefix) == 1 and prefix[0] != "sweep" else key)
        keys |= leaf_keys(value, path) if isinstance(value, Mapping) and value else {path}
    return keys


@pytest.mark.parametrize("study", STUDIES)
def test_the_smoke_layer_changes_sizes_only_and_keeps_every_pruner_and_learner(study):
    layer, config = smoke_config(STUDIES[study])
    own = leaf_keys(STUDIES[study].sweep and {"sweep": STUDIES[study].sweep})
    assert leaf_keys(layer) - own <= SIZE_KEYS
    plain = layered(*(CONFIG / f for f in STUDIES[study].files), {"sweep": dict(STUDIES[study].sweep)})
    for key in ("datasets", "warmups", "learners", "methods"):
        assert config["sweep"][key] == plain["sweep"][key], key
    fractions = config["sweep"]["fractions"]
    assert set(fractions) <= set(plain["sweep"]["fractions"]) and len(fractions) <= 2
    assert all(config["datasets"][name]["max_train"] <= 200 for name in config["sweep"]["datasets"])


def test_the_documented_smoke_command_prints_the_layer_these_runs_use():
    import sys

    getting_started = (REPO / "docs" / "getting-started.md").read_text()
    assert ".venv/bin/python tests/smoke_layer.py my.yaml > smoke.yaml" in getting_started
    printed = subprocess.run(
        [sys.executable, str(REPO / "tests" / "smoke_layer.py"), str(CONFIG / "clothing1m.yaml")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert yaml.safe_load(printed) == smoke_layer(layered(CONFIG / "clothing1m.yaml"))
