"""IDX reader and the MNIST-family loaders on tiny files in the real on-disk format."""

import gzip
import struct

import numpy as np
import pytest

from noisyprune.data import load_dataset
from noisyprune.data.idx import read_idx


def write_idx(path, array, compress):
    array = np.asarray(array, dtype=np.uint8)
    payload = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    payload += array.tobytes()
    path.write_bytes(gzip.compress(payload) if compress else payload)


def write_dataset(folder, n_train=12, n_test=5, compress=True):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    suffix = ".gz" if compress else ""
    write_idx(folder / f"train-images-idx3-ubyte{suffix}", rng.integers(0, 256, (n_train, 28, 28)), compress)
    write_idx(folder / f"train-labels-idx1-ubyte{suffix}", np.arange(n_train) % 10, compress)
    write_idx(folder / f"t10k-images-idx3-ubyte{suffix}", rng.integers(0, 256, (n_test, 28, 28)), compress)
    write_idx(folder / f"t10k-labels-idx1-ubyte{suffix}", np.arange(n_test) % 10, compress)


@pytest.mark.parametrize("compress", [True, False])
def test_read_idx_round_trips(tmp_path, compress):
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "x.idx", array, compress)
    assert np.array_equal(read_idx(tmp_path / "x.idx"), array)


def test_fashion_mnist_loader_reads_plain_and_torchvision_layouts(tmp_path):
    write_dataset(tmp_path / "plain")
    data = load_dataset("fm", {"loader": "fashion_mnist", "root": str(tmp_path / "plain")})
    assert data.train_x.shape == (12, 1, 28, 28) and data.test_x.shape == (5, 1, 28, 28)
    assert data.train_y.tolist() == [i % 10 for i in range(12)]
    assert data.class_names[0] == "T-shirt/top" and data.num_classes == 10
    assert abs(float(data.train_x.mean())) < 1e-5
    write_dataset(tmp_path / "tv" / "MNIST" / "raw", compress=False)
    assert load_dataset("m", {"loader": "mnist", "root": str(tmp_path / "tv")}).num_train == 12


def test_mnist_standardisation_is_exactly_the_closed_form(tmp_path):
    """Standardised in place, bitwise (x / 255 − mean) / std with the float32 training statistics."""
    write_dataset(tmp_path, n_train=30, n_test=7)
    data = load_dataset("m", {"loader": "mnist", "root": str(tmp_path)})
    train = read_idx(tmp_path / "train-images-idx3-ubyte.gz").astype(np.float32)[:, None] / 255.0
    test = read_idx(tmp_path / "t10k-images-idx3-ubyte.gz").astype(np.float32)[:, None] / 255.0
    mean, std = float(train.mean()), float(train.std())
    assert np.array_equal(data.train_x, (train - mean) / std) and np.array_equal(data.test_x, (test - mean) / std)
    assert data.train_x.dtype == np.float32 and data.pixel_mean == (mean,) and data.pixel_std == (std,)


def test_missing_files_say_where_they_were_looked_for(tmp_path):
    with pytest.raises(
        FileNotFoundError, match=r"train-images-idx3-ubyte not found \(looked for .*FashionMNIST/raw.*download: true"
    ):
        load_dataset("fm", {"loader": "fashion_mnist", "root": str(tmp_path)})


def test_corrupt_and_mismatched_files_are_refused(tmp_path):
    write_dataset(tmp_path)
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(b"\x08\x03\x00\x00garbage"))
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte.gz: not an IDX file"):
        load_dataset("fm", {"loader": "fashion_mnist", "root": str(tmp_path)})
    write_dataset(tmp_path)
    raw = gzip.decompress((tmp_path / "train-images-idx3-ubyte.gz").read_bytes())
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(raw[:-100]))
    with pytest.raises(ValueError, match="truncated or corrupt"):
        load_dataset("fm", {"loader": "fashion_mnist", "root": str(tmp_path)})
    write_dataset(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.arange(11) % 10, True)
    with pytest.raises(
        ValueError, match=r"train-images-idx3-ubyte.gz holds images of shape \(12, 28, 28\), which do not"
    ):
        load_dataset("fm", {"loader": "fashion_mnist", "root": str(tmp_path)})
    write_dataset(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.arange(12) % 10 + 5, True)
    with pytest.raises(ValueError, match=r"train-labels-idx1-ubyte.gz: holds label 14, outside the 10 classes"):
        load_dataset("fm", {"loader": "fashion_mnist", "root": str(tmp_path)})


def test_shared_fashion_mnist_files_load():
    from conftest import REPO

    root = REPO.parent / "shared" / "data" / "fashion-mnist"
    if not root.is_dir():
        pytest.skip("../shared/data/fashion-mnist is not beside this checkout")
    data = load_dataset("fashion_mnist", {"loader": "fashion_mnist", "root": str(root)})
    assert data.num_train == 60000 and len(data.test_y) == 10000
    assert np.bincount(data.train_y).tolist() == [6000] * 10


def test_max_train_and_max_test_keep_a_fixed_stratified_subset():
    from noisyprune.data import load_dataset

    entry = {"loader": "digits", "model": "mlp", "max_train": 300, "max_test": 100}
    data, again = load_dataset("digits", entry), load_dataset("digits", entry)
    full = load_dataset("digits", {"loader": "digits", "model": "mlp"})
    assert data.num_train == 300 and len(data.test_y) == 100
    assert np.array_equal(data.train_x, again.train_x)
    assert np.bincount(data.train_y).min() >= 25  # about 30 per class: stratified
    rows = [int(np.flatnonzero((full.train_x == x).all(axis=(1, 2, 3)))[0]) for x in data.train_x[:20]]
    assert rows == sorted(rows)  # the original order is kept
