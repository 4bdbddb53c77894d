"""Bring-your-own data (.npz, Parquet) and tabular datasets (breast cancer, LIBSVM) on tiny files."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from noisyprune.data import load_dataset
from noisyprune.errors import ArtifactError
from noisyprune.noise import apply_noise


def arrays(path, **extra):
    return load_dataset("mine", {"loader": "arrays", "model": "mlp", "path": str(path), **extra})


def test_npz_images_with_their_own_test_split_and_collected_labels(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (50, 1, 6, 6), dtype=np.uint8)
    y = np.arange(50) % 5
    noisy = np.where(np.arange(50) < 10, (y + 1) % 5, y)
    np.savez(
        tmp_path / "d.npz",
        x=x,
        y=y,
        x_test=x[:8],
        y_test=y[:8],
        noisy_y=noisy,
        class_names=np.array(["a", "b", "c", "d", "e"]),
    )
    data = arrays(tmp_path / "d.npz")
    assert data.train_x.shape == (50, 1, 6, 6) and data.test_x.shape == (8, 1, 6, 6)
    assert data.class_names == ("a", "b", "c", "d", "e")
    assert abs(float(data.train_x.mean())) < 1e-4 and len(data.pixel_mean) == 1
    restored = data.train_x[0] * data.pixel_std[0] + data.pixel_mean[0]
    assert np.allclose(restored, x[0] / 255, atol=1e-5)
    result = apply_noise(data.train_y, 5, {"kind": "human", "labels": "given"}, np.random.default_rng(0), data=data)
    assert np.array_equal(result.noisy, noisy) and result.rate == pytest.approx(0.2)


def test_npz_vectors_split_stratified_and_reshaped(tmp_path):
    x = np.random.default_rng(0).normal(size=(100, 16)).astype(np.float32)
    y = np.arange(100) % 4
    np.savez(tmp_path / "v.npz", x=x, y=y)
    data = arrays(tmp_path / "v.npz", test_fraction=0.25)
    assert data.num_train == 75 and len(data.test_y) == 25
    assert sorted(np.bincount(data.test_y)) == [6, 6, 6, 7]  # stratified
    assert np.allclose(data.train_x.std(axis=0), 1, atol=1e-5)  # per feature
    shaped = arrays(tmp_path / "v.npz", input_shape=[1, 4, 4])
    assert shaped.input_shape == (1, 4, 4)
    with pytest.raises(ArtifactError, match="cannot take input_shape"):
        arrays(tmp_path / "v.npz", input_shape=[1, 5, 5])


def test_npz_bad_inputs_are_named(tmp_path):
    with pytest.raises(ArtifactError, match="not found"):
        arrays(tmp_path / "nope.npz")
    np.savez(tmp_path / "a.npz", x=np.zeros((3, 2)))
    with pytest.raises(ArtifactError, match=r"missing array\(s\) \['y'\]"):
        arrays(tmp_path / "a.npz")
    np.savez(tmp_path / "b.npz", x=np.zeros((3, 2)), y=np.zeros(4, int))
    with pytest.raises(ArtifactError, match="3 inputs but 4 labels"):
        arrays(tmp_path / "b.npz")
    np.savez(tmp_path / "c.npz", x=np.zeros((4, 2)), y=np.zeros(4, int), noisy_y=np.zeros(3, int))
    with pytest.raises(ArtifactError, match="noisy labels have"):
        arrays(tmp_path / "c.npz", test_fraction=0.5)
    np.savez(tmp_path / "d.npz", x=np.array([object()] * 4, dtype=object), y=np.zeros(4, int))
    with pytest.raises((ArtifactError, ValueError)):  # object arrays need pickle: refused
        arrays(tmp_path / "d.npz")


def test_parquet_with_feature_columns_or_a_list_column_and_a_split(tmp_path):
    rng = np.random.default_rng(1)
    n = 40
    split = np.where(np.arange(n) < 30, "train", "test")
    table = pa.table(
        {
            "f1": rng.normal(size=n),
            "f2": rng.normal(size=n),
            "label": np.arange(n) % 2,
            "noisy_label": np.arange(n) % 2,
            "split": split,
            "x": pa.array([list(row) for row in rng.normal(size=(n, 4))]),
        }
    )
    pq.write_table(table, tmp_path / "t.parquet")
    data = arrays(tmp_path / "t.parquet", feature_columns=["f1", "f2"])
    assert data.train_x.shape == (30, 2) and data.test_x.shape == (10, 2)
    assert np.array_equal(data.label_sets["given"], np.arange(30) % 2)
    listed = arrays(tmp_path / "t.parquet")
    assert listed.train_x.shape == (30, 4)
    with pytest.raises(ArtifactError, match="feature column"):
        arrays(tmp_path / "t.parquet", feature_columns=["f9"])
    pq.write_table(table.drop(["label"]), tmp_path / "u.parquet")
    with pytest.raises(ArtifactError, match="no 'label' column"):
        arrays(tmp_path / "u.parquet")


def test_breast_cancer_and_libsvm_tabular_data(tmp_path):
    cancer = load_dataset("bc", {"loader": "tabular", "model": "mlp"})
    assert cancer.num_train + len(cancer.test_y) == 569 and cancer.input_shape == (30,)
    assert cancer.num_classes == 2
    lines = [f"{'+1' if i % 2 else '-1'} 1:{i * 0.1:.1f} 3:{1 + i % 3}" for i in range(20)]
    (tmp_path / "train.svm").write_text("\n".join(lines) + "\n")
    (tmp_path / "test.svm").write_text("\n".join(lines[:6]) + "\n")
    data = load_dataset(
        "rs",
        {
            "loader": "tabular",
            "model": "mlp",
            "source": "libsvm",
            "path": str(tmp_path / "train.svm"),
            "test_path": str(tmp_path / "test.svm"),
        },
    )
    assert data.train_x.shape == (20, 3) and data.test_x.shape == (6, 3)
    assert data.train_y.tolist() == [i % 2 for i in range(20)] and data.class_names == ("-1", "1")
    with pytest.raises(ArtifactError, match="above max_dense_gb"):
        load_dataset(
            "rs",
            {
                "loader": "tabular",
                "model": "mlp",
                "source": "libsvm",
                "path": str(tmp_path / "train.svm"),
                "max_dense_gb": 1e-9,
            },
        )
    (tmp_path / "bad.svm").write_text("this is not libsvm\n")
    with pytest.raises(ArtifactError, match="not a LIBSVM file"):
        load_dataset("rs", {"loader": "tabular", "model": "mlp", "source": "libsvm", "path": str(tmp_path / "bad.svm")})
    with pytest.raises(ArtifactError, match="not found"):
        load_dataset("rs", {"loader": "tabular", "model": "mlp", "source": "libsvm", "path": str(tmp_path / "x.svm")})


def test_declared_image_layouts_are_transposed_not_reshaped(tmp_path):
    rng = np.random.default_rng(2)
    first = rng.integers(0, 256, (30, 3, 5, 7), dtype=np.uint8)  # channels-first reference
    y = np.arange(30) % 3
    np.savez(
        tmp_path / "last.npz", x=first.transpose(0, 2, 3, 1), y=y, x_test=first[:6].transpose(0, 2, 3, 1), y_test=y[:6]
    )
    np.savez(tmp_path / "first.npz", x=first, y=y, x_test=first[:6], y_test=y[:6])
    declared = arrays(tmp_path / "last.npz", layout="channels_last")
    reference = arrays(tmp_path / "first.npz")
    assert declared.input_shape == (3, 5, 7)
    assert np.allclose(declared.train_x, reference.train_x, atol=1e-5)  # the same images, pixel for pixel
    with pytest.raises(ArtifactError, match="declare layout: channels_last"):
        arrays(tmp_path / "last.npz")
    np.savez(tmp_path / "gray.npz", x=first[:, 0], y=y)
    assert arrays(tmp_path / "gray.npz", layout="grayscale").input_shape == (1, 5, 7)


def test_labels_are_checked_on_the_files_rows_and_a_declared_class_may_be_empty(tmp_path):
    x = np.random.default_rng(3).normal(size=(40, 3)).astype(np.float32)
    y = np.arange(40) % 3  # classes 0, 1, 2; class 3 declared but empty
    np.savez(tmp_path / "d.npz", x=x, y=y)
    assert arrays(tmp_path / "d.npz", num_classes=4).num_classes == 4
    with pytest.raises(ArtifactError, match=r"2 class\(es\) below that have no training sample: 2, 3"):
        np.savez(tmp_path / "g.npz", x=x, y=np.where(y == 2, 4, y))  # labels 0, 1, 4: a gap at 2 and 3
        arrays(tmp_path / "g.npz")
    np.savez(tmp_path / "f.npz", x=x, y=y.astype(float))  # whole-valued floats are the integers they equal
    assert np.array_equal(arrays(tmp_path / "f.npz").train_y % 1, np.zeros(32))
