"""Parquet contracts: round trips, deterministic bytes, and errors that name the file and column."""

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from noisyprune.artifacts import (
    FEATURES,
    LABELS,
    SUBSET,
    atomic_output,
    read_json,
    read_metadata,
    read_table,
    write_json,
    write_table,
)
from noisyprune.errors import ArtifactError

LABEL_META = {"dataset": "d", "noise": "n", "num_classes": 3, "noise_rate": 0.25, "transition_matrix": [[1]]}


def label_columns(n=8):
    clean = np.arange(n) % 3
    noisy = clean.copy()
    noisy[:2] = (noisy[:2] + 1) % 3
    return {
        "sample_id": np.arange(n),
        "clean_label": clean,
        "noisy_label": noisy,
        "is_noisy": noisy != clean,
        "is_probe": np.zeros(n, dtype=bool),
    }


def feature_columns(n=6, classes=3, dim=4):
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(classes), size=n)
    return {
        "sample_id": np.arange(n),
        "noisy_label": np.arange(n) % classes,
        "probs": probs,
        "embedding": rng.normal(size=(n, dim)),
        "loss": rng.random(n),
        "confidence": probs.max(1),
        "margin": rng.random(n),
        "max_logit": rng.random(n),
        "entropy": rng.random(n),
        "prediction": probs.argmax(1),
    }


def test_labels_round_trip_with_metadata(tmp_path):
    path = tmp_path / "labels.parquet"
    write_table(label_columns(), path, LABELS, LABEL_META)
    artifact = read_table(path, LABELS)
    assert artifact.metadata == LABEL_META
    assert artifact.numpy("is_noisy").sum() == 2
    assert read_metadata(path) == LABEL_META


def test_equal_inputs_give_identical_bytes(tmp_path):
    write_table(label_columns(), tmp_path / "a.parquet", LABELS, LABEL_META)
    write_table(label_columns(), tmp_path / "b.parquet", LABELS, LABEL_META)
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()


def test_vector_columns_are_fixed_size_lists_and_round_trip(tmp_path):
    columns = feature_columns()
    path = tmp_path / "features.parquet"
    write_table(columns, path, FEATURES, {"num_classes": 3, "embedding_dim": 4, "model": {}})
    schema = pq.read_schema(path)
    assert pa.types.is_fixed_size_list(schema.field("probs").type)
    artifact = read_table(path, FEATURES)
    assert artifact.numpy("embedding").shape == (6, 4)
    assert np.allclose(artifact.numpy("probs"), columns["probs"].astype(np.float32))


def test_missing_column_is_named(tmp_path):
    columns = label_columns()
    del columns["is_noisy"]
    table = pa.table(columns).replace_schema_metadata({b"noisyprune": b'{"num_classes": 3}'})
    pq.write_table(table, tmp_path / "labels.parquet")
    with pytest.raises(ArtifactError, match=r"labels.parquet.*missing column 'is_noisy'"):
        read_table(tmp_path / "labels.parquet", LABELS)


def test_wrong_dtype_is_named(tmp_path):
    with pytest.raises(ArtifactError, match="column 'rank' has type double, expected int"):
        write_table({"sample_id": [0, 1], "rank": [0.0, 1.0], "score": [0.1, 0.2]}, tmp_path / "s.parquet", SUBSET, {})


def test_labels_out_of_range_and_duplicate_ids_are_rejected(tmp_path):
    columns = label_columns()
    columns["noisy_label"] = columns["noisy_label"] + 3
    with pytest.raises(ArtifactError, match="'noisy_label' holds labels outside"):
        write_table(columns, tmp_path / "l.parquet", LABELS, LABEL_META)
    columns = label_columns()
    columns["sample_id"] = np.zeros(8, dtype=np.int64)
    with pytest.raises(ArtifactError, match="'sample_id' has duplicate values"):
        write_table(columns, tmp_path / "l.parquet", LABELS, LABEL_META)


def test_probs_width_must_equal_num_classes(tmp_path):
    with pytest.raises(ArtifactError, match="'probs' has width 3, expected num_classes=5"):
        write_table(
            feature_columns(), tmp_path / "f.parquet", FEATURES, {"num_classes": 5, "embedding_dim": 4, "model": {}}
        )


def test_missing_metadata_key_is_named(tmp_path):
    meta = dict(LABEL_META)
    del meta["transition_matrix"]
    with pytest.raises(ArtifactError, match="transition_matrix"):
        write_table(label_columns(), tmp_path / "l.parquet", LABELS, meta)


def test_missing_and_corrupt_files_are_named(tmp_path):
    with pytest.raises(ArtifactError, match=r"nothing.parquet: file not found"):
        read_table(tmp_path / "nothing.parquet", LABELS)
    path = tmp_path / "labels.parquet"
    write_table(label_columns(), path, LABELS, LABEL_META)
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])  # truncated, as after a crash
    with pytest.raises(ArtifactError, match=r"labels.parquet: not a readable Parquet file"):
        read_table(path, LABELS)


def test_foreign_parquet_without_metadata_is_rejected(tmp_path):
    pq.write_table(pa.table(label_columns()), tmp_path / "foreign.parquet")
    with pytest.raises(ArtifactError, match="no noisyprune metadata"):
        read_table(tmp_path / "foreign.parquet", LABELS)


def test_atomic_output_leaves_no_file_when_the_writer_fails(tmp_path):
    target = tmp_path / "out.json"
    with pytest.raises(RuntimeError), atomic_output(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_json_writes_nan_as_null(tmp_path):
    write_json({"a": float("nan"), "b": np.float32(0.5), "c": np.arange(2)}, tmp_path / "m.json")
    assert read_json(tmp_path / "m.json") == {"a": None, "b": 0.5, "c": [0, 1]}


def test_files_written_in_a_workflow_are_recorded_and_a_later_change_is_found(tmp_path, monkeypatch):
    """Size, time and SHA-256 are recorded at write time (only where the workflow names a records
    folder); a changed size or changed bytes are found, a new time on the same bytes is not."""
    import os

    from noisyprune.written import ENV, check_unchanged, inputs_read_by

    monkeypatch.chdir(tmp_path)
    write_json({"a": 1}, "outside.json")  # no records folder: nothing is recorded
    records = tmp_path / ".snakemake" / "noisyprune" / "written"
    assert not records.exists()
    monkeypatch.setenv(ENV, str(records))
    write_json({"a": 1}, "results/m.json")
    write_json({"b": 2}, "results/n.json")
    assert sorted(p.name for p in records.rglob("*.json")) == ["m.json.json", "n.json.json"]
    check_unchanged(["results/m.json", "results/n.json", "outside.json"])  # unchanged, or no record: passes

    stamp = os.stat("results/m.json").st_mtime_ns
    os.utime("results/m.json", ns=(stamp + 10**9, stamp + 10**9))  # touched: same bytes
    check_unchanged(["results/m.json"])
    assert str(stamp + 10**9) in (records / "results" / "m.json.json").read_text()  # the new time, recorded

    Path("results/m.json").write_text(Path("results/m.json").read_text().replace("1", "7"))  # same size
    Path("results/n.json").write_text("{}")
    with pytest.raises(ArtifactError) as error:
        check_unchanged(["results/m.json", "results/n.json"])
    message = str(error.value)
    assert "results/m.json (same size, other bytes)" in message
    assert "results/n.json (2 bytes, its job wrote 13)" in message
    assert "`--forcerun results/m.json results/n.json`" in message

    class Job:
        def __init__(self, input, output):
            self.input, self.output = input, output

    jobs = [Job(["results/m.json"], ["results/x.json"]), Job(["results/x.json", "results/n.json"], ["results/y"])]
    assert inputs_read_by(jobs) == {"results/m.json", "results/n.json"}  # x.json is rewritten by the run


def test_shared_columns_convert_a_column_once_and_hand_it_out_read_only(tmp_path):
    from noisyprune.artifacts import Artifact, SharedColumns

    probs = np.array([[0.9, 0.1], [0.2, 0.8]], dtype=np.float32)
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"probs": pa.FixedSizeListArray.from_arrays(pa.array(probs.ravel()), 2)}), path)
    shared = SharedColumns.of(Artifact(pq.read_table(path), {}, path))
    first = shared.numpy("probs")
    assert shared.numpy("probs") is first and np.array_equal(first, probs)
    with pytest.raises(ValueError, match="read-only"):
        first[0, 0] = 0.0
