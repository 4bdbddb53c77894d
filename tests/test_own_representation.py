"""Bring your own representation and take the kept subset home: a precomputed warm-up in the DAG,
and the kept lists exported in the dataset's own terms (read back by the file_list loader)."""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from conftest import run_snakemake, scheduled_jobs
from PIL import Image

from noisyprune.data import images as image_data
from noisyprune.data.registry import load_dataset
from noisyprune.data.representation import warmup_rows
from noisyprune.errors import ArtifactError

CLASSES = 3
TRAIN_PER_CLASS = 16


def _write_images(root):
    """A file list of solid-colour images whose shade encodes the sample (every image distinct)."""
    rng = np.random.default_rng(0)
    train, test = [], []
    for i in range(CLASSES * TRAIN_PER_CLASS + 9):
        label = i % CLASSES
        colour = [40, 40, 40]
        colour[label] = 120 + i  # class in the channel, sample in the shade
        path = root / "images" / f"img {i:02d}.png"  # a space: names are paths, not tokens
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((8, 8, 3), colour, dtype=np.uint8)).save(path)
        (train if i < CLASSES * TRAIN_PER_CLASS else test).append(f"images/img {i:02d}.png {label}")
    rng.shuffle(train)
    (root / "train.txt").write_text("# the training list\n" + "\n".join(train) + "\n")
    (root / "test.txt").write_text("\n".join(test) + "\n")


@pytest.fixture(scope="module")
def own_run(tmp_path_factory):
    """The tiny workflow on a file-list dataset whose warm-up is a precomputed representation
    (rows by path, in an order of their own), run to completion with every export."""
    from conftest import TINY_CONFIG, file_list_entry, load_yaml

    tmp = tmp_path_factory.mktemp("own")
    root = tmp / "data"
    _write_images(root)
    entry = file_list_entry(root, workers=0, clean_labels=True)
    data = load_dataset("own", entry)
    names = data.sample_names()
    rng = np.random.default_rng(1)
    # an embedding that knows the class, and confident but imperfect class probabilities
    features = np.eye(CLASSES)[data.train_y] * 3 + rng.normal(0, 0.3, (len(names), CLASSES))
    logits = np.eye(CLASSES)[data.train_y] * 2 + rng.normal(0, 1.0, (len(names), CLASSES))
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    order = rng.permutation(len(names))
    source = tmp / "clip.npz"
    np.savez(source, paths=names[order], features=features[order], probabilities=probabilities[order])

    config = load_yaml(TINY_CONFIG)
    config["datasets"] = {"own": entry}
    config["warmups"] = {"clip": {"source": "precomputed", "path": str(source)}}
    config["learners"] = {"ce": {**config["learners"]["ce"], "batch_size": 16}}
    config["sweep"].update(datasets=["own"], warmups=["clip"], methods=["uniform", "small_loss", "prune4rel"])
    config["sweep"]["learners"] = ["ce"]
    workdir = tmp / "run"
    run_snakemake(workdir, config, "--cores", "2", "all", "export")
    return workdir, config, data, source, {"features": features, "probabilities": probabilities}


def test_a_precomputed_warmup_trains_nothing_and_feeds_every_downstream_stage(own_run):
    workdir, _, _, source, arrays = own_run
    warmup = workdir / "results/own/sym40/seed0/warmup/clip"
    assert not (warmup / "model.pt").exists() and not (warmup / "dynamics.parquet").exists()
    features = pq.read_table(warmup / "features.parquet").to_pandas()
    embedding = np.stack(features["embedding"].to_numpy())
    # row i of features.parquet is sample i, whatever the file's row order
    np.testing.assert_allclose(embedding, arrays["features"][features["sample_id"]], rtol=1e-6)
    probs = np.stack(features["probs"].to_numpy())
    np.testing.assert_allclose(probs, arrays["probabilities"][features["sample_id"]], rtol=1e-5, atol=1e-7)
    assert features["max_logit"].isna().all()  # probabilities only: the raw logits are unknown
    runs = pd.read_parquet(workdir / "results/tables/runs.parquet")
    assert sorted(runs["method"]) == ["full", "prune4rel", "small_loss", "uniform"]
    assert runs["test_acc_last"].between(0, 1).all()
    sha256 = hashlib.sha256(source.read_bytes()).hexdigest()
    assert (runs["warmup_source_sha256"] == sha256).all() and (runs["warmup_source"] == str(source)).all()
    detection = pd.read_csv(workdir / "results/tables/detection.csv")
    assert "loss" in set(detection["score"]) and "forgetting" not in set(detection["score"])


def _kept(path):
    lines = [line for line in path.read_text().splitlines() if not line.startswith("#")]
    return [line.rsplit(maxsplit=1) for line in lines]


def test_the_exported_list_reads_back_as_the_same_samples(own_run):
    workdir, config, data, _, _ = own_run
    select = workdir / "results/own/sym40/seed0/select/clip/prune4rel/f0.5"
    kept_file = select / "kept.txt"
    header = [line for line in kept_file.read_text().splitlines() if line.startswith("#")]
    assert "method prune4rel" in header[0] and "fraction 0.5" in header[0]
    assert any("names: path relative to" in line for line in header)
    subset = pd.read_parquet(select / "subset.parquet").sort_values("rank")
    labels = pd.read_parquet(workdir / "results/own/sym40/seed0/labels.parquet").set_index("sample_id")
    entry = config["datasets"]["own"]
    read_back = image_data.load_file_list(
        root=entry["root"], train_list=str(kept_file), test_list="test.txt", image_size=8, workers=0, num_classes=3
    )
    ids = subset["sample_id"].to_numpy()
    assert len(read_back.train_y) == len(ids)
    # the same images, in rank order, with the labels the selection saw
    np.testing.assert_array_equal(read_back.sample_names(), data.sample_names()[ids])
    np.testing.assert_array_equal(read_back.train_y, labels.loc[ids, "noisy_label"].to_numpy())
    pixels = read_back.train_x * np.reshape(read_back.pixel_std, (1, -1, 1, 1))
    pixels = pixels + np.reshape(read_back.pixel_mean, (1, -1, 1, 1))
    original = data.train_x[ids] * np.reshape(data.pixel_std, (1, -1, 1, 1)) + np.reshape(
        data.pixel_mean, (1, -1, 1, 1)
    )
    np.testing.assert_allclose(pixels, original, atol=1e-5)

    relabelled = _kept(workdir / "results/own/sym40/seed0/train/clip/prune4rel/f0.5/ce/kept_relabelled.txt")
    relabels = pd.read_parquet(workdir / "results/own/sym40/seed0/train/clip/prune4rel/f0.5/ce/relabels.parquet")
    relabel_of = relabels.set_index("sample_id")["relabel"]
    assert [name for name, _ in relabelled] == data.sample_names()[ids].tolist()
    assert [int(label) for _, label in relabelled] == relabel_of.loc[ids].tolist()


def test_a_changed_representation_reruns_its_dependants_even_with_an_older_mtime(own_run, tmp_path):
    import shutil

    workdir, config, _, source, _ = own_run
    copy = tmp_path / "run"
    shutil.copytree(workdir, copy, symlinks=True)
    with np.load(source) as archive:
        changed = dict(archive)
    changed["features"] = changed["features"][:, ::-1].copy()
    np.savez(source.with_name("changed.npz"), **changed)
    moved = source.with_name("changed.npz")
    stat = source.stat()
    os.utime(moved, ns=(stat.st_atime_ns, stat.st_mtime_ns - 10**10))  # older than every output
    config = {**config, "warmups": {"clip": {"source": "precomputed", "path": str(moved)}}}
    jobs = scheduled_jobs(run_snakemake(copy, config, "-n").stdout)
    rules = [rule for rule, _ in jobs]
    assert rules.count("precomputed_warmup") == 1 and "warmup" not in rules and "extract" not in rules
    selections = sorted(w["method"] for rule, w in jobs if rule == "select")
    assert selections == ["prune4rel", "small_loss"]  # uniform reads no features: kept


def test_rows_are_aligned_by_sample_ids_and_a_mismatch_names_the_ids():
    ids = np.array([2, 0, 1])
    rows = warmup_rows({"sample_ids": ids}, np.arange(3), "f.npz", dataset=None)
    np.testing.assert_array_equal(ids[rows], [0, 1, 2])
    with pytest.raises(ArtifactError, match=r"1 missing, e\.g\. \[3\]"):
        warmup_rows({"sample_ids": ids}, np.arange(4), "f.npz", dataset=None)
    with pytest.raises(ArtifactError, match=r"1 unknown, e\.g\. \[2\]"):
        warmup_rows({"sample_ids": ids}, np.arange(2), "f.npz", dataset=None)
    with pytest.raises(ArtifactError, match="appears 2 times"):
        warmup_rows({"sample_ids": np.array([0, 0, 1])}, np.arange(3), "f.npz", dataset=None)
    with pytest.raises(ArtifactError, match="no sample_ids, rows and paths"):
        warmup_rows({"features": np.zeros((3, 2))}, np.arange(3), "f.npz", dataset=None)


def test_config_refuses_what_a_precomputed_warmup_cannot_feed(tiny_config, tmp_path):

    from noisyprune.config import validate_config
    from noisyprune.errors import ConfigError

    tiny_config["warmups"] = {"ce": {"source": "precomputed", "path": "x.npz"}}
    with pytest.raises(ConfigError, match=r"methods.forgetting.*training record"):
        validate_config(tiny_config)
    tiny_config["sweep"]["methods"] = ["uniform"]
    with pytest.raises(ConfigError, match=r"learners.elr.init.*use init: scratch"):
        validate_config(tiny_config)
    tiny_config["sweep"]["learners"] = ["ce"]
    validate_config(tiny_config)
    tiny_config["warmups"]["ce"]["epochs"] = 3
    with pytest.raises(ConfigError, match=r"warmups\.ce"):
        validate_config(tiny_config)


def test_samples_are_named_in_the_users_terms(tmp_path):
    """Rows of an arrays file (through its split and max_train), paths of an image folder."""
    from noisyprune.data.arrays import load_arrays
    from noisyprune.data.registry import limit_samples

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 3)).astype(np.float32), np.arange(40) % 2
    x[:, 0] = np.arange(40)  # the row number, carried through standardisation's order
    np.savez(tmp_path / "d.npz", x=x, y=y)
    data = load_arrays(path=str(tmp_path / "d.npz"), test_fraction=0.25)
    rows = data.sample_names()
    assert data.train_names_kind == f"row of {tmp_path / 'd.npz'}" and len(rows) == 30
    recovered = data.train_x[:, 0] * x[:, 0][rows].std() / data.train_x[:, 0].std()
    np.testing.assert_allclose(recovered - recovered.mean(), rows - rows.mean(), atol=1e-4)
    limited = limit_samples(data, 10, None)
    assert set(limited.sample_names()) <= set(rows) and len(limited.sample_names()) == 10
    np.testing.assert_array_equal(limited.train_y, y[limited.sample_names()])

    root = tmp_path / "folder"
    for split in ("train", "val"):
        for name in ("ant", "bee"):
            path = root / split / name / "a.png"
            path.parent.mkdir(parents=True)
            Image.new("RGB", (8, 8), (9, 9, 9)).save(path)
    folder = image_data.load_image_folder(root=str(root), train_dir="train", test_dir="val", image_size=8, workers=0)
    assert folder.sample_names().tolist() == ["ant/a.png", "bee/a.png"]


@pytest.mark.parametrize(
    ("arrays", "expected"),
    [
        ({"features": np.ones((3, 2)), "probabilities": np.ones((4, 2)) / 2}, "not aligned.*features has 3"),
        ({"features": np.ones(3)}, "'features' must be 2-D"),
        ({"features": np.array([[1.0, np.nan]])}, "NaN or infinite"),
        ({"other": np.ones(2)}, "none of the arrays"),
    ],
)
def test_bad_representation_files_name_the_array(tmp_path, arrays, expected):
    from noisyprune.data.representation import read_representation

    np.savez(tmp_path / "r.npz", **arrays)
    with pytest.raises(ArtifactError, match=expected):
        read_representation(tmp_path / "r.npz")
    (tmp_path / "r.parquet").write_bytes(b"not parquet")
    with pytest.raises(ArtifactError, match="not a readable Parquet file"):
        read_representation(tmp_path / "r.parquet")


def test_a_broken_representation_file_is_refused_before_any_job(tiny_config, tmp_path):
    tiny_config["warmups"] = {"own": {"source": "precomputed", "path": str(tmp_path / "r.npz")}}
    tiny_config["sweep"].update(warmups=["own"], methods=["uniform", "small_loss"], learners=["ce"])
    np.savez(tmp_path / "r.npz", features=np.ones((5, 2)), sample_ids=np.arange(5))
    result = run_snakemake(tmp_path / "run", tiny_config, "--cores", "1", check=False)
    assert result.returncode != 0
    assert "warmups.own.path" in result.stderr and "no probabilities or logits" in result.stderr
    assert not (tmp_path / "run" / "results").exists()  # not even the noise job ran


def test_a_precomputed_warmup_named_like_a_default_one_says_where_the_keys_come_from(tiny_config, tmp_path):
    """The user's file is merged over config/config.yaml, whose warm-up ``ce`` trains."""
    tiny_config["warmups"] = {"ce": {"source": "precomputed", "path": str(tmp_path / "r.npz")}}
    result = run_snakemake(tmp_path / "run", tiny_config, "-n", check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "default config's warm-up of the same name" in output and "another name" in output


def test_an_arrays_dataset_exports_the_rows_of_its_file(tiny_config, tmp_path):
    """Rows of the user's .npz through its stratified split: a kept line names the file row whose
    clean label is the sample's, and the precomputed file is matched by sample_ids."""
    rng = np.random.default_rng(3)
    y = np.arange(80) % 4
    x = (np.eye(4, 6)[y] * 2 + rng.normal(0, 0.5, (80, 6))).astype(np.float32)
    np.savez(tmp_path / "mine.npz", x=x, y=y)
    entry = {"loader": "arrays", "path": str(tmp_path / "mine.npz"), "test_fraction": 0.25, "model": "mlp"}
    data = load_dataset("mine", entry)
    ids = rng.permutation(data.num_train)
    logits = rng.normal(size=(data.num_train, 4))
    np.savez(tmp_path / "rep.npz", sample_ids=ids, features=rng.normal(size=(data.num_train, 5)), logits=logits[ids])
    tiny_config["datasets"] = {"mine": entry}
    tiny_config["warmups"] = {"mine_model": {"source": "precomputed", "path": str(tmp_path / "rep.npz")}}
    tiny_config["learners"] = {"ce": {**tiny_config["learners"]["ce"], "batch_size": 16}}
    tiny_config["sweep"].update(
        datasets=["mine"], warmups=["mine_model"], methods=["small_loss"], learners=["ce"], fractions=[0.5]
    )
    workdir = tmp_path / "run"
    run_snakemake(workdir, tiny_config, "--cores", "2", "export")
    run = workdir / "results/mine/sym40/seed0"
    features = pd.read_parquet(run / "warmup/mine_model/features.parquet")
    # sample i's row of the file is where sample_ids == i: its logits' arg-max is the prediction
    np.testing.assert_array_equal(features["prediction"], logits.argmax(axis=1))
    assert features["max_logit"].notna().all()  # logits given: every score is known
    kept = _kept(run / "select/mine_model/small_loss/f0.5/kept.txt")
    header = (run / "select/mine_model/small_loss/f0.5/kept.txt").read_text().splitlines()[2]
    assert header == f"# names: row of {tmp_path / 'mine.npz'}"
    labels = pd.read_parquet(run / "labels.parquet").set_index("sample_id")
    subset = pd.read_parquet(run / "select/mine_model/small_loss/f0.5/subset.parquet").sort_values("rank")
    rows = np.array([int(name) for name, _ in kept])
    assert len(rows) == 30 and len(set(rows)) == 30
    np.testing.assert_array_equal(y[rows], labels.loc[subset["sample_id"], "clean_label"])
    assert [int(label) for _, label in kept] == labels.loc[subset["sample_id"], "noisy_label"].tolist()
    np.testing.assert_array_equal(rows, data.sample_names()[subset["sample_id"]])


def _no_test_split(tmp_path, n=80, classes=4, seed=3):
    """Own data without a test split (the loader holds out 25% at random) and a representation of
    every row of the user's file, in an order of its own, named by ``rows``."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    x = (np.eye(classes, 6)[y] * 2 + rng.normal(0, 0.5, (n, 6))).astype(np.float32)
    np.savez(tmp_path / "mine.npz", x=x, y=y)
    logits = np.eye(classes)[y] * 2 + rng.normal(0, 1.0, (n, classes))  # row r: the model's scores of row r
    order = rng.permutation(n)
    arrays = {"rows": order, "features": rng.normal(size=(n, 5))[order], "logits": logits[order]}
    entry = {"loader": "arrays", "path": str(tmp_path / "mine.npz"), "test_fraction": 0.25, "model": "mlp"}
    return entry, arrays, logits


def _names_of(data):
    """``data``, loaded when warmup_rows asks for it."""
    return lambda: data


def test_rows_of_the_users_file_align_a_warmup_whatever_the_split_held_out(tmp_path):
    from noisyprune.data.representation import warmup_rows

    entry, arrays, logits = _no_test_split(tmp_path)
    data = load_dataset("mine", entry)
    names = _names_of(data)
    rows = warmup_rows(arrays, np.arange(data.num_train), "rep.npz", names)
    np.testing.assert_array_equal(arrays["rows"][rows], data.sample_names())  # sample i ← its file row
    np.testing.assert_array_equal(arrays["logits"][rows], logits[data.sample_names()])
    training_row = int(data.sample_names()[0])
    partial = {key: value[arrays["rows"] != training_row] for key, value in arrays.items()}
    no_row = (
        rf"rep\.npz: 1 of the 60 training samples of dataset 'mine' have no row \(row of .*mine\.npz\): {training_row}$"
    )
    with pytest.raises(ArtifactError, match=no_row):
        warmup_rows(partial, np.arange(data.num_train), "rep.npz", names)
    twice = {key: np.concatenate([value, value[:1]]) for key, value in arrays.items()}
    with pytest.raises(ArtifactError, match=rf"row {arrays['rows'][0]} appears 2 times"):
        warmup_rows(twice, np.arange(data.num_train), "rep.npz", names)
    digits = load_dataset("digits", {"loader": "digits"})
    with pytest.raises(ArtifactError, match="names its samples by index in the training split; give sample_ids"):
        warmup_rows(arrays, np.arange(digits.num_train), "rep.npz", _names_of(digits))


def test_sample_ids_counted_over_the_whole_file_are_refused_with_the_way_out(tmp_path):
    from noisyprune.data.representation import warmup_rows

    entry, arrays, _ = _no_test_split(tmp_path)
    data = load_dataset("mine", entry)
    by_ids = {"sample_ids": arrays["rows"], "features": arrays["features"], "logits": arrays["logits"]}
    names = _names_of(data)
    with pytest.raises(
        ArtifactError,
        match=r"20 unknown, e\.g\. \[60, 61, 62\]\. .*held out a random test_fraction\. Give an array `rows`",
    ):
        warmup_rows(by_ids, np.arange(data.num_train), "rep.npz", names)


def _no_test_split_config(tiny_config, tmp_path, entry):
    tiny_config["datasets"] = {"mine": entry}
    tiny_config["warmups"] = {"mine_model": {"source": "precomputed", "path": str(tmp_path / "rep.npz")}}
    tiny_config["learners"] = {"ce": {**tiny_config["learners"]["ce"], "batch_size": 16}}
    tiny_config["sweep"].update(
        datasets=["mine"], warmups=["mine_model"], methods=["small_loss"], learners=["ce"], fractions=[0.5]
    )
    return tiny_config


def test_own_data_without_a_test_split_takes_a_warmup_by_the_rows_of_its_file(tiny_config, tmp_path):
    """Through the DAG: the user's file has no test split, the warm-up file covers every row of it
    (named by rows, shuffled); the held-out rows are unused and each sample gets its own row's scores."""
    entry, arrays, logits = _no_test_split(tmp_path)
    np.savez(tmp_path / "rep.npz", **arrays)
    config = _no_test_split_config(tiny_config, tmp_path, entry)
    workdir = tmp_path / "run"
    run_snakemake(workdir, config, "--cores", "2", "export")
    run = workdir / "results/mine/sym40/seed0"
    features = pd.read_parquet(run / "warmup/mine_model/features.parquet").sort_values("sample_id")
    training_rows = load_dataset("mine", entry).sample_names()
    np.testing.assert_array_equal(features["prediction"], logits[training_rows].argmax(axis=1))
    kept = _kept(run / "select/mine_model/small_loss/f0.5/kept.txt")
    assert {int(name) for name, _ in kept} <= set(training_rows.tolist()) and len(kept) == 30


def test_a_warmup_missing_training_rows_is_refused_before_any_job(tiny_config, tmp_path):
    entry, arrays, _ = _no_test_split(tmp_path)
    training_rows = load_dataset("mine", entry).sample_names()
    missing = np.sort(training_rows[:3])
    keep = ~np.isin(arrays["rows"], missing)
    np.savez(tmp_path / "rep.npz", **{key: value[keep] for key, value in arrays.items()})
    config = _no_test_split_config(tiny_config, tmp_path, entry)
    result = run_snakemake(tmp_path / "run", config, "--cores", "1", check=False)
    assert result.returncode != 0
    assert not (tmp_path / "run" / "results").exists()  # found by the pre-run check: not even the noise job ran
    message = f"config key 'warmups.mine_model.path': {tmp_path / 'rep.npz'} (for dataset 'mine'): 3 of the 60"
    assert message in result.stderr
    assert f"have no row (row of {tmp_path / 'mine.npz'}): " in result.stderr
    assert all(str(row) in result.stderr.split("have no row")[1][:200] for row in missing)


def test_the_pre_run_check_refuses_sample_ids_counted_over_a_file_without_a_test_split(tiny_config, tmp_path):
    from noisyprune.data.preflight import check_swept_datasets
    from noisyprune.errors import ConfigError

    entry, arrays, _ = _no_test_split(tmp_path)
    np.savez(tmp_path / "rep.npz", sample_ids=arrays["rows"], features=arrays["features"], logits=arrays["logits"])
    config = _no_test_split_config(tiny_config, tmp_path, entry)
    with pytest.raises(ConfigError, match=r"warmups\.mine_model\.path': .*rep\.npz \(for dataset 'mine'\): .*Give an"):
        check_swept_datasets(config, tmp_path / "cache")
    np.savez(tmp_path / "rep.npz", **arrays)  # the same rows named by rows: passes, and is remembered
    check_swept_datasets(config, tmp_path / "cache")
    assert "warmups.mine_model@datasets.mine" in (tmp_path / "cache" / "checked_data.json").read_text()


def test_the_pre_run_check_loads_a_dataset_once_for_its_facts_and_a_warmups_rows(tiny_config, tmp_path, monkeypatch):
    import noisyprune.data.registry as registry
    from noisyprune.data.preflight import check_swept_datasets

    entry, arrays, _ = _no_test_split(tmp_path)
    np.savez(tmp_path / "rep.npz", **arrays)  # rows of the user's file: matched on the loaded dataset
    config = _no_test_split_config(tiny_config, tmp_path, entry)
    loads = []
    real_load = registry.load_dataset
    monkeypatch.setattr(registry, "load_dataset", lambda name, e: loads.append(name) or real_load(name, e))
    check_swept_datasets(config, tmp_path / "cache")
    assert loads == ["mine"]
    check_swept_datasets(config, tmp_path / "cache")  # both checks remembered: nothing loaded again
    assert loads == ["mine"]
