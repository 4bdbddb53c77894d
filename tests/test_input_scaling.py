"""``input_scaling`` of every image loader: ``standardise`` (the default, unchanged) or ``unit``,
pixels in [0, 1] as the originals that skip ``Normalize`` feed them (RDIA-LS's MNIST)."""

import numpy as np
import pytest
from conftest import REPO
from PIL import Image
from test_cifar import make_cifar10
from test_mnist import write_dataset

from noisyprune.data import load_dataset
from noisyprune.data.idx import read_idx
from noisyprune.errors import ArtifactError


def both(name, entry):
    """The dataset under the default, explicit ``standardise`` and ``unit`` scaling."""
    return (
        load_dataset(name, entry),
        load_dataset(name, {**entry, "input_scaling": "standardise"}),
        load_dataset(name, {**entry, "input_scaling": "unit"}),
    )


def check(default, standardised, unit, raw_train, raw_test):
    """``unit`` is the raw pixels / 255 exactly, with mean 0 and std 1 recorded (pixel = x); the
    default is ``standardise``, which is ``unit`` minus the recorded mean over the recorded std."""
    assert np.array_equal(default.train_x, standardised.train_x) and default.pixel_mean == standardised.pixel_mean
    assert np.array_equal(unit.train_x, raw_train.astype(np.float32) / np.float32(255))
    assert np.array_equal(unit.test_x, raw_test.astype(np.float32) / np.float32(255))
    assert set(unit.pixel_mean) == {0.0} and set(unit.pixel_std) == {1.0}
    mean = np.asarray(default.pixel_mean, dtype=np.float32).reshape(1, -1, 1, 1)
    std = np.asarray(default.pixel_std, dtype=np.float32).reshape(1, -1, 1, 1)
    assert np.allclose(default.train_x, (unit.train_x - mean) / std, atol=1e-5)
    assert abs(float(default.train_x.mean())) < 1e-4 and float(unit.train_x.min()) >= 0


def test_mnist_family_on_tiny_idx_files(tmp_path):
    write_dataset(tmp_path, compress=False)
    raw_train = read_idx(tmp_path / "train-images-idx3-ubyte")[:, None]
    raw_test = read_idx(tmp_path / "t10k-images-idx3-ubyte")[:, None]
    for loader in ("mnist", "fashion_mnist"):
        check(*both("m", {"loader": loader, "root": str(tmp_path)}), raw_train, raw_test)


def test_real_fashion_mnist_pixels_stay_in_the_unit_interval():
    root = REPO.parent / "shared" / "data" / "fashion-mnist"
    if not root.is_dir():
        pytest.skip("../shared/data/fashion-mnist is not beside this checkout")
    entry = {"loader": "fashion_mnist", "root": str(root), "max_train": 2000, "max_test": 500}
    unit = load_dataset("fm", {**entry, "input_scaling": "unit"})
    standardised = load_dataset("fm", entry)
    assert float(unit.train_x.min()) == 0.0 and float(unit.train_x.max()) == 1.0
    # Fashion-MNIST's pixel mean and std over the full training split (the statistics standardise uses)
    assert standardised.pixel_mean[0] == pytest.approx(0.2860, abs=1e-3)
    assert standardised.pixel_std[0] == pytest.approx(0.3530, abs=1e-3)
    assert (standardised.train_x.max() - standardised.train_x.min()) == pytest.approx(1 / 0.3530, rel=1e-2)


def test_digits():
    default, standardised, unit = both("d", {"loader": "digits"})
    assert np.array_equal(unit.train_x * 16, np.round(unit.train_x * 16))  # grey levels 0..16, / 16
    assert float(unit.train_x.max()) == 1.0 and float(unit.train_x.min()) == 0.0
    assert np.array_equal(default.train_x, standardised.train_x)
    assert abs(float(default.train_x.mean())) < 1e-5


def test_cifar10(tmp_path):
    make_cifar10(tmp_path)
    from noisyprune.data.safe_pickle import load_pickle_file

    folder = tmp_path / "cifar-10-batches-py"
    raw_train = np.concatenate(
        [load_pickle_file(folder / f"data_batch_{i}", encoding="bytes")[b"data"] for i in range(1, 6)]
    ).reshape(-1, 3, 32, 32)
    raw_test = load_pickle_file(folder / "test_batch", encoding="bytes")[b"data"].reshape(-1, 3, 32, 32)
    check(*both("c", {"loader": "cifar10", "root": str(tmp_path)}), raw_train, raw_test)


def test_image_folder(tmp_path):
    colours = [(255, 0, 0), (0, 128, 255)]
    for split in ("train", "val"):
        for label, colour in enumerate(colours):
            for i in range(2):
                path = tmp_path / split / f"c{label}" / f"{i}.png"
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.new("RGB", (8, 8), colour).save(path)
    entry = {"loader": "image_folder", "root": str(tmp_path), "image_size": 8, "workers": 0, "cache_dir": None}
    unit = load_dataset("f", {**entry, "input_scaling": "unit"})
    expected = np.asarray(colours, dtype=np.float32)[unit.train_y] / np.float32(255)
    assert np.array_equal(unit.train_x, np.broadcast_to(expected[:, :, None, None], unit.train_x.shape))
    assert unit.pixel_mean == (0.0, 0.0, 0.0) and unit.pixel_std == (1.0, 1.0, 1.0)
    assert np.allclose(load_dataset("f", entry).train_x.mean(axis=(0, 2, 3)), 0, atol=1e-5)


def test_arrays_divide_uint8_keep_unit_floats_and_refuse_others(tmp_path):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (40, 1, 6, 6), dtype=np.uint8)
    y = np.arange(40) % 4
    np.savez(tmp_path / "u8.npz", x=pixels, y=y, x_test=pixels[:8], y_test=y[:8])
    entry = {"loader": "arrays", "path": str(tmp_path / "u8.npz")}
    check(*both("a", entry), pixels, pixels[:8])
    floats = rng.random((40, 6)).astype(np.float32)
    np.savez(tmp_path / "f.npz", x=floats, y=y, x_test=floats[:8], y_test=y[:8])
    unit = load_dataset("a", {"loader": "arrays", "path": str(tmp_path / "f.npz"), "input_scaling": "unit"})
    assert np.array_equal(unit.train_x, floats)  # kept as stored, not rescaled
    np.savez(tmp_path / "g.npz", x=floats * 3 - 1, y=y, x_test=floats[:8], y_test=y[:8])
    with pytest.raises(ArtifactError, match=r"g.npz: input_scaling unit needs inputs in \[0, 1\].*training inputs"):
        load_dataset("a", {"loader": "arrays", "path": str(tmp_path / "g.npz"), "input_scaling": "unit"})


def test_unknown_scaling_is_refused(tmp_path):
    write_dataset(tmp_path)
    with pytest.raises(ValueError, match=r"parameter 'input_scaling': 'minmax' is not one of"):
        load_dataset("m", {"loader": "mnist", "root": str(tmp_path), "input_scaling": "minmax"})
