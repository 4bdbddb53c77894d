"""MNIST and Fashion-MNIST from their canonical IDX files (no download unless asked for)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from noisyprune.data.base import INPUT_SCALING, ArrayDataset, unit_pixels
from noisyprune.data.capabilities import Check, loader_capabilities
from noisyprune.data.idx import read_idx
from noisyprune.errors import ArtifactError
from noisyprune.params import declare, param

FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
CLASS_NAMES = {
    "mnist": tuple(str(d) for d in range(10)),
    "fashion_mnist": (
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ),
}
TORCHVISION_FOLDER = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST"}


def _find(root: Path, stem: str, variant: str) -> Path:
    """The file ``stem`` (raw or ``.gz``) in ``root`` or in torchvision's ``root/<Name>/raw``."""
    folders = [root, root / TORCHVISION_FOLDER[variant] / "raw"]
    for folder in folders:
        for name in (stem, stem + ".gz"):
            if (folder / name).is_file():
                return folder / name
    looked = ", ".join(str(folder / f"{stem}[.gz]") for folder in folders)
    raise FileNotFoundError(
        f"{variant}: {stem} not found (looked for {looked}). Put the four IDX files there, or set "
        f"'download: true' in the dataset entry to fetch them with torchvision."
    )


def load_idx_dataset(
    name: str, variant: str, root: str, download: bool = False, input_scaling: str = "standardise"
) -> ArrayDataset:
    """The standard 60,000/10,000 split as ``(n, 1, 28, 28)`` float32, scaled to [0, 1] and, with
    ``input_scaling: standardise``, standardised with the training split's pixel mean and standard
    deviation (``unit`` leaves the pixels in [0, 1])."""
    root_path = Path(root)
    if download:
        from torchvision import datasets

        getattr(datasets, TORCHVISION_FOLDER[variant])(root_path, train=True, download=True)
        getattr(datasets, TORCHVISION_FOLDER[variant])(root_path, train=False, download=True)
    files = {key: _find(root_path, stem, variant) for key, stem in FILES.items()}
    arrays = {key: read_idx(path) for key, path in files.items()}
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise ValueError(
                f"{variant} {split}: {files[f'{split}_images']} holds images of shape {images.shape}, which do not "
                f"match the labels of shape {labels.shape} in {files[f'{split}_labels']} (n × 28 × 28 images, n labels)"
            )
        if len(labels) and int(labels.max()) >= len(CLASS_NAMES[variant]):
            raise ValueError(
                f"{files[f'{split}_labels']}: holds label {int(labels.max())}, outside the "
                f"{len(CLASS_NAMES[variant])} classes of {variant} (is it the labels file?)"
            )
    # One float32 copy per split, scaled and standardised in place: bitwise (x / 255 − mean) / std,
    # without the temporaries of that expression, which made loading most of a small job's time.
    train, test = (unit_pixels(arrays[f"{split}_images"])[:, None] for split in ("train", "test"))
    # unit: mean 0 and std 1 leave the pixels exactly as scaled (x − 0) / 1 = x
    mean, std = (float(train.mean()), float(train.std())) if input_scaling == "standardise" else (0.0, 1.0)
    if input_scaling == "standardise":
        for pixels in (train, test):
            pixels -= mean
            pixels /= std
    return ArrayDataset(
        name=name,
        train_x=train,
        train_y=arrays["train_labels"].astype(np.int64),
        test_x=test,
        test_y=arrays["test_labels"].astype(np.int64),
        class_names=CLASS_NAMES[variant],
        pixel_mean=mean,
        pixel_std=std,
    )


PARAMETERS = (
    param(
        "root",
        (
            "Folder with the four IDX files, raw or `.gz` (e.g. `../shared/data/fashion-mnist`), or a torchvision "
            "root holding `MNIST/raw` / `FashionMNIST/raw`. A missing file is an error that says where it looked."
        ),
        required=True,
        type="string",
    ),
    param(
        "download",
        ("Fetch missing files with torchvision's checksummed downloader (needs internet). Never done unless `true`."),
        type="boolean",
    ),
    INPUT_SCALING,
)


def idx_files(entry) -> list[str]:
    """The four IDX files of a ``mnist`` or ``fashion_mnist`` dataset ``entry``, looked for where the
    loader looks (the preflight reads them before any job)."""
    variant = entry["loader"]
    root = Path(entry.get("root", f"data/{variant.replace('_', '-')}"))
    try:
        return [str(_find(root, stem, variant)) for stem in FILES.values()]
    except FileNotFoundError as err:
        raise ArtifactError(str(err)) from None


@loader_capabilities(check=Check(idx_files))
@declare(*PARAMETERS)
def load_mnist(
    name: str = "mnist", root: str = "data/mnist", download: bool = False, input_scaling: str = "standardise"
) -> ArrayDataset:
    """MNIST handwritten digits (LeCun et al.)."""
    return load_idx_dataset(name, "mnist", root, download, input_scaling)


@loader_capabilities(check=Check(idx_files))
@declare(*PARAMETERS)
def load_fashion_mnist(
    name: str = "fashion_mnist",
    root: str = "data/fashion-mnist",
    download: bool = False,
    input_scaling: str = "standardise",
) -> ArrayDataset:
    """Fashion-MNIST (Xiao et al. 2017); ``../shared/data/fashion-mnist`` holds the real files."""
    return load_idx_dataset(name, "fashion_mnist", root, download, input_scaling)
