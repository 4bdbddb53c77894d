"""CIFAR-10/100 pickle batches, CIFAR-N human label files, and the noise models that use them, on tiny
files written in the real on-disk formats."""

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import REPO

from noisyprune.config import validate_config
from noisyprune.data import load_dataset
from noisyprune.data.base import ArrayDataset, limited_positions
from noisyprune.data.cifar import read_human_labels
from noisyprune.data.safe_pickle import load_pickle_file, load_torch_pickle
from noisyprune.errors import ArtifactError, ConfigError
from noisyprune.noise import apply_noise
from noisyprune.noise.asymmetric import CIFAR10_PAIRS

SHARED = REPO.parent / "shared" / "data" / "cifar-10-100n"


def write_batch(path: Path, images: np.ndarray, labels, extra=None):
    """A batch as the CIFAR python version stores it: a protocol-2 pickle of a dict with bytes keys."""
    batch = {
        b"batch_label": b"training batch",
        b"data": images.reshape(len(images), -1),
        b"labels": list(map(int, labels)),
        b"filenames": [b"x.png"] * len(images),
        **(extra or {}),
    }
    path.write_bytes(pickle.dumps(batch, protocol=2))


def make_cifar10(root: Path, per_batch=6, test=4, seed=0) -> np.ndarray:
    """Five training batches and a test batch; returns the training labels in batch order."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    labels = []
    for i in range(1, 6):
        y = rng.integers(0, 10, per_batch)
        write_batch(folder / f"data_batch_{i}", rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8), y)
        labels.append(y)
    write_batch(folder / "test_batch", rng.integers(0, 256, (test, 3072), dtype=np.uint8), rng.integers(0, 10, test))
    names = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"]
    (folder / "batches.meta").write_bytes(
        pickle.dumps({b"label_names": names, b"num_cases_per_batch": per_batch}, protocol=2)
    )
    return np.concatenate(labels)


def make_cifar100(root: Path, n=40, seed=0):
    rng = np.random.default_rng(seed)
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    fine = np.arange(n) % 100 if n >= 100 else rng.integers(0, 100, n)
    fine[:10] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    coarse = fine // 5  # a synthetic superclass assignment: five consecutive fine classes each
    for name, count in (("train", n), ("test", 5)):
        data = {
            b"data": rng.integers(0, 256, (count, 3072), dtype=np.uint8),
            b"fine_labels": list(map(int, fine[:count])),
            b"coarse_labels": list(map(int, coarse[:count])),
        }
        (folder / name).write_bytes(pickle.dumps(data, protocol=2))
    meta = {
        b"fine_label_names": [f"c{i}".encode() for i in range(100)],
        b"coarse_label_names": [f"s{i}".encode() for i in range(20)],
    }
    (folder / "meta").write_bytes(pickle.dumps(meta, protocol=2))
    return fine, coarse


def test_cifar10_reads_batches_in_order_and_standardises_per_channel(tmp_path):
    labels = make_cifar10(tmp_path)
    data = load_dataset("c10", {"loader": "cifar10", "root": str(tmp_path)})
    assert data.train_x.shape == (30, 3, 32, 32) and data.test_x.shape == (4, 3, 32, 32)
    assert np.array_equal(data.train_y, labels)
    assert data.class_names[9] == "truck" and data.num_classes == 10
    assert np.allclose(data.train_x.mean(axis=(0, 2, 3)), 0, atol=1e-4)
    assert np.allclose(data.train_x.std(axis=(0, 2, 3)), 1, atol=1e-3)
    assert len(data.pixel_mean) == 3
    raw = load_pickle_file(tmp_path / "cifar-10-batches-py" / "data_batch_1", encoding="bytes")[b"data"]
    first = raw[0].reshape(3, 32, 32).astype(np.float32) / 255
    restored = data.train_x[0] * np.array(data.pixel_std)[:, None, None] + np.array(data.pixel_mean)[:, None, None]
    assert np.allclose(restored, first, atol=1e-5)  # channel-major rows, as the CIFAR format stores them


def test_cifar_standardisation_is_exactly_the_closed_form(tmp_path):
    """The loader standardises in place (one float32 copy instead of four 600 MB temporaries on the
    real set); the values are bitwise those of (x / 255 − mean) / std with float32 statistics."""
    make_cifar10(tmp_path)
    data = load_dataset("c10", {"loader": "cifar10", "root": str(tmp_path)})
    folder = tmp_path / "cifar-10-batches-py"
    raw = np.concatenate(
        [load_pickle_file(folder / f"data_batch_{i}", encoding="bytes")[b"data"] for i in range(1, 6)]
    ).reshape(-1, 3, 32, 32)
    test = load_pickle_file(folder / "test_batch", encoding="bytes")[b"data"].reshape(-1, 3, 32, 32)
    pixels = raw.astype(np.float32) / 255.0
    mean, std = pixels.mean(axis=(0, 2, 3)), pixels.std(axis=(0, 2, 3))
    assert np.array_equal(data.train_x, (pixels - mean[None, :, None, None]) / std[None, :, None, None])
    expected_test = (test.astype(np.float32) / 255.0 - mean[None, :, None, None]) / std[None, :, None, None]
    assert np.array_equal(data.test_x, expected_test)
    assert data.train_x.dtype == data.test_x.dtype == np.float32
    assert data.pixel_mean == tuple(float(m) for m in mean)


def test_cifar100_has_superclass_groups_and_superclass_noise_stays_inside(tmp_path):
    make_cifar100(tmp_path, n=200)
    data = load_dataset("c100", {"loader": "cifar100", "root": str(tmp_path)})
    assert data.num_classes == 100 and len(data.class_groups) == 20
    assert data.class_groups[0] == (0, 1, 2, 3, 4)
    result = apply_noise(
        data.train_y,
        100,
        {"kind": "asymmetric", "rate": 1.0, "pairs": "superclass_next"},
        np.random.default_rng(0),
        data=data,
    )
    assert np.array_equal(result.noisy // 5, data.train_y // 5)  # same superclass
    assert np.array_equal(result.noisy, np.where(data.train_y % 5 == 4, data.train_y - 4, data.train_y + 1))


def test_missing_cifar_says_where_it_looked_and_how_to_get_it(tmp_path):
    with pytest.raises(ArtifactError, match=r"cifar-10-batches-py.*download: true"):
        load_dataset("c10", {"loader": "cifar10", "root": str(tmp_path)})


def test_a_pickle_that_would_run_code_is_refused_without_running_it(tmp_path):
    make_cifar10(tmp_path)
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    (tmp_path / "cifar-10-batches-py" / "data_batch_3").write_bytes(pickle.dumps({b"data": Exploit()}, protocol=2))
    with pytest.raises(ArtifactError, match=r"refused to unpickle.*not allowed"):
        load_dataset("c10", {"loader": "cifar10", "root": str(tmp_path)})
    assert not marker.exists()
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").write_bytes(b"\x80\x02}q\x00(truncated")
    with pytest.raises(ArtifactError, match="not a readable pickle"):
        load_dataset("c10", {"loader": "cifar10", "root": str(tmp_path)})


def write_human_file(path: Path, arrays: dict):
    """A human label file as the CIFAR-N repository ships it: torch.save of a dict of int64 arrays."""
    torch.save({key: np.asarray(value, dtype=np.int64) for key, value in arrays.items()}, path)


def test_cifar10n_attaches_the_human_label_sets_and_human_noise_uses_them(tmp_path):
    labels = make_cifar10(tmp_path)
    rng = np.random.default_rng(1)
    sets = {
        key: rng.integers(0, 10, len(labels))
        for key in ("aggre_label", "worse_label", "random_label1", "random_label2", "random_label3")
    }
    write_human_file(tmp_path / "CIFAR-10_human.pt", {"clean_label": labels, **sets})
    entry = {"loader": "cifar10n", "root": str(tmp_path), "human_labels": str(tmp_path / "CIFAR-10_human.pt")}
    data = load_dataset("c10n", entry)
    result = apply_noise(data.train_y, 10, {"kind": "human", "labels": "worst"}, np.random.default_rng(0), data=data)
    assert np.array_equal(result.noisy, sets["worse_label"])
    assert result.rate == pytest.approx(float((sets["worse_label"] != labels).mean()))
    with pytest.raises(ValueError, match="no label set 'noisy100'"):
        apply_noise(data.train_y, 10, {"kind": "human", "labels": "noisy100"}, np.random.default_rng(0), data=data)


def test_human_label_file_errors_name_the_problem(tmp_path):
    labels = make_cifar10(tmp_path)
    entry = {"loader": "cifar10n", "root": str(tmp_path), "human_labels": str(tmp_path / "h.pt")}
    with pytest.raises(ArtifactError, match=r"not found.*UCSC-REAL"):
        load_dataset("c10n", entry)
    write_human_file(tmp_path / "h.pt", {"clean_label": labels, "aggre_label": labels})
    with pytest.raises(ArtifactError, match=r"no key\(s\) \['worse_label'"):
        load_dataset("c10n", entry)
    full = dict.fromkeys(("aggre_label", "worse_label", "random_label1", "random_label2", "random_label3"), labels)
    write_human_file(tmp_path / "h.pt", {"clean_label": labels[:-1], **full})
    with pytest.raises(ArtifactError, match="29 labels but the training split has 30"):
        load_dataset("c10n", entry)
    write_human_file(tmp_path / "h.pt", {"clean_label": np.roll(labels, 1), **full})
    with pytest.raises(ArtifactError, match="does not index these images"):
        load_dataset("c10n", entry)
    (tmp_path / "h.pt").write_bytes(b"not a zip")
    with pytest.raises(ArtifactError, match="not a torch zip archive"):
        load_dataset("c10n", entry)


@pytest.mark.skipif(not (SHARED / "CIFAR-10_human.pt").is_file(), reason="needs ../shared/data/cifar-10-100n")
def test_the_real_cifar_n_files_load_safely_with_their_published_noise_rates():
    ten = load_torch_pickle(SHARED / "CIFAR-10_human.pt")
    sets = read_human_labels(SHARED / "CIFAR-10_human.pt", "cifar10n", ten["clean_label"].astype(np.int64))
    rates = {name: round(float((labels != ten["clean_label"]).mean()) * 100, 2) for name, labels in sets.items()}
    assert rates == {"aggregate": 9.01, "worst": 40.21, "random1": 17.23, "random2": 18.12, "random3": 17.64}
    hundred = load_torch_pickle(SHARED / "CIFAR-100_human.pt")
    sets = read_human_labels(SHARED / "CIFAR-100_human.pt", "cifar100n", hundred["clean_label"].astype(np.int64))
    assert round(float((sets["noisy100"] != hundred["clean_label"]).mean()) * 100, 2) == 40.2


def test_cifar10_asymmetric_map_is_exactly_the_published_one():
    clean = np.repeat(np.arange(10), 10)
    result = apply_noise(clean, 10, {"kind": "asymmetric", "rate": 0.4, "pairs": "cifar10"}, np.random.default_rng(0))
    moved = {(int(c), int(n)) for c, n in zip(clean, result.noisy) if c != n}
    assert moved == set(CIFAR10_PAIRS)
    for source, _ in CIFAR10_PAIRS:
        assert (result.noisy[clean == source] != source).sum() == 4
    assert np.array_equal(result.noisy[np.isin(clean, [0, 1, 6, 7, 8])], clean[np.isin(clean, [0, 1, 6, 7, 8])])


def image_dataset(n=3000, classes=10, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    x = rng.normal(size=(n, 1, 6, 6)).astype(np.float32)
    return ArrayDataset("img", x, y, x[:10], y[:10], tuple(map(str, range(classes))))


def test_instance_dependent_noise_rate_determinism_and_dependence_on_inputs():
    data = image_dataset()
    spec = {"kind": "instance_dependent", "rate": 0.4}
    first = apply_noise(data.train_y, 10, spec, np.random.default_rng(3), data=data)
    again = apply_noise(data.train_y, 10, spec, np.random.default_rng(3), data=data)
    assert np.array_equal(first.noisy, again.noisy)
    assert first.rate == pytest.approx(0.4, abs=0.03)
    off_diagonal = first.transition[~np.eye(10, dtype=bool)].reshape(10, 9)
    assert off_diagonal.std(axis=1).mean() > 0.01  # not uniform over wrong classes, unlike symmetric noise
    other = apply_noise(data.train_y, 10, spec, np.random.default_rng(4), data=data)
    assert not np.array_equal(first.noisy, other.noisy)
    zero = apply_noise(data.train_y, 10, {**spec, "rate": 0.0}, np.random.default_rng(3), data=data)
    # truncation at 0 makes the mean flip rate std·√(2/π) ≈ 0.08, not 0: the original generator's behaviour
    assert zero.rate == pytest.approx(0.1 * np.sqrt(2 / np.pi), abs=0.015)
    with pytest.raises(ValueError, match="needs the dataset"):
        apply_noise(data.train_y, 10, spec, np.random.default_rng(3))


def test_human_noise_on_a_dataset_without_human_labels_fails_at_validation():
    config = {
        "sweep": {
            "datasets": ["digits"],
            "noise": ["worst"],
            "warmups": ["ce"],
            "methods": ["uniform"],
            "fractions": [0.5],
            "learners": ["ce"],
        },
        "datasets": {"digits": {"loader": "digits", "model": "mlp"}},
        "models": {"mlp": {"arch": "mlp"}},
        "noise": {"worst": {"kind": "human", "labels": "worst"}},
        "warmups": {"ce": {"learner": "ce", "epochs": 1}},
        "methods": {"uniform": {"pruner": "uniform"}},
        "learners": {"ce": {"learner": "ce", "epochs": 1}},
    }
    with pytest.raises(ConfigError, match=r"noise.worst.labels.*does not exist for dataset 'digits'"):
        validate_config(config)


# real_cifar10_root (conftest.py): the shared images in the official layout, written once per session.


def test_cifar10n_loads_the_real_images_with_the_human_label_sets(real_cifar10_root):
    """The real files, not a fake: 50,000 + 10,000 images in the CIFAR-N order, whose clean labels
    match CIFAR-10_human.pt image for image, and the worst human labels at their published 40.21%."""
    entry = {"loader": "cifar10n", "root": str(real_cifar10_root), "human_labels": str(SHARED / "CIFAR-10_human.pt")}
    data = load_dataset("cifar10n", entry)
    assert data.train_x.shape == (50_000, 3, 32, 32) and data.test_x.shape == (10_000, 3, 32, 32)
    assert np.bincount(data.train_y, minlength=10).tolist() == [5000] * 10
    assert np.bincount(data.test_y, minlength=10).tolist() == [1000] * 10
    # standardised with the training split's own channel statistics
    assert np.allclose(data.train_x.mean(axis=(0, 2, 3)), 0.0, atol=1e-3)
    worst = apply_noise(data.train_y, 10, {"kind": "human", "labels": "worst"}, np.random.default_rng(0), data=data)
    assert worst.rate == pytest.approx(0.4021, abs=5e-5)
    aggregate = apply_noise(
        data.train_y, 10, {"kind": "human", "labels": "aggregate"}, np.random.default_rng(0), data=data
    )
    assert aggregate.rate == pytest.approx(0.0903, abs=5e-4)


def test_a_stratified_subset_of_the_real_cifar10n_keeps_the_human_labels_of_its_images(real_cifar10_root):
    """max_train keeps a class-stratified subset; each kept image keeps its own human label."""
    entry = {"loader": "cifar10n", "root": str(real_cifar10_root), "human_labels": str(SHARED / "CIFAR-10_human.pt")}
    full = load_dataset("cifar10n", entry)
    subset = load_dataset("cifar10n", {**entry, "max_train": 5000})
    assert np.bincount(subset.train_y, minlength=10).tolist() == [500] * 10
    worst_full = apply_noise(
        full.train_y, 10, {"kind": "human", "labels": "worst"}, np.random.default_rng(0), data=full
    )
    worst_subset = apply_noise(
        subset.train_y, 10, {"kind": "human", "labels": "worst"}, np.random.default_rng(0), data=subset
    )
    assert 0.37 < worst_subset.rate < 0.43
    positions = limited_positions(full.train_y, 5000)
    assert np.array_equal(subset.train_y, full.train_y[positions])
    assert np.array_equal(worst_subset.noisy, worst_full.noisy[positions])
