"""Bad input, end to end: each case breaks one thing in a copy of a finished tiny run and reruns
Snakemake. Every case must stop with an error naming the culprit, and every output that was already
complete and is not downstream of the broken input must survive untouched (same bytes, same mtime)."""

import copy
import shutil
from pathlib import Path

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
    ``jobs_may_run=False`` (a config refused at parse time) no file at all may change."""
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


# --- config values: refused before any job runs ------------------------------------------------

CONFIG_CASES = {
    "fraction_above_one": (
        lambda c: c["sweep"].update(fractions=[0.5, 1.5]),
        "config key 'sweep.fractions.1': 1.5 is greater than the maximum of 1",
    ),
    "fraction_zero": (
        lambda c: c["sweep"].update(fractions=[0.0]),
        "config key 'sweep.fractions.0': 0.0 is less than or equal to the minimum of 0",
    ),
    "unknown_pruner": (
        lambda c: c["methods"]["uniform"].update(pruner="magic"),
        "config key 'methods.uniform.pruner': 'magic' is not one of",
    ),
    "noise_rate_above_one": (
        lambda c: c["noise"]["sym40"].update(rate=1.2),
        "config key 'noise.sym40.rate': 1.2 is greater than the maximum of 1",
    ),
    "unknown_top_level_key": (lambda c: c.update(devise="cpu"), "unknown config key 'devise'"),
    "zero_epochs": (lambda c: c["warmups"]["ce"].update(epochs=0), "warmups.ce.epochs"),
    "unknown_device": (lambda c: c.update(device="tpu"), "'tpu' is not one of"),
    "undefined_learner_in_sweep": (
        lambda c: c["sweep"].update(learners=["ce", "sop"]),
        "config key 'sweep.learners.1': 'sop' is not defined in 'learners'",
    ),
    "undefined_method_in_sweep": (
        lambda c: c["sweep"].update(methods=["uniform", "el2m"]),
        "config key 'sweep.methods.1': 'el2m' is not defined in 'methods'",
    ),
    "human_noise_on_digits": (
        lambda c: (
            c["noise"].update(human={"kind": "human", "labels": "worst"}) or c["sweep"].update(noise=["sym40", "human"])
        ),
        "config key 'noise.human.labels': human label set 'worst' does not exist for dataset 'digits'",
    ),
    "asymmetric_pair_out_of_range": (
        lambda c: (
            c["noise"].update(asym={"kind": "asymmetric", "rate": 0.2, "pairs": [[0, 42]]})
            or c["sweep"].update(noise=["sym40", "asym"])
        ),
        "pair [0, 42] names a class outside [0, 10)",
    ),
    "zero_batch_size": (lambda c: c["learners"]["ce"].update(batch_size=0), "learners.ce.batch_size"),
    "unknown_architecture": (
        lambda c: c["models"]["mlp"].update(arch="transformer"),
        "config key 'models.mlp.arch': 'transformer' is not one of",
    ),
}


@pytest.mark.parametrize("case", sorted(CONFIG_CASES))
def test_bad_config_value_is_refused_and_nothing_is_lost(case, run_copy):
    workdir, config = run_copy
    change, expected = CONFIG_CASES[case]
    change(config)
    # Only the asymmetric pair is checked by its noise job (it needs the dataset's class count).
    assert_fails_and_keeps_finished_outputs(
        workdir, config, expected, config_name="bad.yaml", jobs_may_run=case == "asymmetric_pair_out_of_range"
    )


def test_missing_data_directory_names_the_path_and_keeps_other_datasets(run_copy):
    workdir, config = run_copy
    config["datasets"]["fm"] = {"loader": "fashion_mnist", "root": str(workdir / "no-such-dir"), "model": "mlp"}
    config["sweep"]["datasets"] = ["digits", "fm"]
    assert_fails_and_keeps_finished_outputs(workdir, config, "no-such-dir", config_name="bad.yaml")


# --- broken artifacts: the job reading them fails, naming the file ------------------------------


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


@pytest.mark.parametrize("case", sorted(ARTIFACT_CASES))
def test_broken_artifact_is_named_and_nothing_else_is_lost(case, run_copy):
    workdir, config = run_copy
    relative, breaker, expected = ARTIFACT_CASES[case]
    breaker(workdir / relative)
    assert_fails_and_keeps_finished_outputs(workdir, config, expected, broken=[relative])
