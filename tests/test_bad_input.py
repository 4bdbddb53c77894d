"""Bad input, end to end: each case breaks one thing in a copy of a finished tiny run and reruns
Snakemake. Every case must stop with an error naming the culprit, and every finished file under
results/ must survive untouched (same bytes, same mtime): config values, config files, data files and
changed finished files are refused before any job; what only a job can find fails a job that has no
finished outputs. Only files without a write record (written before records existed) still reach the
job that reads them, which replaces no more than the outputs that their change made stale."""

import copy
import re
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import run_snakemake

pytestmark = pytest.mark.workflow

RUN = "results/digits/sym40/seed0"
LABELS = f"{RUN}/labels.parquet"
FEATURES = f"{RUN}/warmup/ce/features.parquet"
DYNAMICS = f"{RUN}/warmup/ce/dynamics.parquet"
SUBSET = f"{RUN}/select/ce/small_loss/f0.5/subset.parquet"
METRICS = f"{RUN}/train/ce/uniform/f0.5/ce/metrics.json"


def snapshot(workdir: Path) -> dict[str, tuple[int, int]]:
    """(size, mtime in ns) of every result file."""
    return {
        str(p.relative_to(workdir)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in (workdir / "results").rglob("*")
        if p.is_file()
    }


def scheduled_outputs(dry_run_output: str) -> set[str]:
    """Every output path of the jobs a dry run schedules (these may legitimately be replaced)."""
    outputs = set()
    for line in dry_run_output.splitlines():
        stripped = line.strip()
        for prefix in ("output: ", "log: ", "benchmark: "):
            if stripped.startswith(prefix):
                outputs.update(path.strip() for path in stripped[len(prefix) :].split(","))
    return outputs


@pytest.fixture
def run_copy(finished_run, tmp_path):
    """A private copy of the finished tiny run and its config."""
    source, config = finished_run
    workdir = tmp_path / "run"
    shutil.copytree(source, workdir, symlinks=True)
    return workdir, copy.deepcopy(config)


def assert_fails_and_keeps_finished_outputs(
    workdir, config, expected, broken=(), config_name="config.yaml", jobs_may_run=True
):
    """Rerun; it must fail with ``expected`` in its output, and no file outside the scheduled jobs'
    outputs (and the ``broken`` files themselves) may have changed or vanished. With
    ``jobs_may_run=False`` (a config refused at parse time) no file at all may change. Returns the
    run's console (stdout and stderr)."""
    before = snapshot(workdir)
    replaceable = set(broken)
    if jobs_may_run:
        dry = run_snakemake(workdir, config, "--dry-run", "--cores", "1", check=False, config_name=config_name)
        replaceable |= scheduled_outputs(dry.stdout)
    result = run_snakemake(workdir, config, "--cores", "1", check=False, config_name=config_name)
    text = result.stdout + result.stderr
    assert result.returncode != 0, text[-3000:]
    assert expected in text, text[-4000:]
    after = snapshot(workdir)
    for path, stamp in before.items():
        if path in replaceable:
            continue
        assert path in after, f"{path} was deleted"
        assert after[path] == stamp, f"{path} was overwritten"
    return text


# --- config values and data files: refused before any job runs ---------------------------------
#
# Each case changes the finished run's config (and may write a data file beside it); Snakemake must
# refuse it before scheduling any job (at validation, or in `onstart` for the data files and the
# device), so no file at all may change. A case is (change(workdir, config), expected text).


def _set(path: str, value):
    """A change that sets the dotted config key ``path`` to ``value``."""

    def change(_workdir, config):
        *parents, last = path.split(".")
        node = config
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        node[last] = value

    return change


def _both(*changes):
    def change(workdir, config):
        for part in changes:
            part(workdir, config)

    return change


def _sweep_also(section: str, name: str, entry: dict):
    """Define ``section.name`` and add it to the sweep next to the finished run's entries."""

    def change(_workdir, config):
        config[section][name] = entry
        config["sweep"][section] = [*config["sweep"][section], name]

    return change


CONFIG_CASES = {
    "fraction_above_one": (
        _set("sweep.fractions", [0.5, 1.5]),
        "config key 'sweep.fractions.1': 1.5 is greater than the maximum of 1",
    ),
    "fraction_zero": (
        _set("sweep.fractions", [0.0]),
        "config key 'sweep.fractions.0': 0.0 is less than or equal to the minimum of 0",
    ),
    "fraction_nan": (
        _set("sweep.fractions", [0.5, float("nan")]),
        "config key 'sweep.fractions.1': nan is not a finite",
    ),
    "unknown_pruner": (
        _set("methods.uniform.pruner", "magic"),
        "config key 'methods.uniform.pruner': 'magic' is not one of",
    ),
    "tau_nan": (_set("methods.prune4rel.tau", float("nan")), "config key 'methods.prune4rel.tau': nan is not a finite"),
    "tau_above_one": (
        _set("methods.prune4rel.tau", 1.5),
        "config key 'methods.prune4rel.tau': 1.5 is not allowed here; it must be a number in [0, 1) or 'auto'",
    ),
    "noise_rate_above_one": (
        _set("noise.sym40.rate", 1.2),
        "config key 'noise.sym40.rate': 1.2 is greater than the maximum of 1",
    ),
    "noise_rate_nan": (_set("noise.sym40.rate", float("nan")), "config key 'noise.sym40.rate': nan is not a finite"),
    "noise_rate_inf": (_set("noise.sym40.rate", float("inf")), "config key 'noise.sym40.rate': inf is not a finite"),
    "lr_nan": (_set("learners.ce.lr", float("nan")), "config key 'learners.ce.lr': nan is not a finite"),
    "lr_inf": (_set("warmups.ce.lr", float("inf")), "config key 'warmups.ce.lr': inf is not a finite"),
    "lr_negative": (_set("learners.ce.lr", -0.1), "config key 'learners.ce.lr'"),
    "unknown_top_level_key": (_set("devise", "cpu"), "unknown config key 'devise'"),
    "unknown_method_key": (_set("methods.uniform.colour", "red"), "unknown config key 'methods.uniform.colour'"),
    "zero_epochs": (_set("warmups.ce.epochs", 0), "warmups.ce.epochs"),
    "fractional_epochs": (
        _set("learners.ce.epochs", 2.5),
        "config key 'learners.ce.epochs': 2.5 is not of type 'integer'",
    ),
    "epochs_as_text": (_set("learners.elr.epochs", "3"), "config key 'learners.elr.epochs': '3' is not of type"),
    "unknown_device": (_set("device", "tpu"), "'tpu' is not one of"),
    "negative_seed": (_set("sweep.seeds", [-1]), "config key 'sweep.seeds.0'"),
    # A base seed of 2**64 ran ~20 jobs before the aggregation's OverflowError removed every table.
    "seed_beyond_the_supported_range": (
        _set("sweep.seeds", [0, 2**64]),
        "config key 'sweep.seeds.1': 18446744073709551616 is greater than the maximum of 2147483647",
    ),
    "split_seed_beyond_scikit_learns_range": (
        _set("datasets.digits.split_seed", 2**32),
        "config key 'datasets.digits.split_seed': 4294967296 is greater than the maximum of 4294967295",
    ),
    "undefined_learner_in_sweep": (
        _set("sweep.learners", ["ce", "sop"]),
        "config key 'sweep.learners.1': 'sop' is not defined in 'learners'",
    ),
    "undefined_method_in_sweep": (
        _set("sweep.methods", ["uniform", "el2m"]),
        "config key 'sweep.methods.1': 'el2m' is not defined in 'methods'",
    ),
    "undefined_noise_in_sweep": (
        _set("sweep.noise", ["sym40", "sym80"]),
        "config key 'sweep.noise.1': 'sym80' is not defined in 'noise'",
    ),
    "undefined_dataset_in_sweep": (
        _set("sweep.datasets", ["digit"]),
        "config key 'sweep.datasets.0': 'digit' is not defined in 'datasets'",
    ),
    "undefined_warmup_in_sweep": (
        _set("sweep.warmups", ["ce", "elr"]),
        "config key 'sweep.warmups.1': 'elr' is not defined in 'warmups'",
    ),
    "reference_method_in_sweep": (
        _set("sweep.methods", ["uniform", "full"]),
        "config key 'sweep.methods.1': 'full' is the built-in no-pruning reference",
    ),
    "undefined_model": (
        _set("datasets.digits.model", "resnet"),
        "config key 'datasets.digits.model': 'resnet' is not defined in 'models'",
    ),
    "invalid_entry_name": (
        _set("methods.1st", {"pruner": "uniform"}),
        "config key 'methods': invalid entry name '1st'",
    ),
    "human_noise_on_digits": (
        _sweep_also("noise", "human", {"kind": "human", "labels": "worst"}),
        "config key 'noise.human.labels': human label set 'worst' does not exist for dataset 'digits'",
    ),
    "superclass_noise_on_digits": (
        _sweep_also("noise", "asym", {"kind": "asymmetric", "rate": 0.2, "pairs": "superclass_next"}),
        "config key 'noise.asym.pairs': superclass_next needs CIFAR-100's superclasses",
    ),
    "score_epochs_past_the_warmup": (
        _set("warmups.ce.score_epochs", [2, 9]),
        "config key 'warmups.ce.score_epochs': [2, 9] reaches past the 3 warm-up epochs",
    ),
    "score_epochs_on_a_learner": (
        _set("learners.ce.score_epochs", [1]),
        "config key 'learners.ce.score_epochs': only warm-ups score snapshots",
    ),
    "warmup_from_a_checkpoint": (_set("warmups.ce.init", "warmup"), "config key 'warmups.ce.init'"),
    "nesterov_without_momentum": (
        _both(_set("learners.ce.momentum", 0.0), _set("learners.ce.nesterov", True)),
        "config key 'learners.ce.nesterov': Nesterov momentum needs momentum > 0",
    ),
    "probe_learner_without_a_probe_set": (
        _sweep_also("learners", "l2r", {"learner": "l2r", "epochs": 2, "batch_size": 64}),
        "config key 'noise.sym40.probe_per_class': learner 'l2r' trains on a clean probe set, which noise 'sym40' "
        "does not hold out",
    ),
    "probe_learner_as_a_warmup": (
        _sweep_also("warmups", "meta", {"learner": "ieg", "epochs": 3, "batch_size": 64}),
        "config key 'warmups.meta.learner': 'ieg' trains on a clean probe set, which only retrains get",
    ),
    "autoaugment_on_grayscale_images": (
        _set("datasets.digits.augment", {"strong": "autoaugment"}),
        "config key 'datasets.digits.augment.strong': autoaugment (the CIFAR-10 policy) needs RGB images",
    ),
    "zero_batch_size": (_set("learners.ce.batch_size", 0), "learners.ce.batch_size"),
    # Refused by the retrain job too, but only after Snakemake had removed the retrains' outputs.
    "batch_larger_than_the_training_set": (
        _set("learners.ce.batch_size", 10**12),
        "config key 'learners.ce.batch_size': 1000000000000 is larger than the whole training set of dataset "
        "'digits' (1257 samples)",
    ),
    "warmup_batch_larger_than_max_train": (
        _set("datasets.digits.max_train", 40),
        "config key 'warmups.ce.batch_size': 64 is larger than the whole training set of dataset 'digits' (40 samples)",
    ),
    "asymmetric_pair_out_of_range": (
        _sweep_also("noise", "asym", {"kind": "asymmetric", "rate": 0.2, "pairs": [[0, 42]]}),
        "config key 'noise.asym.pairs': pair [0, 42] names a class outside [0, 10) (dataset 'digits' has 10 classes)",
    ),
    "unknown_architecture": (
        _set("models.mlp.arch", "transformer"),
        "config key 'models.mlp.arch': 'transformer' is not one of",
    ),
    "zero_memory_request": (_set("resources", {"retrain": {"mem_mb": 0}}), "config key 'resources.retrain.mem_mb'"),
}


def _config_check_on_a_cpu_machine():
    import torch

    if torch.cuda.is_available():
        return {}
    return {
        # a new fraction gives Snakemake jobs to run, so its `onstart` runs (a finished tree runs none)
        "cuda_without_a_gpu": (
            _both(_set("device", "cuda"), _set("sweep.fractions", [0.5, 0.3, 1.0])),
            "config key 'device': 'cuda' requested but torch sees no CUDA device",
        ),
    }


# --- the user's own data files (an `arrays` dataset swept beside the finished digits) --------------


def _dataset(name: str, entry: dict, write=None):
    """Sweep the dataset ``name`` (``entry``; ``path`` relative to the run folder) beside digits,
    after ``write(workdir)`` has written its files."""

    def change(workdir, config):
        if write is not None:
            write(workdir)
        paths = ("path", "root", "human_labels")
        resolved = {key: str(workdir / value) if key in paths else value for key, value in entry.items()}
        config["datasets"][name] = {"model": "mlp", **resolved}
        config["sweep"]["datasets"] = ["digits", name]

    return change


def _npz(file="mine.npz", n=60, classes=3, **arrays):
    """Write a valid small .npz (``x`` (n, 4), ``y`` cycling over ``classes``), ``arrays`` replacing or adding."""

    def write(workdir):
        rng = np.random.default_rng(0)
        content = {"x": rng.normal(size=(n, 4)).astype(np.float32), "y": np.arange(n) % classes, **arrays}
        np.savez(workdir / file, **content)

    return write


def _raw(file: str, data: bytes):
    return lambda workdir: (workdir / file).write_bytes(data)


def _truncated_npz(workdir):
    _npz()(workdir)
    data = (workdir / "mine.npz").read_bytes()
    (workdir / "mine.npz").write_bytes(data[: len(data) // 2])


def _parquet(file="mine.parquet", **columns):
    def write(workdir):
        n = 60
        rng = np.random.default_rng(0)
        table = {"x": [list(row) for row in rng.normal(size=(n, 4))], "label": np.arange(n) % 3, **columns}
        pq.write_table(pa.table({k: v for k, v in table.items() if v is not None}), workdir / file)

    return write


def _with(values, row, value):
    changed = np.array(values, dtype=float if isinstance(value, float) else np.asarray(values).dtype)
    changed[row] = value
    return changed


LABELS_60 = np.arange(60) % 3
ARRAYS = {"loader": "arrays", "path": "mine.npz"}
IMAGES_LAST = np.zeros((60, 8, 8, 3), np.uint8)

DATA_CASES = {
    "npz_random_bytes": (
        _dataset("mine", ARRAYS, _raw("mine.npz", bytes(range(256)) * 8)),
        "config key 'datasets.mine' (loader arrays): ",
    ),
    "npz_truncated": (_dataset("mine", ARRAYS, _truncated_npz), "mine.npz: not a readable .npz archive"),
    "npz_pickled_objects": (
        _dataset("mine", ARRAYS, _npz(x=np.array([object()] * 60, dtype=object))),
        "mine.npz: array 'x' holds Python objects (dtype object)",
    ),
    "npz_missing_labels": (
        _dataset("mine", ARRAYS, lambda w: np.savez(w / "mine.npz", x=np.zeros((6, 4)))),
        "mine.npz: missing array(s) ['y']",
    ),
    "npz_length_mismatch": (_dataset("mine", ARRAYS, _npz(y=np.arange(50) % 3)), "mine.npz: 60 inputs but 50 labels"),
    "npz_negative_label": (
        _dataset("mine", ARRAYS, _npz(y=_with(LABELS_60, 7, -1))),
        "mine.npz: y holds 1 negative label(s), first -1 at row(s) 7",
    ),
    "npz_nan_label": (
        _dataset("mine", ARRAYS, _npz(y=_with(LABELS_60, 4, float("nan")))),
        "mine.npz: y holds 1 missing or non-finite label(s), first at row(s) 4",
    ),
    "npz_fractional_label": (
        _dataset("mine", ARRAYS, _npz(y=_with(LABELS_60, 9, 1.5))),
        "mine.npz: y holds 1 fractional label(s), e.g. 1.5 at row 9",
    ),
    "npz_text_labels": (
        _dataset("mine", ARRAYS, _npz(y=np.array(["cat", "dog", "cow"] * 20))),
        "mine.npz: y has dtype <U3; labels are integer class indices",
    ),
    "npz_stray_label_makes_a_gap": (
        _dataset("mine", ARRAYS, _npz(y=_with(LABELS_60, 11, 99))),
        "the labels run up to 99 (in y) but 96 class(es) below that have no training sample",
    ),
    "npz_label_above_declared_classes": (
        _dataset("mine", {**ARRAYS, "num_classes": 3}, _npz(y=_with(LABELS_60, 5, 4))),
        "holds label 4 at row(s) ",
    ),
    "npz_noisy_label_above_declared_classes": (
        _dataset("mine", {**ARRAYS, "num_classes": 3}, _npz(noisy_y=_with(LABELS_60, 2, 7))),
        "noisy_y holds label 7 at row(s) 2, outside the 3 classes declared by the config's num_classes",
    ),
    "npz_class_names_disagree_with_num_classes": (
        _dataset("mine", {**ARRAYS, "num_classes": 4}, _npz(class_names=np.array(["a", "b", "c"]))),
        "3 class names but 4 classes declared by the config's num_classes",
    ),
    "npz_nan_inputs": (
        _dataset("mine", ARRAYS, _npz(x=_with(np.ones((60, 4)), (13, 2), float("nan")))),
        "mine.npz: x has 1 row(s) with NaN or infinite values, first at row(s) 13;",  # the file's row
    ),
    "npz_inf_test_inputs": (
        _dataset(
            "mine",
            ARRAYS,
            _npz(x_test=_with(np.ones((9, 4)), (3, 0), float("inf")), y_test=np.arange(9) % 3),
        ),
        "mine.npz: x_test has 1 row(s) with NaN or infinite values, first at row(s) 3;",
    ),
    "parquet_nan_input_named_by_the_files_row": (  # row 14 of the file is row 4 of the training split
        _dataset(
            "mine",
            {**ARRAYS, "path": "mine.parquet"},
            _parquet(
                x=[[1.0] * 4] * 14 + [[float("nan")] * 4] + [[1.0] * 4] * 45, split=["test"] * 10 + ["train"] * 50
            ),
        ),
        "mine.parquet: column 'x' has 1 row(s) with NaN or infinite values, first at row(s) 14;",
    ),
    "augment_of_images_on_vectors": (
        _dataset("mine", {**ARRAYS, "augment": {"flip": True}}, _npz()),
        "config key 'datasets.mine.augment': inputs of shape (4,) are not images",
    ),
    "npz_single_class": (
        _dataset("mine", ARRAYS, _npz(classes=1)),
        "mine.npz: every label is 0 (in y): a single class; a classification needs samples of at least two",
    ),
    "npz_test_inputs_without_labels": (
        _dataset("mine", ARRAYS, _npz(x_test=np.ones((9, 4)))),
        "mine.npz: give both x_test and y_test, or neither",
    ),
    "npz_test_lengths_differ": (
        _dataset("mine", ARRAYS, _npz(x_test=np.ones((9, 4)), y_test=np.arange(8) % 3)),
        "mine.npz: 9 test inputs but 8 test labels",
    ),
    "npz_noisy_labels_wrong_length": (
        _dataset("mine", ARRAYS, _npz(noisy_y=np.arange(59) % 3)),
        "mine.npz: noisy labels have 59 entries for 60 training samples",
    ),
    "npz_channels_last_images_undeclared": (
        _dataset("mine", ARRAYS, _npz(x=IMAGES_LAST)),
        "an ambiguous image layout; it looks channels-last (n, H, W, C): declare layout: channels_last",
    ),
    "npz_input_shape_is_not_a_transpose": (
        _dataset("mine", {**ARRAYS, "input_shape": [3, 8, 8]}, _npz(x=IMAGES_LAST)),
        "stores inputs of shape [8, 8, 3], not input_shape [3, 8, 8]; input_shape only reshapes flat rows",
    ),
    "npz_grayscale_images_undeclared": (
        _dataset("mine", ARRAYS, _npz(x=np.zeros((60, 8, 8), np.uint8))),
        "Declare layout: grayscale for one-channel images",
    ),
    "npz_flat_rows_wrong_input_shape": (
        _dataset("mine", {**ARRAYS, "input_shape": [1, 3, 3]}, _npz()),
        "x rows hold 4 values, which cannot take input_shape [1, 3, 3]",
    ),
    "npz_grayscale_layout_on_rgb_images": (
        _dataset("mine", {**ARRAYS, "layout": "grayscale"}, _npz(x=IMAGES_LAST)),
        "layout grayscale needs inputs (n, H, W)",
    ),
    "arrays_file_not_found": (_dataset("mine", ARRAYS), "file '"),
    "arrays_unknown_format": (
        _dataset("mine", {**ARRAYS, "path": "mine.csv"}, _raw("mine.csv", b"x,y\n1,0\n")),
        "unknown format '.csv'; use .npz or .parquet",
    ),
    "parquet_not_parquet": (
        _dataset("mine", {**ARRAYS, "path": "mine.parquet"}, _raw("mine.parquet", b"label,x\n0,1\n" * 40)),
        "mine.parquet: not a readable Parquet file",
    ),
    "parquet_no_label_column": (
        _dataset("mine", {**ARRAYS, "path": "mine.parquet"}, _parquet(label=None)),
        "mine.parquet: no 'label' column",
    ),
    "parquet_ragged_inputs": (
        _dataset(
            "mine",
            {**ARRAYS, "path": "mine.parquet"},
            _parquet(x=[[1.0, 2.0, 3.0, 4.0]] * 30 + [[1.0, 2.0, 3.0]] + [[1.0, 2.0, 3.0, 4.0]] * 29),
        ),
        "column 'x' rows differ in length (4 values in row 0, 3 in row 30)",
    ),
    "parquet_missing_label": (
        _dataset("mine", {**ARRAYS, "path": "mine.parquet"}, _parquet(label=[0, 1, None] * 20)),
        "column 'label' holds 20 missing or non-finite label(s), first at row(s) 2",
    ),
    "parquet_text_feature_column": (
        _dataset(
            "mine",
            {**ARRAYS, "path": "mine.parquet", "feature_columns": ["f1", "f2"]},
            _parquet(f1=np.ones(60), f2=["a"] * 60),
        ),
        "feature column 'f2' has type string; feature columns must be numeric",
    ),
    "parquet_unknown_split": (
        _dataset("mine", {**ARRAYS, "path": "mine.parquet"}, _parquet(split=["train"] * 50 + ["val"] * 10)),
        "split column has values ['val']; use train or test",
    ),
    "mnist_folder_missing": (
        _dataset("fm", {"loader": "fashion_mnist", "root": "no-such-dir"}),
        "train-images-idx3-ubyte not found",
    ),
    "cifar_folder_missing": (
        _dataset("c10", {"loader": "cifar10", "root": "no-such-dir"}),
        "cifar10: missing ['data_batch_1'",
    ),
    "libsvm_file_missing": (
        _dataset("rs", {"loader": "tabular", "source": "libsvm", "path": "none.svm"}),
        "LIBSVM file",
    ),
    "libsvm_not_libsvm": (
        _dataset(
            "rs", {"loader": "tabular", "source": "libsvm", "path": "bad.svm"}, _raw("bad.svm", b"no labels here\n")
        ),
        "bad.svm: not a LIBSVM file",
    ),
    "libsvm_single_class": (
        _dataset(
            "rs",
            {"loader": "tabular", "source": "libsvm", "path": "one.svm"},
            _raw("one.svm", b"".join(b"1 1:%d 2:0.5\n" % i for i in range(80))),
        ),
        "one.svm: every label is 1; a classification needs samples of at least two classes",
    ),
    "image_folder_missing": (
        _dataset("imgs", {"loader": "image_folder", "root": "no-such-dir"}),
        "no-such-dir/train not found",
    ),
    "file_list_missing": (
        _dataset(
            "web",
            {
                "loader": "file_list",
                "root": ".",
                "train_list": "train.txt",
                "test_list": "val.txt",
                "clean_labels": True,
            },
        ),
        "train.txt: train_list file not found",
    ),
}


def _write_cifar_without_human_labels(workdir):
    """The official CIFAR-10 file names (contents never read: the label file is missing first)."""
    folder = workdir / "cifar" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name in [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch", "batches.meta"]:
        (folder / name).write_bytes(b"")


DATA_CASES["cifar10n_human_labels_missing"] = (
    _dataset(
        "c10n",
        {"loader": "cifar10n", "root": "cifar", "human_labels": "nope.pt"},
        _write_cifar_without_human_labels,
    ),
    "cifar10n: human label file",
)


def _only_dataset(name: str, entry: dict, write, noise: dict):
    """Sweep only the dataset ``name`` under the one noise ``noise`` (a human label set that only
    such a dataset can have)."""

    def change(workdir, config):
        _dataset(name, entry, write)(workdir, config)
        config["noise"]["given"] = noise
        config["sweep"].update(datasets=[name], noise=["given"])

    return change


DATA_CASES["human_labels_given_without_noisy_y"] = (
    _only_dataset("mine", ARRAYS, _npz(), {"kind": "human", "labels": "given"}),
    (
        "config key 'noise.given.labels': dataset 'mine' (",
        "mine.npz) holds no label set 'given' (it holds: none); an arrays file gives it as the array noisy_y (.npz)",
    ),
)


def _file_list(train: str, keys: str | None = None):
    """A file-list dataset ``web`` whose training list is ``train`` (and key list ``keys``); the
    images need not exist: the lists are read before any job, the images by the jobs."""

    def write(workdir):
        folder = workdir / "web"
        folder.mkdir()
        (folder / "train.txt").write_text(train)
        (folder / "val.txt").write_text("v0.png 0\nv1.png 1\n")
        if keys is not None:
            (folder / "keys.txt").write_text(keys)

    entry = {"loader": "file_list", "root": "web", "train_list": "train.txt", "test_list": "val.txt"}
    if keys is not None:
        entry["train_keys"] = "keys.txt"
    return _dataset("web", {**entry, "clean_labels": True, "cache_dir": None}, write)


DATA_CASES.update(
    {
        "file_list_image_listed_twice_with_two_labels": (
            _file_list("a.png 0\nb.png 1\n# a comment\na.png 1\n"),
            "train.txt:4: 'a.png' is listed again (first at line 1 with label 0, here 1); list each image once",
        ),
        "file_list_image_listed_twice_as_another_spelling": (
            _file_list("img/a.png 0\nb.png 1\nimg/./a.png 0\n"),
            "train.txt:3: 'img/./a.png' is listed again (first at line 1)",
        ),
        "file_list_path_leaving_the_image_folder": (
            _file_list("a.png 0\n../outside.png 1\n"),
            "train.txt:2: '../outside.png' leaves ",
        ),
        "file_list_absolute_path": (
            _file_list("a.png 0\n/etc/outside.png 1\n"),
            "train.txt:2: '/etc/outside.png' is an absolute path; paths in a list are relative to ",
        ),
        "file_list_key_listed_twice": (
            _file_list("a.png 0\nb.png 1\n", keys="a.png\nb.png\na.png\n"),
            "keys.txt:3: 'a.png' is listed again (first at line 1); list each key once",
        ),
    }
)


def _mnist(breakage):
    """Fashion-MNIST's four IDX files (tests/test_mnist.py's writer) in ``fm``, broken by ``breakage(folder)``."""

    def write(workdir):
        from test_mnist import write_dataset

        write_dataset(workdir / "fm")
        breakage(workdir / "fm")

    return _dataset("fm", {"loader": "fashion_mnist", "root": "fm"}, write)


def _truncate_idx(folder):
    import gzip

    path = folder / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes())[:-100]))


def _fewer_labels(folder):
    from test_mnist import write_idx

    write_idx(folder / "train-labels-idx1-ubyte.gz", np.arange(11) % 10, True)


def _cifar(breakage, loader="cifar10"):
    """CIFAR-10's python batches (tests/test_cifar.py's writer: 5 × 6 training images) in ``cifar``,
    broken by ``breakage(folder, training labels)``."""

    def write(workdir):
        from test_cifar import make_cifar10

        labels = make_cifar10(workdir / "cifar")
        breakage(workdir, labels)

    entry = {"loader": loader, "root": "cifar"}
    if loader == "cifar10n":
        entry["human_labels"] = "human.pt"
    return _dataset("c10", entry, write)


def _batch_of_another_shape(workdir, _labels):
    from test_cifar import write_batch

    write_batch(workdir / "cifar" / "cifar-10-batches-py" / "data_batch_2", np.zeros((6, 3000), np.uint8), [0] * 6)


def _human_labels_of_another_length(workdir, labels):
    from test_cifar import write_human_file

    names = ("clean_label", "aggre_label", "worse_label", "random_label1", "random_label2", "random_label3")
    write_human_file(workdir / "human.pt", dict.fromkeys(names, labels[:-1]))


DATA_CASES.update(
    {
        "idx_file_truncated": (
            _mnist(_truncate_idx),
            "train-images-idx3-ubyte.gz: holds 9308 data bytes, the header promises 9408 for shape (12, 28, 28) "
            "(truncated or corrupt)",
        ),
        "idx_label_count_differs": (
            _mnist(_fewer_labels),
            "train-images-idx3-ubyte.gz holds images of shape (12, 28, 28), which do not match the labels of shape "
            "(11,) in ",
        ),
        "cifar_batch_of_another_shape": (
            _cifar(_batch_of_another_shape),
            "data_batch_2: data of shape (6, 3000) does not hold 6 32×32 RGB images",
        ),
        "cifar_n_label_file_of_another_length": (
            _cifar(_human_labels_of_another_length, loader="cifar10n"),
            "human.pt: clean_label has 29 labels but the training split has 30",
        ),
    }
)

REFUSED_BEFORE_ANY_JOB = {**CONFIG_CASES, **_config_check_on_a_cpu_machine(), **DATA_CASES}


@pytest.fixture(scope="module")
def refused_outcomes(finished_run, tmp_path_factory):
    """Every refused-before-any-job case run in its own copy of the finished run, two Snakemake
    processes at a time (each mostly waits on one core): ``case → (output, return code, changes)``."""
    from concurrent.futures import ThreadPoolExecutor

    source, config = finished_run
    root = tmp_path_factory.mktemp("refused")

    def attempt(case):
        workdir = root / case
        shutil.copytree(source, workdir, symlinks=True)
        changed = copy.deepcopy(config)
        change, _ = REFUSED_BEFORE_ANY_JOB[case]
        change(workdir, changed)
        before = snapshot(workdir)
        result = run_snakemake(workdir, changed, "--cores", "1", check=False, config_name="bad.yaml")
        after = snapshot(workdir)
        differences = sorted(path for path in before.keys() | after.keys() if before.get(path) != after.get(path))
        shutil.rmtree(workdir / "results")
        return case, (result.stdout + result.stderr, result.returncode, differences)

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(attempt, sorted(REFUSED_BEFORE_ANY_JOB)))


@pytest.mark.parametrize("case", sorted(REFUSED_BEFORE_ANY_JOB))
def test_bad_input_is_refused_before_any_job_and_nothing_is_lost(case, refused_outcomes):
    text, returncode, differences = refused_outcomes[case]
    _, expected = REFUSED_BEFORE_ANY_JOB[case]
    assert returncode != 0, text[-3000:]
    for part in expected if isinstance(expected, tuple) else (expected,):
        assert part in text, text[-4000:]
    assert "allow_pickle" not in text  # never an invitation to unpickle a data file
    assert not differences, f"changed or removed: {differences}"


# --- what only a job can find: the job fails naming the culprit, and no finished file is lost -----
#
# Everything the config and the data files can be checked for is checked before any job (above).
# What is left needs the job's work itself: an image of a file list that does not decode (the images
# are decoded by the jobs, not before each run). The job fails naming the file, and since it has no
# finished outputs of its own, every file under results/ stays as it was.


def _png_list(workdir, count=70, corrupt=13):
    """A file-list dataset of ``count`` 8×8 PNGs in three classes, image ``corrupt`` unreadable."""
    from PIL import Image

    folder = workdir / "web"
    (folder / "img").mkdir(parents=True)
    lines = []
    for i in range(count + 6):
        path = folder / "img" / f"{i}.png"
        Image.new("RGB", (8, 8), (60 * (i % 3), 0, 0)).save(path)
        lines.append(f"img/{i}.png {i % 3}")
    (folder / "img" / f"{corrupt}.png").write_bytes(b"\x89PNG not really")
    (folder / "train.txt").write_text("\n".join(lines[:count]) + "\n")
    (folder / "val.txt").write_text("\n".join(lines[count:]) + "\n")


JOB_CASES = {
    "file_list_image_that_does_not_decode": (
        _dataset(
            "web",
            {
                "loader": "file_list",
                "root": "web",
                "train_list": "train.txt",
                "test_list": "val.txt",
                "clean_labels": True,
                "image_size": 8,
                "workers": 0,
                "cache_dir": None,
            },
            _png_list,
        ),
        "img/13.png: not a readable image",
    ),
}


@pytest.mark.parametrize("case", sorted(JOB_CASES))
def test_what_only_a_job_finds_is_named_and_no_finished_file_is_lost(case, run_copy):
    workdir, config = run_copy
    change, expected = JOB_CASES[case]
    change(workdir, config)
    before = snapshot(workdir)
    result = run_snakemake(workdir, config, "--cores", "1", check=False, config_name="bad.yaml")
    console = result.stdout + result.stderr
    assert result.returncode != 0 and expected in console, console[-4000:]
    after = snapshot(workdir)
    changed = sorted(path for path, stamp in before.items() if after.get(path) != stamp)
    assert not changed, f"finished files changed or removed: {changed}"
    # The quiet console still names the failed job and its log (Snakemake's error block) and shows
    # the log (--show-failed-logs in the default profile) beside the job's own ERROR record.
    failed = re.search(r"^Error in rule (\w+):\n(?:    .*\n)*?    log: (\S+) \(check log file", console, re.MULTILINE)
    assert failed, console[-4000:]
    assert expected in (workdir / failed.group(2)).read_text()
    assert console.count(expected) >= 2  # the job's ERROR record on stderr and the failed log shown


def test_missing_data_directory_names_the_path_and_keeps_other_datasets(run_copy):
    workdir, config = run_copy
    config["datasets"]["fm"] = {"loader": "fashion_mnist", "root": str(workdir / "no-such-dir"), "model": "mlp"}
    config["sweep"]["datasets"] = ["digits", "fm"]
    assert_fails_and_keeps_finished_outputs(workdir, config, "no-such-dir", config_name="bad.yaml", jobs_may_run=False)


# --- broken artifacts: changed since their job wrote them ---------------------------------------
#
# Every file a job writes is recorded (size, time, SHA-256: noisyprune.written). A run that would
# read one that changed since stops before any job, naming it and the command that recomputes it:
# no file at all changes. A file without a record (written before records existed) reaches the job
# that reads it, which names it; only the outputs of the jobs its change reruns are replaced.


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _not_parquet(path: Path) -> None:
    path.write_text("sample_id,noisy_label\n0,1\n")


def _rewrite(path: Path, change) -> None:
    table = pq.read_table(path)
    pq.write_table(change(table), path)


def _drop_column(name):
    return lambda path: _rewrite(path, lambda t: t.drop_columns([name]))


def _first_rows(count):
    return lambda path: _rewrite(path, lambda t: t.slice(0, count))


def _set_column(name, value):
    def change(table):
        index = table.schema.get_field_index(name)
        column = pa.array([value] * len(table), type=table.schema.field(name).type)
        return table.set_column(index, table.schema.field(name), column)

    return lambda path: _rewrite(path, change)


def _shift_ids(path: Path) -> None:
    import pyarrow.compute as pc

    _rewrite(path, lambda t: t.set_column(0, "sample_id", pc.add(t["sample_id"], 10**6)))


ARTIFACT_CASES = {
    "labels_truncated": (LABELS, _truncate, f"{LABELS}: not a readable Parquet file"),
    "labels_not_parquet": (LABELS, _not_parquet, f"{LABELS}: not a readable Parquet file"),
    "labels_out_of_range": (
        LABELS,
        _set_column("noisy_label", 99),
        f"{LABELS} (labels artifact): column 'noisy_label' holds labels outside [0, 10)",
    ),
    "labels_wrong_length": (LABELS, _first_rows(100), f"{LABELS}: does not match dataset 'digits' (1257 training"),
    "features_missing_column": (
        FEATURES,
        _drop_column("loss"),
        f"{FEATURES} (features artifact): missing column 'loss'",
    ),
    "features_wrong_length": (
        FEATURES,
        _first_rows(50),
        f"{FEATURES}: has 50 samples that do not match the 1257 samples of {LABELS}",
    ),
    "dynamics_truncated": (DYNAMICS, _truncate, f"{DYNAMICS}: not a readable Parquet file"),
    "subset_empty": (SUBSET, _first_rows(0), f"{SUBSET}: the subset is empty; nothing to train on"),
    "subset_foreign_ids": (SUBSET, _shift_ids, f"{SUBSET}: holds sample ids absent from {LABELS}"),
    "metrics_not_json": (METRICS, lambda p: p.write_text("{ truncated"), f"{METRICS}: not valid JSON"),
}


def _same_size_other_bytes(path: Path) -> None:
    """One digit changed: the size (and the JSON) stay valid, only the checksum can tell."""
    text = path.read_text()
    where = max(text.rfind(digit) for digit in "123456789")
    path.write_text(text[:where] + ("1" if text[where] != "1" else "2") + text[where + 1 :])


CHANGED_CASES = {
    **{case: (relative, breaker) for case, (relative, breaker, _) in ARTIFACT_CASES.items()},
    "metrics_same_size_other_bytes": (METRICS, _same_size_other_bytes),
}


@pytest.mark.parametrize("case", sorted(CHANGED_CASES))
def test_a_finished_file_changed_since_its_job_stops_the_run_before_any_job(case, run_copy):
    workdir, config = run_copy
    relative, breaker = CHANGED_CASES[case]
    size = (workdir / relative).stat().st_size
    breaker(workdir / relative)
    why = "same size, other bytes" if (workdir / relative).stat().st_size == size else "bytes, its job wrote"
    text = assert_fails_and_keeps_finished_outputs(workdir, config, f"  {relative} (", jobs_may_run=False)
    assert why in text and f"--forcerun {relative}`" in text, text[-3000:]


@pytest.mark.parametrize("case", sorted(ARTIFACT_CASES))
def test_a_broken_file_without_a_record_is_named_by_the_job_reading_it(case, run_copy):
    workdir, config = run_copy
    relative, breaker, expected = ARTIFACT_CASES[case]
    (workdir / ".snakemake" / "noisyprune" / "written" / f"{relative}.json").unlink()
    breaker(workdir / relative)
    assert_fails_and_keeps_finished_outputs(workdir, config, expected, broken=[relative])


# --- config files: read strictly, also in dry runs ------------------------------------------------


@pytest.mark.parametrize("dry_run", [True, False])
def test_a_key_written_twice_in_a_configfile_is_refused_naming_file_and_line(run_copy, dry_run):
    """Snakemake would keep the last value (lr 5.0) without a word."""
    import subprocess

    import yaml
    from conftest import snakemake_command

    workdir, config = run_copy
    lines = yaml.safe_dump(config, sort_keys=False).splitlines()
    start = lines.index("learners:")
    at = next(i for i in range(start, len(lines)) if lines[i].strip().startswith("lr:"))
    lines.insert(at + 1, lines[at].replace(lines[at].strip(), "lr: 5.0"))
    (workdir / "bad.yaml").write_text("\n".join(lines) + "\n")
    before = snapshot(workdir)
    extra = ["--dry-run"] if dry_run else []
    command = snakemake_command(workdir, workdir / "bad.yaml", *extra, "--cores", "1")
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    text = result.stdout + result.stderr
    assert result.returncode != 0, text[-3000:]
    assert f"bad.yaml:{at + 2}: key 'lr' is written twice in one mapping (first at line {at + 1})" in text, text[-3000:]
    assert snapshot(workdir) == before
