"""Stand-in copies of the paper datasets, written in each release's own on-disk layout.

The shipped studies (``config/*.yaml``) read CIFAR-100 + CIFAR-100N, Clothing-1M, mini-WebVision,
ImageNet, MNIST, a9a and a ResNet-50 checkpoint that are not on a test machine. These writers make
small copies in exactly the layout each loader will meet in the real release — pickles naming the
same globals, torch zip archives, key and label lists, folders of JPEG files, IDX and LIBSVM files —
so the code that will read the real data is the code the smoke runs execute
(``tests/test_paper_smoke.py``). Images are random or derived from scikit-learn's bundled digits;
only the layout and the formats are the release's.

Every writer takes the folder to fill and returns nothing: the shipped config names which files it
reads under that folder.
"""

from __future__ import annotations

import gzip
import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
CIFAR10N_KEYS = ("aggre_label", "worse_label", "random_label1", "random_label2", "random_label3")


def numpy1_pickle(value: object) -> bytes:
    """``value`` as a protocol-2 pickle naming ``numpy.core.multiarray``, as the releases' files
    (written by numpy 1) do; numpy 2 would write ``numpy._core``."""
    return pickle.dumps(value, protocol=2).replace(b"numpy._core.multiarray", b"numpy.core.multiarray")


def flip_labels(labels: np.ndarray, rate: float, num_classes: int, rng: np.random.Generator) -> np.ndarray:
    """``labels`` with a ``rate`` share moved to another class, as a human label set would be."""
    noisy = labels.copy()
    flip = rng.random(len(labels)) < rate
    noisy[flip] = (labels[flip] + rng.integers(1, num_classes, int(flip.sum()))) % num_classes
    return noisy


def torch_zip(path: Path, folder: str, value: dict) -> None:
    """``value`` as a torch zip archive the way the CIFAR-N files are: ``<folder>/data.pkl``
    (protocol 2, no tensors) and ``<folder>/version``."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{folder}/data.pkl", numpy1_pickle(value))
        archive.writestr(f"{folder}/version", "3\n")


def cifar10(root: Path, per_batch: int = 60, test: int = 100, seed: int = 0) -> Path:
    """``root/cifar-10-batches-py/`` (five training batches, ``test_batch``, ``batches.meta``) with
    random images, and ``root/CIFAR-10_human.pt`` whose label sets index them; returns the label
    file's path. Only for machines without ``../shared/data``, whose real files the smoke prefers."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    clean = np.arange(5 * per_batch) % 10
    rng.shuffle(clean)

    def batch(label: str, labels: np.ndarray) -> bytes:
        return numpy1_pickle(
            {
                b"batch_label": label.encode(),
                b"labels": labels.tolist(),
                b"data": rng.integers(0, 256, (len(labels), 3072), dtype=np.uint8),
                b"filenames": [f"img_{i:05d}.png".encode() for i in range(len(labels))],
            }
        )

    for b in range(5):
        labels = clean[b * per_batch : (b + 1) * per_batch]
        (folder / f"data_batch_{b + 1}").write_bytes(batch(f"training batch {b + 1} of 5", labels))
    (folder / "test_batch").write_bytes(batch("testing batch 1 of 1", np.arange(test) % 10))
    meta = {b"num_cases_per_batch": per_batch, b"label_names": [c.encode() for c in CIFAR10_CLASSES], b"num_vis": 3072}
    (folder / "batches.meta").write_bytes(numpy1_pickle(meta))
    sets = {key: flip_labels(clean, rate, 10, rng) for key, rate in zip(CIFAR10N_KEYS, (0.09, 0.4, 0.17, 0.18, 0.18))}
    path = root / "CIFAR-10_human.pt"
    torch_zip(path, "CIFAR-10_human", {"clean_label": clean.astype(np.int64), **sets})
    return path


def cifar100(root: Path, train: int = 300, test: int = 100, seed: int = 0) -> Path:
    """``root/cifar-100-python/{train,test,meta}`` with random images and CIFAR-100's superclass
    structure (five fine classes per coarse one), and ``root/CIFAR-100_human.pt`` in the CIFAR-100N
    file's format (``clean_label``, ``noisy_label`` as int64 arrays, the coarse pair as lists, 40%
    noise); returns the label file's path."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    # a fixed random assignment of the 100 fine classes to 20 superclasses of five
    coarse_of = rng.permutation(np.repeat(np.arange(20), 5))
    fine = {"train": np.arange(train) % 100, "test": np.arange(test) % 100}
    rng.shuffle(fine["train"])
    for split, labels in fine.items():
        content = {
            b"filenames": [f"{split}_{i:05d}.png".encode() for i in range(len(labels))],
            b"batch_label": f"{split}ing batch 1 of 1".encode(),
            b"fine_labels": labels.tolist(),
            b"coarse_labels": coarse_of[labels].tolist(),
            b"data": rng.integers(0, 256, (len(labels), 3072), dtype=np.uint8),
        }
        (folder / split).write_bytes(numpy1_pickle(content))
    meta = {
        b"fine_label_names": [f"fine{i:02d}".encode() for i in range(100)],
        b"coarse_label_names": [f"coarse{i:02d}".encode() for i in range(20)],
    }
    (folder / "meta").write_bytes(numpy1_pickle(meta))
    clean = fine["train"].astype(np.int64)
    noisy = flip_labels(clean, 0.4, 100, rng)
    path = root / "CIFAR-100_human.pt"
    torch_zip(
        path,
        "CIFAR-100_human",
        {
            "clean_label": clean,
            "noisy_label": noisy,
            "clean_coarse_label": coarse_of[clean].tolist(),
            "noisy_coarse_label": coarse_of[noisy].tolist(),
        },
    )
    return path


def jpeg(path: Path, rng: np.random.Generator, size: tuple[int, int]) -> None:
    """A random-noise JPEG of ``size`` (width, height) at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, format="JPEG", quality=85)


def clothing1m(root: Path, train: int = 140, test: int = 70, seed: int = 0) -> None:
    """The Clothing-1M release's files: ``images/<a>/<b>/<name>.jpg``, ``noisy_label_kv.txt`` and
    ``clean_label_kv.txt`` (``<path> <label>``, 14 classes), the key lists that select the noisy
    training and the clean test split (``noisy_train_key_list.txt``, ``clean_test_key_list.txt``)
    and the other lists and the category names the release ships beside them. As in the release,
    the label files hold more images than the key lists select."""
    rng = np.random.default_rng(seed)
    names = [f"images/{i % 10}/{i % 100:02d}/{1000 + i}.jpg" for i in range(train + test + 20)]
    for name in names:
        jpeg(root / name, rng, (int(rng.integers(24, 48)), int(rng.integers(24, 48))))
    labels = np.arange(len(names)) % 14
    noisy = flip_labels(labels, 0.38, 14, rng)
    # the noisy labels cover the training keys and 10 more; the clean ones all but the first 10
    (root / "noisy_label_kv.txt").write_text("".join(f"{n} {noisy[i]}\n" for i, n in enumerate(names[: train + 10])))
    (root / "clean_label_kv.txt").write_text("".join(f"{n} {labels[i]}\n" for i, n in enumerate(names) if i >= 10))
    (root / "noisy_train_key_list.txt").write_text("".join(f"{n}\n" for n in names[:train]))
    (root / "clean_test_key_list.txt").write_text("".join(f"{n}\n" for n in names[train : train + test]))
    (root / "clean_train_key_list.txt").write_text("".join(f"{n}\n" for n in names[10:20]))
    (root / "clean_val_key_list.txt").write_text("".join(f"{n}\n" for n in names[train + test :]))
    categories = ["T-Shirt", "Shirt", "Knitwear", "Chiffon", "Sweater", "Hoodie", "Windbreaker", "Jacket"]
    categories += ["Downcoat", "Suit", "Shawl", "Dress", "Vest", "Underwear"]
    (root / "category_names_eng.txt").write_text("\n".join(categories) + "\n")


def webvision(root: Path, per_class: int = 3, test_per_class: int = 2, classes: int = 55, seed: int = 0) -> None:
    """WebVision 1.0's resized release: ``info/train_filelist_google.txt`` (``google/q<query>/<name>.jpg
    <label>``), ``info/val_filelist.txt`` (``<name>.jpg <label>``), the Google images and
    ``val_images_256/``. ``classes`` exceeds mini-WebVision's 50, so the config's ``num_classes``
    cut is exercised; each class has two search queries, as in the release."""
    rng = np.random.default_rng(seed)
    train_lines, val_lines = [], []
    for label in range(classes):
        for i in range(per_class):
            name = f"google/q{2 * label + i % 2 + 1:04d}/{label:04d}_{i:03d}.jpg"
            jpeg(root / name, rng, (int(rng.integers(40, 64)), 32))
            train_lines.append(f"{name} {label}")
        for i in range(test_per_class):
            name = f"val{label * test_per_class + i + 1:08d}.jpg"
            jpeg(root / "val_images_256" / name, rng, (48, 40))
            val_lines.append(f"{name} {label}")
    (root / "info").mkdir(parents=True, exist_ok=True)
    (root / "info" / "train_filelist_google.txt").write_text("\n".join(train_lines) + "\n")
    (root / "info" / "val_filelist.txt").write_text("\n".join(val_lines) + "\n")


def imagenet(root: Path, per_class: int = 3, test_per_class: int = 1, classes: int = 102, seed: int = 0) -> None:
    """ILSVRC-2012 as class folders (``train/n<wnid>/<wnid>_<k>.JPEG``, ``val/n<wnid>/…``), with more
    class folders than the config's ``num_classes`` keeps."""
    rng = np.random.default_rng(seed)
    for c in range(classes):
        wnid = f"n{1440764 + 1000 * c:08d}"
        for i in range(per_class):
            jpeg(root / "train" / wnid / f"{wnid}_{i + 1}.JPEG", rng, (int(rng.integers(32, 64)), 40))
        for i in range(test_per_class):
            jpeg(root / "val" / wnid / f"ILSVRC2012_val_{c * test_per_class + i + 1:08d}.JPEG", rng, (40, 48))


def write_idx(path: Path, array: np.ndarray) -> None:
    """``array`` (uint8) as a gzip-compressed IDX file: magic 0x0000 08 <ndim>, big-endian sizes."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(gzip.compress(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes(), mtime=0))


def mnist(root: Path, train: int = 300, test: int = 100) -> None:
    """The four MNIST IDX files (gzip, as distributed) with scikit-learn's bundled 8×8 digits scaled
    to 28×28 (20×20 in the middle, as MNIST centres its digits)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = np.stack(
        [
            np.pad(np.asarray(Image.fromarray((d * 255 / 16).astype(np.uint8)).resize((20, 20))), 4)
            for d in digits.images[: train + test]
        ]
    )
    labels = digits.target[: train + test].astype(np.uint8)
    root.mkdir(parents=True, exist_ok=True)
    write_idx(root / "train-images-idx3-ubyte.gz", images[:train])
    write_idx(root / "train-labels-idx1-ubyte.gz", labels[:train])
    write_idx(root / "t10k-images-idx3-ubyte.gz", images[train:])
    write_idx(root / "t10k-labels-idx1-ubyte.gz", labels[train:])


def libsvm_a9a(root: Path, train: int = 400, test: int = 200, seed: int = 0) -> None:
    """``root/a9a`` and ``root/a9a.t`` as LIBSVM's a9a: labels ``-1``/``+1``, 123 one-hot binary
    features (14 attributes), ``index:1`` pairs in ascending order. As in the real files, the
    training file uses feature 123 and the test file does not (its highest index is 122), so the
    two have different widths unless read together."""
    rng = np.random.default_rng(seed)
    # the one-hot groups of a9a's 14 attributes (sizes sum to 123)
    sizes = [5, 8, 16, 7, 14, 6, 5, 2, 14, 7, 3, 10, 12, 14]
    starts = np.cumsum([1, *sizes[:-1]])

    def lines(count: int, use_last: bool) -> str:
        rows = []
        for _ in range(count):
            picks = [int(start + rng.integers(0, size)) for start, size in zip(starts, sizes)]
            if not use_last:
                picks = [min(p, 122) for p in picks]
            label = "+1" if rng.random() < 0.24 + 0.5 * (picks[0] % 2) else "-1"
            rows.append(label + " " + " ".join(f"{p}:1" for p in sorted(set(picks))) + " \n")
        return "".join(rows)

    root.mkdir(parents=True, exist_ok=True)
    body = lines(train, use_last=True)
    if " 123:1" not in body:  # make sure the training file reaches the last feature
        body = body.replace(" \n", " 123:1 \n", 1)
    (root / "a9a").write_text(body)
    (root / "a9a.t").write_text(lines(test, use_last=False))


def resnet_checkpoint(path: Path, arch: str = "resnet50") -> None:
    """A torchvision ``arch`` state dict saved as torchvision's ImageNet files are (a plain
    ``torch.save`` of ``state_dict()``, 1,000-class head), random weights, for a ``weights:`` key."""
    import torch
    import torchvision

    torch.manual_seed(0)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(getattr(torchvision.models, arch)(weights=None).state_dict(), path)
