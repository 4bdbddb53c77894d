"""CIFAR-10/100 from the python pickle batches, and CIFAR-10N/100N (the same images with the human
label files of Wei et al., ICLR 2022).

On-disk layout (what ``cifar-10-python.tar.gz`` / ``cifar-100-python.tar.gz`` unpack to, and what
torchvision's ``CIFAR10(root, download=True)`` leaves under ``root``):

    cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta}
    cifar-100-python/{train, test, meta}

Batches are read with an allow-listed unpickler (:mod:`noisyprune.data.safe_pickle`), never with a
plain ``pickle.load``. Images become ``(n, 3, 32, 32)`` float32 standardised per channel with the
training split's mean and standard deviation (``input_scaling: unit``: pixels in [0, 1]). The
training order is the batches' order (``data_batch_1`` … ``data_batch_5``), which is the order the
CIFAR-N label files index.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from noisyprune.data.base import INPUT_SCALING, ArrayDataset, unit_pixels
from noisyprune.data.capabilities import Check, loader_capabilities
from noisyprune.data.safe_pickle import load_pickle_file, load_torch_pickle
from noisyprune.errors import ArtifactError
from noisyprune.params import declare, param

LAYOUT = {
    "cifar10": {
        "folder": "cifar-10-batches-py",
        "train": [f"data_batch_{i}" for i in range(1, 6)],
        "test": ["test_batch"],
        "meta": "batches.meta",
        "labels": b"labels",
        "names": b"label_names",
        "torchvision": "CIFAR10",
    },
    "cifar100": {
        "folder": "cifar-100-python",
        "train": ["train"],
        "test": ["test"],
        "meta": "meta",
        "labels": b"fine_labels",
        "names": b"fine_label_names",
        "torchvision": "CIFAR100",
    },
}

# The CIFAR-N label sets by the noise names the config uses → the key in the human label file.
HUMAN_LABEL_KEYS = {
    "cifar10n": {
        "aggregate": "aggre_label",
        "worst": "worse_label",
        "random1": "random_label1",
        "random2": "random_label2",
        "random3": "random_label3",
    },
    "cifar100n": {"noisy100": "noisy_label"},
}
HUMAN_FILES = {"cifar10n": "CIFAR-10_human.pt", "cifar100n": "CIFAR-100_human.pt"}


def batch_files(variant: str, root: str | Path) -> tuple[Path, list[str], list[str]]:
    """Where CIFAR ``variant``'s python batches live under ``root``: the folder, the names of its
    batch and meta files, and those of them that are missing."""
    layout = LAYOUT[variant]
    folder = Path(root) / layout["folder"]
    needed = [*layout["train"], *layout["test"], layout["meta"]]
    return folder, needed, [name for name in needed if not (folder / name).is_file()]


def _download(variant: str, root: Path) -> None:
    """Fetch and unpack the archive with torchvision's checksummed downloader."""
    from torchvision import datasets
    from torchvision.datasets.utils import download_and_extract_archive

    spec = getattr(datasets, LAYOUT[variant]["torchvision"])
    download_and_extract_archive(spec.url, str(root), filename=spec.filename, md5=spec.tgz_md5)


def _read_batches(folder: Path, names: list[str], label_key: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    images, labels, coarse = [], [], []
    for name in names:
        batch = load_pickle_file(folder / name, encoding="bytes")
        if not isinstance(batch, dict) or b"data" not in batch or label_key not in batch:
            raise ArtifactError(f"{folder / name}: not a CIFAR batch (needs keys data and {label_key.decode()})")
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        if data.ndim != 2 or data.shape[1] != 3072 or len(data) != len(batch[label_key]):
            raise ArtifactError(
                f"{folder / name}: data of shape {data.shape} does not hold {len(batch[label_key])} 32×32 RGB images"
            )
        images.append(data.reshape(-1, 3, 32, 32))
        labels.append(np.asarray(batch[label_key], dtype=np.int64))
        if b"coarse_labels" in batch:
            coarse.append(np.asarray(batch[b"coarse_labels"], dtype=np.int64))
    return np.concatenate(images), np.concatenate(labels), (np.concatenate(coarse) if coarse else None)


def load_cifar(
    name: str, variant: str, root: str, download: bool = False, input_scaling: str = "standardise"
) -> ArrayDataset:
    """Load CIFAR ``variant`` (``cifar10`` or ``cifar100``) from ``root`` (the folder holding
    ``cifar-10-batches-py`` / ``cifar-100-python``); download it first only if ``download``.
    ``input_scaling``: ``standardise`` per channel, or ``unit`` (pixels in [0, 1])."""
    layout = LAYOUT[variant]
    folder, _, missing = batch_files(variant, root)
    if missing:
        if download:
            _download(variant, Path(root))
        else:
            raise ArtifactError(
                f"{variant}: missing {missing} in {folder}. Put the unpacked python version of the dataset "
                f"there (https://www.cs.toronto.edu/~kriz/cifar.html) or set download: true"
            )
    train_x, train_y, coarse = _read_batches(folder, layout["train"], layout["labels"])
    test_x, test_y, _ = _read_batches(folder, layout["test"], layout["labels"])
    meta = load_pickle_file(folder / layout["meta"], encoding="bytes")
    if not isinstance(meta, dict) or layout["names"] not in meta:
        raise ArtifactError(f"{folder / layout['meta']}: not a CIFAR meta file (needs key {layout['names'].decode()})")
    class_names = tuple(n.decode() if isinstance(n, bytes) else str(n) for n in meta[layout["names"]])
    for split, labels in (("training", train_y), ("test", test_y)):
        if len(labels) and (labels.min() < 0 or labels.max() >= len(class_names)):
            raise ArtifactError(
                f"{folder}: the {split} batches hold labels outside the {len(class_names)} classes named by "
                f"{layout['meta']} (labels {int(labels.min())}..{int(labels.max())})"
            )
    # One float32 copy per split, standardised in place: the values are bitwise those of
    # (x / 255 − mean) / std, but CIFAR's 50,000 training images take 600 MB once instead of
    # four temporaries of that size, which made loading most of a small job's time.
    train_pixels = unit_pixels(train_x)
    if input_scaling == "standardise":
        mean = train_pixels.mean(axis=(0, 2, 3))
        std = train_pixels.std(axis=(0, 2, 3))
    else:  # (x − 0) / 1 = x: the pixels stay exactly as scaled
        mean, std = np.zeros(3, dtype=np.float32), np.ones(3, dtype=np.float32)

    def scale(pixels):
        if input_scaling == "standardise":  # unit: (x − 0) / 1 would rewrite every pixel unchanged
            pixels -= mean[None, :, None, None]
            pixels /= std[None, :, None, None]
        return pixels

    groups = None
    if coarse is not None:  # CIFAR-100's 20 superclasses of 5 fine classes each
        groups = tuple(tuple(int(c) for c in np.unique(train_y[coarse == g])) for g in np.unique(coarse))
    return ArrayDataset(
        name=name,
        train_x=scale(train_pixels),
        train_y=train_y,
        test_x=scale(unit_pixels(test_x)),
        test_y=test_y,
        class_names=class_names,
        pixel_mean=mean,
        pixel_std=std,
        class_groups=groups,
    )


ROOT = param(
    "root",
    (
        "Folder holding `cifar-10-batches-py/` (`data_batch_1..5`, `test_batch`, `batches.meta`) or "
        "`cifar-100-python/` (`train`, `test`, `meta`), as the archives unpack."
    ),
    required=True,
    type="string",
)
DOWNLOAD = param(
    "download",
    ("Fetch missing files with torchvision's checksummed downloader (needs internet). Never done unless `true`."),
    type="boolean",
)
HUMAN_LABELS = param(
    "human_labels",
    (
        "Path of `CIFAR-10_human.pt` / `CIFAR-100_human.pt` from UCSC-REAL/cifar-10-100n (e.g. "
        "`../shared/data/cifar-10-100n/CIFAR-10_human.pt`), read without torch's or Python's unrestricted "
        "unpickler. Its `clean_label` must equal the CIFAR training labels, which proves both index the same "
        "images in the same order."
    ),
    required=True,
    type="string",
)


def cifar_files(entry) -> list[str]:
    """The batches of a CIFAR dataset ``entry`` and, for CIFAR-N, its human label file, where the
    loader reads them (the preflight loads them before any job)."""
    loader = entry["loader"]
    variant = loader.removesuffix("n") if loader in HUMAN_FILES else loader
    folder, needed, missing = batch_files(variant, entry.get("root", "data/cifar"))
    if missing:
        raise ArtifactError(
            f"{loader}: missing {missing} in {folder}. Put the unpacked python version of the dataset there "
            "or set download: true"
        )
    files = [str(folder / name) for name in needed]
    if loader in HUMAN_FILES:
        labels = Path(entry.get("human_labels", f"data/{HUMAN_FILES[loader]}"))
        if not labels.is_file():
            raise ArtifactError(f"{loader}: human label file {labels} not found ({HUMAN_FILES[loader]} of CIFAR-N)")
        files.append(str(labels))
    return files


@loader_capabilities(check=Check(cifar_files))
@declare(ROOT, DOWNLOAD, INPUT_SCALING)
def load_cifar10(
    name: str = "cifar10", root: str = "data/cifar", download: bool = False, input_scaling: str = "standardise"
) -> ArrayDataset:
    """CIFAR-10: 50,000 training and 10,000 test images of 10 classes."""
    return load_cifar(name, "cifar10", root, download, input_scaling)


@loader_capabilities(check=Check(cifar_files), class_groups=True)
@declare(ROOT, DOWNLOAD, INPUT_SCALING)
def load_cifar100(
    name: str = "cifar100", root: str = "data/cifar", download: bool = False, input_scaling: str = "standardise"
) -> ArrayDataset:
    """CIFAR-100: 50,000 training and 10,000 test images of 100 classes in 20 superclasses."""
    return load_cifar(name, "cifar100", root, download, input_scaling)


def read_human_labels(path: str | Path, variant: str, clean: np.ndarray) -> dict[str, np.ndarray]:
    """The CIFAR-N label sets of ``path`` by noise name (``aggregate``, ``worst``, … ``noisy100``).

    ``clean`` are the dataset's training labels: the file's ``clean_label`` must equal them, which
    proves the file indexes the same images in the same order.
    """
    if not Path(path).is_file():
        raise ArtifactError(
            f"{variant}: human label file {path} not found; get {HUMAN_FILES[variant]} from "
            "https://github.com/UCSC-REAL/cifar-10-100n (data/) and point human_labels at it"
        )
    content = load_torch_pickle(path)
    if not isinstance(content, dict):
        raise ArtifactError(f"{path}: expected a dict of label arrays, got {type(content).__name__}")
    keys = HUMAN_LABEL_KEYS[variant]
    missing = [key for key in ["clean_label", *keys.values()] if key not in content]
    if missing:
        raise ArtifactError(
            f"{path}: no key(s) {missing} (has {sorted(content)}); is it the {HUMAN_FILES[variant]} file?"
        )
    arrays = {key: np.asarray(content[key]) for key in ["clean_label", *keys.values()]}
    for key, values in arrays.items():
        if values.shape != clean.shape:
            raise ArtifactError(f"{path}: {key} has {len(values)} labels but the training split has {len(clean)}")
    if not np.array_equal(arrays["clean_label"].astype(np.int64), clean):
        raise ArtifactError(
            f"{path}: clean_label differs from the dataset's training labels: "
            "the file does not index these images in the CIFAR python order"
        )
    return {name: arrays[key].astype(np.int64) for name, key in keys.items()}


def load_cifar_n(
    name: str, variant: str, root: str, human_labels: str, download: bool = False, input_scaling: str = "standardise"
) -> ArrayDataset:
    """CIFAR images with the CIFAR-N human label sets attached (used by the ``human`` noise model)."""
    base = load_cifar(name, "cifar10" if variant == "cifar10n" else "cifar100", root, download, input_scaling)
    label_sets = read_human_labels(human_labels, variant, base.train_y)
    return ArrayDataset(**{**base.__dict__, "label_sets": label_sets})


@loader_capabilities(check=Check(cifar_files), label_sets=tuple(HUMAN_LABEL_KEYS["cifar10n"]))
@declare(ROOT, HUMAN_LABELS, DOWNLOAD, INPUT_SCALING)
def load_cifar10n(
    name: str = "cifar10n",
    root: str = "data/cifar",
    human_labels: str = "data/CIFAR-10_human.pt",
    download: bool = False,
    input_scaling: str = "standardise",
) -> ArrayDataset:
    """CIFAR-10 with the CIFAR-10N label sets ``aggregate``, ``worst``, ``random1..3``."""
    return load_cifar_n(name, "cifar10n", root, human_labels, download, input_scaling)


@loader_capabilities(check=Check(cifar_files), label_sets=tuple(HUMAN_LABEL_KEYS["cifar100n"]), class_groups=True)
@declare(ROOT, HUMAN_LABELS, DOWNLOAD, INPUT_SCALING)
def load_cifar100n(
    name: str = "cifar100n",
    root: str = "data/cifar",
    human_labels: str = "data/CIFAR-100_human.pt",
    download: bool = False,
    input_scaling: str = "standardise",
) -> ArrayDataset:
    """CIFAR-100 with the CIFAR-100N label set ``noisy100``."""
    return load_cifar_n(name, "cifar100n", root, human_labels, download, input_scaling)
