"""Image-file datasets (class folders, Clothing-1M / WebVision-style file lists) on tiny real image
files, and intrinsic noise (no clean training labels) through the stages."""

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from noisyprune.config import validate_config
from noisyprune.data import images as image_data
from noisyprune.data.registry import load_dataset
from noisyprune.errors import ArtifactError, ConfigError
from noisyprune.metrics import relabeling_metrics
from noisyprune.stages.common import load_labels
from noisyprune.stages.interface import Run
from noisyprune.stages.noise import run_noise_stage

# One solid colour per class, so every decoded pixel is known.
COLOURS = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]


def _image(path: Path, colour, size=(20, 14), fmt=None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path, format=fmt)


@pytest.fixture
def folder(tmp_path):
    """root/{train,val}/<class>/*.png|jpg: classes 'ant', 'bee', 'cat' with 4 / 2 images each."""
    root = tmp_path / "imagenet"
    for split, count in (("train", 4), ("val", 2)):
        for label, name in enumerate(("ant", "bee", "cat")):
            for i in range(count):
                suffix = ".png" if i % 2 else ".JPEG"  # ImageNet's own extension, any case
                _image(
                    root / split / name / f"{name}_{i}{suffix}",
                    COLOURS[label],
                    size=(20 + i, 14),
                    fmt="PNG" if suffix == ".png" else "JPEG",
                )
    return root


def _pixels(data, x):
    """Undo the standardisation: pixels in [0, 1], (n, 3, S, S)."""
    return x * np.asarray(data.pixel_std)[None, :, None, None] + np.asarray(data.pixel_mean)[None, :, None, None]


def test_a_keyword_that_is_no_setting_is_refused_naming_the_loader_before_any_file_is_read(tmp_path):
    with pytest.raises(TypeError, match=r"load_image_folder\(\) got an unexpected keyword argument 'imag_size'"):
        image_data.load_image_folder(root=str(tmp_path / "absent"), imag_size=64)
    with pytest.raises(TypeError, match=r"load_file_list\(\) got an unexpected keyword argument 'worker'"):
        image_data.load_file_list(root=str(tmp_path / "absent"), train_list="a", test_list="b", worker=1)


def test_image_folder_reads_classes_in_sorted_order_with_known_pixels(folder):
    data = image_data.load_image_folder(name="inet", root=str(folder), image_size=8, workers=0)
    assert data.class_names == ("ant", "bee", "cat")
    assert data.train_x.shape == (12, 3, 8, 8) and data.test_x.shape == (6, 3, 8, 8)
    assert data.train_x.dtype == np.float32
    assert data.train_y.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    assert data.clean_labels_known
    pixels = _pixels(data, data.train_x)
    for label, colour in enumerate(COLOURS):
        expected = np.asarray(colour, dtype=np.float64) / 255
        # JPEG may shift a solid colour by a few levels
        assert np.abs(pixels[data.train_y == label].mean(axis=(0, 2, 3)) - expected).max() < 0.03
    assert np.allclose(data.train_x.mean(axis=(0, 2, 3)), 0, atol=1e-5)  # standardised per channel


def test_image_folder_subset_of_classes_and_explicit_order(folder):
    first_two = image_data.load_image_folder(root=str(folder), image_size=8, workers=0, num_classes=2)
    assert first_two.class_names == ("ant", "bee") and first_two.num_train == 8
    reordered = image_data.load_image_folder(root=str(folder), image_size=8, workers=0, classes=["cat", "ant"])
    assert reordered.class_names == ("cat", "ant")
    assert np.abs(_pixels(reordered, reordered.train_x[:4]).mean(axis=(0, 2, 3)) - [0, 0, 1]).max() < 0.03


def test_worker_processes_decode_the_same_images_in_the_same_order(folder):
    serial = image_data.load_image_folder(root=str(folder), image_size=8, workers=0)
    parallel = image_data.load_image_folder(root=str(folder), image_size=8, workers=2)
    assert np.array_equal(serial.train_x, parallel.train_x) and np.array_equal(serial.test_y, parallel.test_y)


def test_decoded_images_are_cached_and_a_changed_file_is_decoded_again(folder, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    calls = []
    real_decode = image_data.decode_images
    monkeypatch.setattr(
        image_data, "decode_images", lambda paths, *a, **k: calls.append(len(paths)) or real_decode(paths, *a, **k)
    )
    first = image_data.load_image_folder(root=str(folder), image_size=8, workers=0, cache_dir=str(cache))
    assert calls == [12, 6] and len(list(cache.glob("*.npy"))) == 2
    again = image_data.load_image_folder(root=str(folder), image_size=8, workers=0, cache_dir=str(cache))
    assert calls == [12, 6]  # both splits from the cache
    assert np.array_equal(first.train_x, again.train_x)
    _image(folder / "train" / "ant" / "ant_0.JPEG", (0, 0, 0), fmt="JPEG")  # content (and stamp) changed
    image_data.load_image_folder(root=str(folder), image_size=8, workers=0, cache_dir=str(cache))
    assert calls == [12, 6, 12]


def test_max_train_is_drawn_before_decoding(folder, monkeypatch):
    decoded = []
    real_decode = image_data.decode_images
    monkeypatch.setattr(
        image_data, "decode_images", lambda paths, *a, **k: decoded.append(len(paths)) or real_decode(paths, *a, **k)
    )
    data = load_dataset(
        "inet",
        {
            "loader": "image_folder",
            "root": str(folder),
            "image_size": 8,
            "workers": 0,
            "cache_dir": None,
            "max_train": 6,
            "max_test": 3,
        },
    )
    assert decoded == [6, 3]
    assert np.bincount(data.train_y).tolist() == [2, 2, 2]  # class-stratified


@pytest.fixture
def clothing(tmp_path):
    """A Clothing-1M-style layout: images/<k>/<name>.jpg, one label file per kind, key lists."""
    root = tmp_path / "clothing1m"
    noisy, clean = [], []
    for i in range(12):
        label = i % 3
        _image(root / "images" / str(i % 4) / f"{i}.jpg", COLOURS[label], fmt="JPEG")
        noisy.append(f"images/{i % 4}/{i}.jpg {(label + (i % 5 == 0)) % 3}")  # some given labels are wrong
        clean.append(f"images/{i % 4}/{i}.jpg {label}")
    (root / "noisy_label_kv.txt").write_text("\n".join(noisy) + "\n")
    (root / "clean_label_kv.txt").write_text("\n".join(clean) + "\n")
    (root / "noisy_train_key_list.txt").write_text("\n".join(line.split()[0] for line in noisy[:9]) + "\n")
    (root / "clean_test_key_list.txt").write_text("\n".join(line.split()[0] for line in clean[9:]) + "\n")
    return root


def _clothing_entry(root, **extra):
    return {
        "loader": "file_list",
        "root": str(root),
        "train_list": "noisy_label_kv.txt",
        "train_keys": "noisy_train_key_list.txt",
        "test_list": "clean_label_kv.txt",
        "test_keys": "clean_test_key_list.txt",
        "image_size": 8,
        "workers": 0,
        "cache_dir": None,
        "class_names": ["shirt", "coat", "dress"],
        "model": "cnn",
        **extra,
    }


def test_file_list_takes_the_key_lists_samples_with_the_label_files_labels(clothing):
    data = load_dataset("c1m", _clothing_entry(clothing))
    assert data.num_train == 9 and len(data.test_y) == 3
    assert data.class_names == ("shirt", "coat", "dress")
    expected = [(i % 3 + (i % 5 == 0)) % 3 for i in range(9)]
    assert data.train_y.tolist() == expected  # the given (noisy) labels
    assert data.test_y.tolist() == [0, 1, 2]
    assert not data.clean_labels_known  # file_list default: intrinsic noise


def test_file_list_keeps_only_the_first_classes(tmp_path):
    """mini-WebVision: the Google list restricted to labels below num_classes."""
    root = tmp_path / "webvision"
    lines = []
    for i in range(9):
        _image(root / "google" / f"q{i % 3:04d}" / f"{i}.jpg", COLOURS[i % 3], fmt="JPEG")
        lines.append(f"google/q{i % 3:04d}/{i}.jpg {i % 3}")
    (root / "info").mkdir()
    (root / "info" / "train_filelist_google.txt").write_text("\n".join(lines))
    _image(root / "val_images_256" / "v0.jpg", COLOURS[0], fmt="JPEG")
    _image(root / "val_images_256" / "v1.jpg", COLOURS[1], fmt="JPEG")
    (root / "info" / "val_filelist.txt").write_text("v0.jpg 0\nv1.jpg 1\nv2.jpg 2\n")  # v2 is of a dropped class
    data = image_data.load_file_list(
        root=str(root),
        train_list="info/train_filelist_google.txt",
        test_list="info/val_filelist.txt",
        test_images="val_images_256",
        num_classes=2,
        image_size=8,
        workers=0,
    )
    assert data.num_train == 6 and sorted(set(data.train_y.tolist())) == [0, 1] and data.test_y.tolist() == [0, 1]


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        ("no_root", "root folder"),
        ("bad_line", "noisy_label_kv.txt:3: expected '<relative path> <integer label>'"),
        ("unknown_key", "noisy_train_key_list.txt: 1 key(s) have no label in"),
        ("missing_image", "images/0/0.jpg: image file not found"),
        ("corrupt_image", "images/1/1.jpg: not a readable image"),
        ("too_big", "above max_memory_gb=1e-06"),
        (
            "listed_twice",
            "noisy_label_kv.txt:13: 'images/1/1.jpg' is listed again (first at line 2 with label 1, here 2)",
        ),
        ("listed_twice_same_label", "noisy_label_kv.txt:13: './images/1/1.jpg' is listed again (first at line 2)"),
        ("outside_the_root", "noisy_label_kv.txt:13: '../outside.png' leaves "),
        (
            "absolute_path",
            "noisy_label_kv.txt:13: '/etc/outside.png' is an absolute path; paths in a list are relative",
        ),
        ("key_twice", "noisy_train_key_list.txt:10: 'images/0/0.jpg' is listed again (first at line 1)"),
    ],
)
def test_bad_file_list_inputs_name_the_culprit(clothing, breakage, expected):
    entry = _clothing_entry(clothing)
    if breakage == "no_root":
        entry["root"] = str(clothing / "absent")
    elif breakage == "bad_line":
        lines = (clothing / "noisy_label_kv.txt").read_text().splitlines()
        lines[2] = "images/2/2.jpg two"
        (clothing / "noisy_label_kv.txt").write_text("\n".join(lines))
    elif breakage == "unknown_key":
        with open(clothing / "noisy_train_key_list.txt", "a") as keys:
            keys.write("images/9/404.jpg\n")
    elif breakage == "missing_image":
        (clothing / "images" / "0" / "0.jpg").unlink()
    elif breakage == "corrupt_image":
        (clothing / "images" / "1" / "1.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    elif breakage == "too_big":
        entry["max_memory_gb"] = 1e-6
    else:  # a 13th line (or 10th key) added to the lists
        line = {
            "listed_twice": "images/1/1.jpg 2",
            "listed_twice_same_label": "./images/1/1.jpg 1",
            "outside_the_root": "../outside.png 1",
            "absolute_path": "/etc/outside.png 1",
        }.get(breakage)
        target = "noisy_train_key_list.txt" if line is None else "noisy_label_kv.txt"
        with open(clothing / target, "a") as lines:
            lines.write(f"{line or 'images/0/0.jpg'}\n")
    with pytest.raises(ArtifactError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        load_dataset("c1m", entry)


def test_missing_image_folder_says_which_layout_it_expects(tmp_path):
    with pytest.raises(ArtifactError, match=r"expected .*/train/<class>/<image>"):
        image_data.load_image_folder(root=str(tmp_path), image_size=8, workers=0)


# --- intrinsic noise: no clean training labels ---------------------------------------------------


def test_intrinsic_noise_writes_unknown_clean_labels_and_metrics_are_missing(clothing, tmp_path):
    entry = _clothing_entry(clothing)
    output = tmp_path / "labels.parquet"
    run_noise_stage(
        run=Run("c1m", "given", 0), outputs={"labels": str(output)}, dataset_entry=entry, noise_entry={"kind": "none"}
    )
    table = pq.read_table(output)
    assert table.column("clean_label").null_count == 9 and table.column("is_noisy").null_count == 9
    metadata = json.loads(table.schema.metadata[b"noisyprune"])
    assert metadata["noise_rate"] is None and metadata["clean_labels_known"] is False
    labels = load_labels(str(output), load_dataset("c1m", entry))
    assert not labels.clean_known and labels.clean is None and labels.is_noisy is None
    assert labels.noisy.tolist() == [(i % 3 + (i % 5 == 0)) % 3 for i in range(9)]
    assert np.isnan(labels.noise_rate()) and np.isnan(labels.noise_rate(np.arange(3)))
    metrics = relabeling_metrics(labels.noisy, labels.clean, labels.is_noisy, np.ones(9, dtype=bool))
    assert all(np.isnan(value) for value in metrics.values())


def test_synthetic_noise_on_intrinsically_noisy_data_is_refused(clothing, tmp_path):
    with pytest.raises(ConfigError, match=r"noise.sym20.kind.*no clean training labels"):
        run_noise_stage(
            run=Run("c1m", "sym20", 0),
            outputs={"labels": str(tmp_path / "l.parquet")},
            dataset_entry=_clothing_entry(clothing),
            noise_entry={"kind": "symmetric", "rate": 0.2},
        )


def test_config_refuses_synthetic_noise_on_a_dataset_without_clean_labels(tiny_config, clothing, tmp_path):
    tiny_config["datasets"]["c1m"] = {k: v for k, v in _clothing_entry(clothing).items() if k != "model"} | {
        "model": "mlp"
    }
    tiny_config["sweep"]["datasets"] = ["c1m"]
    with pytest.raises(ConfigError, match=r"config key 'noise.sym40.kind': dataset 'c1m' has no clean"):
        validate_config(tiny_config)


def test_config_refuses_a_probe_set_on_a_dataset_without_clean_labels(tiny_config, clothing):
    """The noise job would refuse it, after Snakemake had removed the outputs it replaces."""
    tiny_config["datasets"]["c1m"] = {k: v for k, v in _clothing_entry(clothing).items() if k != "model"} | {
        "model": "mlp"
    }
    tiny_config["noise"]["given"] = {"kind": "none", "probe_per_class": 2}
    tiny_config["sweep"].update(datasets=["c1m"], noise=["given"])
    with pytest.raises(ConfigError, match=r"config key 'noise.given.probe_per_class': dataset 'c1m' has no clean"):
        validate_config(tiny_config)


@pytest.mark.workflow
def test_intrinsic_noise_runs_end_to_end_with_missing_not_zero_clean_label_metrics(tiny_config, tmp_path):
    """A Clothing-1M-style file list through the whole DAG: test accuracy is measured, every metric
    that needs clean training labels is missing in the tables, and detection has nothing to score."""
    from conftest import file_list_entry, run_snakemake

    root = tmp_path / "c1m"
    train, test = [], []
    for i in range(36):
        label = i % 3
        _image(root / "images" / f"{i}.png", COLOURS[label], fmt="PNG")
        (train if i < 30 else test).append(f"images/{i}.png {label}")
    (root / "train.txt").write_text("\n".join(train))
    (root / "test.txt").write_text("\n".join(test))
    config = tiny_config
    config["datasets"] = {"c1m": file_list_entry(root, workers=0)}
    config["noise"] = {"given": {"kind": "none"}}
    config["sweep"].update(datasets=["c1m"], noise=["given"], methods=["uniform", "small_loss"], learners=["ce"])
    for entry in (config["warmups"]["ce"], config["learners"]["ce"]):
        entry["batch_size"] = 16  # a batch larger than the 30 training images is refused
    workdir = tmp_path / "run"
    run_snakemake(workdir, config, "--cores", "2")
    import pandas as pd

    runs = pd.read_parquet(workdir / "results/tables/runs.parquet")
    assert sorted(runs["method"]) == ["full", "small_loss", "uniform"]
    assert runs["test_acc_last"].between(0, 1).all()
    for column in ("relabel_acc_all", "relabel_acc_subset_noisy", "subset_noise_rate", "dataset_noise_rate"):
        assert runs[column].isna().all(), column
    pivot = (workdir / "results/tables/pivot/c1m__given__ce__ce.md").read_text()
    noise_block = pivot.split("Subset noise rate")[1]
    assert "| uniform" in noise_block and "0.0" not in noise_block.split("\n\n")[1]
    assert (workdir / "results/tables/detection.csv").read_text().count("\n") == 1  # header only
    assert list((workdir / "results/.cache/images").glob("*.npy"))  # decoded once, reused by later jobs


def test_labels_contract_takes_clean_labels_as_all_known_or_all_unknown(tmp_path):
    import pyarrow as pa

    from noisyprune.artifacts import LABELS, read_table, write_table

    meta = {"dataset": "d", "noise": "n", "num_classes": 3, "noise_rate": None, "transition_matrix": None}
    write_table(
        {
            "sample_id": np.arange(3),
            "clean_label": pa.nulls(3, pa.int64()),
            "noisy_label": np.array([0, 1, 2]),
            "is_noisy": pa.nulls(3, pa.bool_()),
            "is_probe": np.zeros(3, dtype=bool),
        },
        tmp_path / "unknown.parquet",
        LABELS,
        meta,
    )
    assert read_table(tmp_path / "unknown.parquet", LABELS).table.column("clean_label").null_count == 3
    with pytest.raises(ArtifactError, match="column 'clean_label' has 1 null values"):
        write_table(
            {
                "sample_id": np.arange(3),
                "clean_label": pa.array([0, None, 2], pa.int64()),
                "noisy_label": np.array([0, 1, 2]),
                "is_noisy": np.zeros(3, dtype=bool),
                "is_probe": np.zeros(3, dtype=bool),
            },
            tmp_path / "partial.parquet",
            LABELS,
            meta,
        )
    with pytest.raises(ArtifactError, match="column 'noisy_label' has 3 null values"):  # never unknowable
        write_table(
            {
                "sample_id": np.arange(3),
                "clean_label": np.array([0, 1, 2]),
                "noisy_label": pa.nulls(3, pa.int64()),
                "is_noisy": np.zeros(3, dtype=bool),
                "is_probe": np.zeros(3, dtype=bool),
            },
            tmp_path / "nonoisy.parquet",
            LABELS,
            meta,
        )


# --- pretrained weights from a local file ----------------------------------------------------------


def test_resnet_loads_a_local_torchvision_checkpoint_except_head_and_mismatched_stem(tmp_path):
    import torch
    from torchvision.models import resnet18

    from noisyprune.models import build_model

    torch.manual_seed(0)
    source = resnet18(weights=None, num_classes=1000)  # the layout of torchvision's ImageNet file
    path = tmp_path / "resnet18-imagenet.pth"
    state = {f"module.{k}": v for k, v in source.state_dict().items() if not k.endswith("num_batches_tracked")}
    torch.save({"state_dict": state}, path)  # as DataParallel saved it, without BatchNorm counters (old files)
    torch.manual_seed(1)
    model = build_model({"arch": "resnet18", "small_input": True, "weights": str(path)}, (3, 16, 16), 5)
    body, expected = model.body.state_dict(), source.state_dict()
    assert torch.equal(body["layer4.1.conv2.weight"], expected["layer4.1.conv2.weight"])
    assert torch.equal(body["bn1.running_mean"], expected["bn1.running_mean"])
    assert body["conv1.weight"].shape == (64, 3, 3, 3)  # the 3x3 stem keeps its fresh init
    assert model.head.out_features == 5
    imagenet_stem = build_model({"arch": "resnet18", "small_input": False, "weights": str(path)}, (3, 64, 64), 5)
    assert torch.equal(imagenet_stem.body.state_dict()["conv1.weight"], expected["conv1.weight"])


def test_weights_of_another_architecture_or_a_missing_file_are_refused(tmp_path):
    import torch
    from torchvision.models import resnet50

    from noisyprune.models import build_model

    path = tmp_path / "resnet50.pth"
    torch.save(resnet50(weights=None).state_dict(), path)
    with pytest.raises(ArtifactError, match="weights of another architecture"):
        build_model({"arch": "resnet18", "weights": str(path)}, (3, 16, 16), 5)
    with pytest.raises(ArtifactError, match="pretrained weights not found"):
        build_model({"arch": "resnet18", "weights": str(tmp_path / "absent.pth")}, (3, 16, 16), 5)


def test_a_stray_label_in_a_file_list_is_refused_unless_num_classes_declares_it(tmp_path):
    (tmp_path / "train.txt").write_text("a.jpg 0\nb.jpg 1\nc.jpg 7\n")  # classes 2..6 have no image
    (tmp_path / "val.txt").write_text("d.jpg 0\n")
    with pytest.raises(ArtifactError, match=r"run up to 7 \(in train.txt labels\) but 5 class\(es\)"):
        image_data.load_file_list(root=str(tmp_path), train_list="train.txt", test_list="val.txt", workers=0)
