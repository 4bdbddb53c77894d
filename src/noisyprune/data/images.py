"""Image datasets stored as files: class folders and file lists.

``image_folder`` reads ``root/<train_dir>/<class>/<image>`` and ``root/<test_dir>/<class>/<image>``
(ImageNet and its subsets, mini-WebVision converted to folders). ``file_list`` reads text lists of
``<relative path> <label>`` lines (mini-WebVision's ``info/train_filelist_google.txt`` and
``info/val_filelist.txt``; Clothing-1M's ``noisy_label_kv.txt`` / ``clean_label_kv.txt``, optionally
restricted to the paths of a key list such as ``noisy_train_key_list.txt``).

Every image is decoded with PIL in DataLoader worker processes, converted to RGB and brought to
``image_size`` × ``image_size`` (shorter side scaled, centre crop); the training loop, extraction
and augmentation treat it as CIFAR-like data. ``storage`` decides where it lives: a set that fits
``max_memory_gb`` (mini-WebVision's 66k images at 64 px: ~3 GB of float32) is held in memory as
standardised float32 like every other dataset; a larger one (Clothing-1M's million) is streamed from
the uint8 cache (:class:`~noisyprune.data.stored.StoredImages`, :mod:`noisyprune.training.streaming`).
``max_train`` draws a subset (class-stratified, fixed seed) *before* decoding.

Decoding 10⁵ JPEGs takes minutes, and every job of the DAG loads its dataset, so the decoded uint8
images are cached in ``cache_dir`` under a key of the file list, the file sizes and modification
times, and the size, decoded straight into the file; later jobs memory-map the cache.

Intrinsic noise: WebVision's and Clothing-1M's training labels are the noisy labels as crawled, with
no clean labels to compare against. ``clean_labels: false`` (the default of ``file_list``) says so;
the labels are then used as given (noise kind ``none`` only) and every metric that needs clean
training labels is reported as missing. Test labels are always taken as clean.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import posixpath
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from noisyprune.artifacts import atomic_output
from noisyprune.data.base import INPUT_SCALING, ArrayDataset, limited_positions
from noisyprune.data.capabilities import Check, Facts, loader_capabilities
from noisyprune.data.checks import number_of_classes
from noisyprune.data.stored import StoredImages, chunk_rows, standardise
from noisyprune.errors import ArtifactError
from noisyprune.params import declare, param

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".tif", ".tiff", ".webp", ".gif")
CACHE_VERSION = 1  # bump when the decoding changes, so old caches are not reused
STORAGE = ("auto", "memory", "stream")

log = logging.getLogger(__name__)


def class_folder_samples(folder: Path, classes: Sequence[str]) -> tuple[list[Path], np.ndarray]:
    """Image paths under ``folder/<class>/`` (sorted, any depth) and their class indices ``(n,)``
    int64 in the order of ``classes``."""
    paths, labels = [], []
    for index, name in enumerate(classes):
        directory = folder / name
        if not directory.is_dir():
            raise ArtifactError(f"{directory}: class folder not found (classes come from {folder.parent})")
        found = sorted(p for p in directory.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
        paths.extend(found)
        labels.extend([index] * len(found))
    return paths, np.asarray(labels, dtype=np.int64)


def read_file_list(list_path: Path, image_root: Path, keys_path: Path | None = None) -> tuple[list[Path], np.ndarray]:
    """Paths and labels of a ``<relative path> <label>`` list; blank lines and ``#`` comments are
    skipped. With ``keys_path`` (one relative path per line) only those samples are kept, in the
    key list's order, as Clothing-1M's key lists select its splits from one label file.

    Nothing is reinterpreted: a path is relative to ``image_root`` and stays inside it (an absolute
    path, or ``..`` that leaves it, is an error), and an image listed twice (even with the same label:
    it would be trained on twice) is an error naming both lines, in the list as in the key list."""
    if not list_path.is_file():
        raise ArtifactError(f"{list_path}: label list not found")
    entries: dict[str, int] = {}
    lines: dict[str, int] = {}
    for number, line in enumerate(list_path.read_text(encoding="utf-8").splitlines(), start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        parts = text.rsplit(maxsplit=1)
        if len(parts) != 2 or not parts[1].lstrip("-").isdigit():
            raise ArtifactError(f"{list_path}:{number}: expected '<relative path> <integer label>', got {text!r}")
        if int(parts[1]) < 0:
            raise ArtifactError(f"{list_path}:{number}: negative label {parts[1]}")
        path = inside_path(parts[0], image_root, f"{list_path}:{number}")
        if path in entries:
            label = "" if entries[path] == int(parts[1]) else f" with label {entries[path]}, here {parts[1]}"
            raise ArtifactError(
                f"{list_path}:{number}: {parts[0]!r} is listed again (first at line {lines[path]}{label}); list each "
                "image once"
            )
        entries[path], lines[path] = int(parts[1]), number
    if keys_path is not None:
        if not keys_path.is_file():
            raise ArtifactError(f"{keys_path}: key list not found")
        keys: dict[str, int] = {}
        for number, line in enumerate(keys_path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            key = inside_path(line.strip(), image_root, f"{keys_path}:{number}")
            if key in keys:
                raise ArtifactError(
                    f"{keys_path}:{number}: {line.strip()!r} is listed again (first at line {keys[key]}); list each "
                    "key once"
                )
            keys[key] = number
        unknown = [k for k in keys if k not in entries]
        if unknown:
            raise ArtifactError(f"{keys_path}: {len(unknown)} key(s) have no label in {list_path}, e.g. {unknown[0]!r}")
        entries = {key: entries[key] for key in keys}
    if not entries:
        raise ArtifactError(f"{list_path}: no samples")
    return [image_root / path for path in entries], np.fromiter(entries.values(), dtype=np.int64, count=len(entries))


def inside_path(text: str, image_root: Path, where: str) -> str:
    """``text``, a path of a list, normalised (``a/./b`` → ``a/b``), or an :class:`ArtifactError` at
    ``where`` (``list:line``) when it is absolute or leaves ``image_root`` (``../x.jpg``): a list
    names images of its own folder, never elsewhere on the machine."""
    if posixpath.isabs(text) or os.path.isabs(text):
        raise ArtifactError(
            f"{where}: {text!r} is an absolute path; paths in a list are relative to {image_root}, the image "
            "folder of this list"
        )
    normal = posixpath.normpath(text)
    if normal == ".." or normal.startswith("../"):
        raise ArtifactError(
            f"{where}: {text!r} leaves {image_root}, the image folder this list's paths are relative to; "
            "move the images under it or point the dataset's root and image folder at their common folder"
        )
    return normal


def folder_classes(train_root: Path, classes: Sequence[str] | None, num_classes: int | None) -> list[str]:
    """The class folders of an ``image_folder`` dataset in label order: ``classes`` if given, else
    the sorted sub-folders of ``train_root``, cut to the first ``num_classes`` (an ImageNet subset)."""
    if classes is not None:
        return list(classes)
    return sorted(p.name for p in train_root.iterdir() if p.is_dir())[:num_classes]


def listed_split(
    base: Path, list_name: str, keys: str | None, images: str, num_classes: int | None
) -> tuple[list[Path], np.ndarray]:
    """Image paths and labels ``(n,)`` of one split of a ``file_list`` dataset (``list_name``,
    ``keys`` and the image folder ``images`` relative to ``base``), only those labelled below
    ``num_classes`` when it is given."""
    paths, labels = read_file_list(base / list_name, base / images, base / keys if keys else None)
    if num_classes is not None:
        keep = np.flatnonzero(labels < num_classes)
        paths, labels = [paths[i] for i in keep], labels[keep]
    return paths, labels


def listed_class_count(name: str, labels: Mapping[str, np.ndarray], train_key: str, num_classes: int | None) -> int:
    """The class count of a ``file_list`` dataset: ``num_classes``, or inferred from the split
    ``labels`` (by ``"<list> labels"``), leaving no class without training images (a stray label
    is an error)."""
    return num_classes or number_of_classes(labels, train_key, f"dataset {name!r}", None, "")


class _ImageFiles:
    """A map-style dataset of image files decoded to ``(3, S, S)`` uint8 (picklable for workers)."""

    def __init__(self, paths: Sequence[Path], image_size: int):
        self.paths = [str(p) for p in paths]
        self.image_size = image_size

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> np.ndarray:
        from PIL import Image, ImageOps, UnidentifiedImageError

        path = self.paths[index]
        try:
            with Image.open(path) as image:
                fitted = ImageOps.fit(
                    image.convert("RGB"), (self.image_size, self.image_size), method=Image.Resampling.BILINEAR
                )
        except FileNotFoundError:
            raise ArtifactError(f"{path}: image file not found") from None
        except (UnidentifiedImageError, OSError) as err:
            raise ArtifactError(f"{path}: not a readable image ({err})") from err
        return np.asarray(fitted, dtype=np.uint8).transpose(2, 0, 1).copy()


def _stack(items: list[np.ndarray]) -> np.ndarray:
    return np.stack(items)


def decode_images(paths: Sequence[Path], image_size: int, workers: int, out: np.ndarray | None = None) -> np.ndarray:
    """Decode ``paths`` into one ``(n, 3, image_size, image_size)`` uint8 array, in order, with
    ``workers`` DataLoader worker processes (0 = in this process). ``out`` (e.g. a memory map of
    the cache file) receives the images instead of a new array in memory."""
    import torch
    from torch.utils.data import DataLoader

    if out is None:
        out = np.empty((len(paths), 3, image_size, image_size), dtype=np.uint8)
    loader = DataLoader(_ImageFiles(paths, image_size), batch_size=64, num_workers=workers, collate_fn=_stack)
    start = 0
    with torch.inference_mode():
        for chunk in loader:
            out[start : start + len(chunk)] = chunk
            start += len(chunk)
    return out


def _cache_key(paths: Sequence[Path], image_size: int) -> str:
    """A digest of the file list, every file's size and modification time, and the decoding."""
    digest = hashlib.sha256(json.dumps({"version": CACHE_VERSION, "size": image_size}).encode())
    for path in paths:
        try:
            stat = os.stat(path)
        except FileNotFoundError:
            raise ArtifactError(f"{path}: image file not found") from None
        digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:24]


def cache_path(paths: Sequence[Path], image_size: int, cache_dir: str) -> Path:
    """Where the decoded images of ``paths`` are cached under ``cache_dir``."""
    return Path(cache_dir) / f"images-{image_size}px-{_cache_key(paths, image_size)}.npy"


def cached_images(paths: Sequence[Path], image_size: int, workers: int, cache: Path | None) -> np.ndarray:
    """The decoded images of ``paths`` (see :func:`decode_images`), read from or written to the
    file ``cache`` (from :func:`cache_path`; ``None``: no cache). With a cache the result is a
    read-only memory map of the file: the images are decoded straight into it, so a set larger than
    memory can be cached.

    Jobs that need the same cache take turns on a lock beside it: the first decodes, the others
    wait and then read its file (decoding a million images takes hours; doing it three times at
    once would also need three times the disk). The file's space is reserved before decoding, so
    a full disk is an error naming the cache rather than a crash midway, and the file is renamed
    into place only once complete; partial files of killed jobs are removed by the next one.
    """
    if cache is None:
        return decode_images(paths, image_size, workers)
    shape = (len(paths), 3, image_size, image_size)
    images = _open_cache(cache, shape)
    if images is not None:
        return images
    cache.parent.mkdir(parents=True, exist_ok=True)
    with open(cache.with_name(cache.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also if this job dies
        images = _open_cache(cache, shape)  # another job may have decoded it while this one waited
        if images is None:
            for stale in cache.parent.glob(f".{cache.name}.tmp-*"):  # left by killed jobs
                stale.unlink(missing_ok=True)
            _decode_to_file(paths, image_size, workers, cache, shape)
            images = _open_cache(cache, shape)
    return images


def _open_cache(cache: Path, shape: tuple[int, ...]) -> np.ndarray | None:
    """The cache file memory-mapped read-only, or ``None`` if it is absent or holds other images."""
    if not cache.is_file():
        return None
    images = np.load(cache, mmap_mode="r", allow_pickle=False)
    return images if images.shape == shape and images.dtype == np.uint8 else None


def _decode_to_file(paths: Sequence[Path], image_size: int, workers: int, cache: Path, shape: tuple[int, ...]) -> None:
    need = int(np.prod(shape))
    free = shutil.disk_usage(cache.parent).free
    if need > free:
        raise ArtifactError(
            f"{cache.parent}: decoding {len(paths)} images at {image_size} px needs "
            f"{need / 1e9:.1f} GB of disk for the cache, {free / 1e9:.1f} GB free; set cache_dir "
            "to a larger disk or lower image_size"
        )
    with atomic_output(cache, record=False) as tmp:  # keyed by its sources; read by no rule as an input
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=shape)
        try:
            # a memory map of a sparse file would die of SIGBUS when the disk fills up (macOS has no
            # posix_fallocate: there the free-space check above is all)
            if hasattr(os, "posix_fallocate"):
                with open(tmp, "r+b") as handle:
                    os.posix_fallocate(handle.fileno(), 0, os.path.getsize(tmp))
        except OSError as err:
            raise ArtifactError(
                f"{tmp}: cannot reserve {need / 1e9:.1f} GB for the decoded-image cache "
                f"({err.strerror}); set cache_dir to a larger disk or lower image_size"
            ) from None
        decode_images(paths, image_size, workers, out=out)
        out.flush()
        del out


def channel_statistics(images: np.ndarray, cache_file: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation ``(3,)`` of ``images`` ``(n, 3, S, S)`` uint8 in
    [0, 1] pixel units (a zero deviation becomes 1), in float64 over chunks. With ``cache_file`` (the
    images' cache) they are kept beside it, so a streamed set is not read in full by every job."""
    stats_file = cache_file.with_suffix(".stats.json") if cache_file is not None else None
    if stats_file is not None and stats_file.is_file():
        try:
            stats = json.loads(stats_file.read_text())
            mean, std = np.asarray(stats["mean"], dtype=np.float64), np.asarray(stats["std"], dtype=np.float64)
            if mean.shape == std.shape == (images.shape[1],):
                return mean, std
        except (ValueError, KeyError, TypeError):
            pass  # unreadable: computed again and rewritten below
    sums, squares = np.zeros(3), np.zeros(3)
    step = chunk_rows(images)
    for start in range(0, len(images), step):
        chunk = np.asarray(images[start : start + step]).astype(np.float64) / 255.0
        sums += chunk.sum(axis=(0, 2, 3))
        squares += (chunk**2).sum(axis=(0, 2, 3))
    pixels = len(images) * images.shape[2] * images.shape[3]
    mean = sums / pixels
    std = np.sqrt(np.maximum(squares / pixels - mean**2, 0.0))
    std = np.where(std > 0, std, 1.0)
    if stats_file is not None:
        with atomic_output(stats_file, record=False) as tmp:
            # repr of a float64 round-trips exactly through JSON
            tmp.write_text(json.dumps({"mean": mean.tolist(), "std": std.tolist()}))
    return mean, std


def _limit(paths: list[Path], labels: np.ndarray, limit: int | None) -> tuple[list[Path], np.ndarray]:
    """At most ``limit`` samples: the same class-stratified fixed-seed subset ``max_train`` /
    ``max_test`` draw for in-memory datasets, taken before decoding."""
    keep = limited_positions(labels, limit)
    return [paths[i] for i in keep], labels[keep]


def choose_storage(
    name: str, count: int, image_size: int, max_memory_gb: float, storage: str, cache_dir: str | None
) -> str:
    """``"memory"`` or ``"stream"`` for ``count`` images at ``image_size`` px under the ``storage``
    setting (``auto``: memory while the decoded set fits ``max_memory_gb``), or a clear error
    before anything is decoded."""
    need_gb = count * 3 * image_size * image_size * (4 + 1) / 1e9  # float32 copy + uint8 decode
    fits = need_gb <= max_memory_gb
    if storage == "memory" or (storage == "auto" and fits):
        if not fits:
            raise ArtifactError(
                f"dataset {name!r}: {count} images at {image_size} px need ~{need_gb:.1f} GB in memory, above "
                f"max_memory_gb={max_memory_gb}; set storage: stream (or auto), lower image_size, set "
                "max_train/max_test, or raise max_memory_gb"
            )
        return "memory"
    if cache_dir is None:
        why = f"they need ~{need_gb:.1f} GB in memory, above max_memory_gb={max_memory_gb}, so " if not fits else ""
        raise ArtifactError(
            f"dataset {name!r}: {why}the images are streamed (storage: {storage}) from the "
            "decoded-image cache, and cache_dir is null; set cache_dir"
        )
    return "stream"


@dataclass(frozen=True)
class Decoding:
    """How a file-backed loader decodes, caches and holds its images: the settings both loaders
    share and hand on as ``**decoding`` (declared in :data:`DECODING_PARAMETERS` and
    :data:`~noisyprune.data.base.INPUT_SCALING`; ``max_train``/``max_test`` are the dataset entry's
    own keys, which :func:`~noisyprune.data.registry.load_dataset` passes); their defaults are here.
    ``image_size``: side of the square decoded images (px); ``workers``: decoding processes;
    ``cache_dir``: the uint8 cache (``None``: none); ``max_memory_gb``: the largest set held in
    memory (GB); ``max_train``/``max_test``: samples drawn before decoding (``None``: all);
    ``storage``: ``auto``, ``memory`` or ``stream``; ``input_scaling``: ``standardise`` or ``unit``."""

    image_size: int = 32
    workers: int = 2
    cache_dir: str | None = None
    max_memory_gb: float = 8.0
    max_train: int | None = None
    max_test: int | None = None
    storage: str = "auto"
    input_scaling: str = "standardise"


def build_image_dataset(
    name: str,
    train: tuple[list[Path], np.ndarray],
    test: tuple[list[Path], np.ndarray],
    class_names: Sequence[str],
    decoding: Decoding,
    *,
    clean_labels: bool,
    train_root: Path,
) -> ArrayDataset:
    """Limit, decode and standardise (per channel, training statistics; ``input_scaling: unit``:
    pixels in [0, 1]) the two splits as ``decoding`` says, held in memory as float32 or streamed
    from the uint8 cache (:func:`choose_storage`). ``train_root``: the folder the training paths are
    named relative to (the user's names of the samples)."""
    image_size, workers, cache_dir = decoding.image_size, decoding.workers, decoding.cache_dir
    num_classes = len(class_names)
    for split, (_, labels) in (("training", train), ("test", test)):
        if len(labels) == 0:
            raise ArtifactError(f"dataset {name!r}: no {split} images found")
        if labels.max() >= num_classes:
            raise ArtifactError(f"dataset {name!r}: {split} label {int(labels.max())} but only {num_classes} classes")
    train_paths, train_y = _limit(*train, decoding.max_train)
    # the user's names of the samples: paths as their list or folder gives them
    train_names = np.asarray([str(path.relative_to(train_root)) for path in train_paths])
    test_paths, test_y = _limit(*test, decoding.max_test)
    mode = choose_storage(
        name, len(train_y) + len(test_y), image_size, decoding.max_memory_gb, decoding.storage, cache_dir
    )
    # (the key stats every file: computed once per split)
    train_cache = cache_path(train_paths, image_size, cache_dir) if cache_dir is not None else None
    test_cache = cache_path(test_paths, image_size, cache_dir) if cache_dir is not None else None
    train_u8 = cached_images(train_paths, image_size, workers, train_cache)
    test_u8 = cached_images(test_paths, image_size, workers, test_cache)
    if decoding.input_scaling == "standardise":
        mean, std = channel_statistics(train_u8, train_cache)
    else:  # (x − 0) / 1 = x: the pixels stay in [0, 1]
        mean, std = np.zeros(train_u8.shape[1]), np.ones(train_u8.shape[1])
    if mode == "stream":
        # the memory maps cached_images opened; the paths let spawned workers open them again
        train_images = StoredImages(train_u8, mean, std, workers, path=str(train_cache))
        test_images = StoredImages(test_u8, mean, std, workers, path=str(test_cache))
        log.info(
            "dataset %r: %d + %d images at %d px streamed from the cache in %s by %d workers",
            name,
            len(train_y),
            len(test_y),
            image_size,
            cache_dir,
            workers,
        )
    else:
        train_images, test_images = standardise(train_u8, mean, std), standardise(test_u8, mean, std)
    return ArrayDataset(
        name=name,
        train_x=train_images,
        train_y=train_y,
        test_x=test_images,
        test_y=test_y,
        class_names=class_names,
        pixel_mean=mean,
        pixel_std=std,
        clean_labels_known=clean_labels,
        train_names=train_names,
        train_names_kind=f"path relative to {train_root}",
    )


# How both file-backed loaders decode, cache and hold their images.
DECODING_PARAMETERS = (
    param(
        "image_size",
        "Side of the square decoded images, in pixels.",
        type="integer",
        minimum=8,
    ),
    param(
        "workers",
        "DataLoader worker processes that decode and, when streamed, read the batches (0 = in the job's process).",
        type="integer",
        minimum=0,
    ),
    param(
        "cache_dir",
        (
            "Decoded uint8 images are cached here as `.npy` (with their channel statistics beside), keyed by the file"
            " list, every file's size and modification time, and `image_size`, so only the first job decodes; images "
            "are decoded straight into the file, and a cache larger than the free disk is refused before decoding. "
            "`null` disables (then nothing can be streamed)."
        ),
        type=["string", "null"],
        workflow_default="results/.cache/images",
    ),
    param(
        "max_memory_gb",
        (
            "Largest decoded dataset held in memory (float32 + uint8), in GB; above it `storage: auto` streams and "
            "`storage: memory` stops before decoding, saying which knobs lower it."
        ),
        type="number",
        exclusiveMinimum=0,
    ),
    param(
        "storage",
        (
            "`memory`: standardised float32 in memory, on the training device. `stream`: uint8 in the memory-mapped "
            "cache, read per batch by the `workers` (needs `cache_dir`). `auto`: `memory` while the set fits "
            "`max_memory_gb`, else `stream`. Workers hand batches over as float32 through shared memory (`/dev/shm`):"
            " about `workers` × 2 batches in flight, e.g. 8 × 2 × 1,024 images × 3×128×128 × 4 B ≈ 3.2 GB at the "
            "inference batch size; where `/dev/shm` is small (containers) use `workers: 0`. The logits and embeddings"
            " of every sample that extraction and evaluation collect stay on the device (1M × 2,048 float32 ≈ 8 GB "
            "for ResNet-50)."
        ),
        choices=STORAGE,
    ),
)


CLEAN_LABELS = param(
    "clean_labels",
    (
        "Whether the training labels are clean. `false` = intrinsic noise (WebVision, Clothing-1M): the labels "
        "are used as given, only noise kind `none` applies, `labels.parquet` stores the clean label and the noise"
        " mask as unknown (null), and every metric that needs them (subset noise rate, re-labeling accuracy, "
        "noise detection) is reported as missing, never as 0."
    ),
    type="boolean",
)


# --- read before any job (noisyprune.data.preflight) ---------------------------------------------


def image_folder_files(entry) -> list[str]:
    """Refuse a missing split folder of an ``image_folder`` dataset ``entry``; its contents cannot be
    fingerprinted cheaply, so no file is returned (they are counted every time)."""
    root = Path(entry.get("root", ""))
    for folder in (root / entry.get("train_dir", "train"), root / entry.get("test_dir", "val")):
        if not folder.is_dir():
            raise ArtifactError(f"folder {folder} not found (ImageNet-style class folders are expected there)")
    return []


def image_folder_facts(name: str, entry, enough: int) -> Facts:
    """Class folders and their images, counted only up to ``enough`` (one more than the largest
    batch size: a larger set passes every batch-size check, and ImageNet's 1.28 million files are
    not listed before each run)."""
    train = Path(entry.get("root", "")) / entry.get("train_dir", "train")
    classes = folder_classes(train, entry.get("classes"), entry.get("num_classes"))
    count = 0
    for folder in classes:
        if not (train / folder).is_dir():
            raise ArtifactError(f"{train / folder}: class folder not found (classes come from {train})")
        for _ in _files_under(train / folder, IMAGE_EXTENSIONS):
            count += 1
            if count >= enough:
                break
        if count >= enough:
            break
    max_train = entry.get("max_train")
    size = min(count, max_train) if max_train is not None else count
    return Facts(size, len(classes), input_shape=_decoded_shape(entry))


def file_list_files(entry) -> list[str]:
    """The list and key files of a ``file_list`` dataset ``entry`` (a missing one is refused)."""
    root = Path(entry.get("root", ""))
    files = []
    for key in ("train_list", "test_list", "train_keys", "test_keys"):
        if entry.get(key):
            if not (root / entry[key]).is_file():
                raise ArtifactError(f"{root / entry[key]}: {key} file not found")
            files.append(str(root / entry[key]))
    return files


def file_list_facts(name: str, entry, enough: int) -> Facts:
    """The label lists read as the loader reads them (every line checked), without decoding an image."""
    root = Path(entry.get("root", ""))
    limit = entry.get("num_classes")
    labels = {
        f"{entry[f'{split}_list']} labels": listed_split(
            root, entry[f"{split}_list"], entry.get(f"{split}_keys"), entry.get(f"{split}_images", ""), limit
        )[1]
        for split in ("train", "test")
    }
    train_key = f"{entry['train_list']} labels"
    count = listed_class_count(name, labels, train_key, limit)
    train = labels[train_key]
    if not len(train):
        raise ArtifactError(f"dataset {name!r}: no training images (labels below num_classes {limit})")
    return Facts(len(limited_positions(train, entry.get("max_train"))), count, input_shape=_decoded_shape(entry))


def _decoded_shape(entry) -> tuple[int, ...]:
    """File-backed images are decoded to RGB squares of ``image_size`` pixels."""
    size = entry.get("image_size", Decoding.image_size)
    return (3, size, size)


def _files_under(folder: Path, extensions: tuple[str, ...]):
    for directory, _, names in os.walk(folder):
        for file in names:
            if Path(file).suffix.lower() in extensions:
                yield Path(directory) / file


# Folder contents cannot be fingerprinted cheaply: counted (up to the largest batch) every time.
@loader_capabilities(check=Check(image_folder_files, image_folder_facts, cached=False), limits_itself=True)
@declare(
    param(
        "root",
        (
            "Folder holding `<train_dir>/<class>/<image>` and `<test_dir>/<class>/<image>` (any depth below the class"
            " folder; jpg, png, bmp, tiff, webp, gif)."
        ),
        required=True,
        type="string",
    ),
    param("train_dir", "The training split's folder under `root`.", type="string"),
    param("test_dir", "The test split's folder under `root` (its labels are taken as clean).", type="string"),
    param(
        "classes",
        "Class folder names in label order.",
        type="array",
        minItems=2,
        items={"type": "string"},
        shown_default="sorted folders",
    ),
    param(
        "num_classes",
        "Keep the first this many sorted class folders (an ImageNet subset).",
        type="integer",
        minimum=2,
        shown_default="all",
    ),
    CLEAN_LABELS,
    *DECODING_PARAMETERS,
    INPUT_SCALING,
    keywords_for=Decoding,
)
def load_image_folder(
    name: str = "image_folder",
    root: str = "",
    train_dir: str = "train",
    test_dir: str = "val",
    classes: list[str] | None = None,
    num_classes: int | None = None,
    clean_labels: bool = True,
    **decoding: Any,
) -> ArrayDataset:
    """Class-folder images (module docstring). Classes are ``classes`` if given, else the sorted
    sub-folders of ``root/train_dir``, cut to the first ``num_classes`` (e.g. an ImageNet subset)."""
    settings = Decoding(**decoding)  # (a keyword that is no setting was refused by the declaration)
    train_root, test_root = Path(root) / train_dir, Path(root) / test_dir
    for folder in (train_root, test_root):
        if not folder.is_dir():
            raise ArtifactError(
                f"dataset {name!r}: folder {folder} not found; expected {root}/{train_dir}/<class>/<image> and "
                f"{root}/{test_dir}/<class>/<image> (ImageNet-style class folders)"
            )
    classes = folder_classes(train_root, classes, num_classes)
    if not classes:
        raise ArtifactError(f"dataset {name!r}: no class folders in {train_root}")
    return build_image_dataset(
        name,
        class_folder_samples(train_root, classes),
        class_folder_samples(test_root, classes),
        classes,
        settings,
        clean_labels=clean_labels,
        train_root=train_root,
    )


@loader_capabilities(check=Check(file_list_files, file_list_facts), limits_itself=True)
@declare(
    param(
        "root", "The dataset folder that list files and image folders are relative to.", required=True, type="string"
    ),
    param(
        "train_list",
        (
            "Text file of `<relative image path> <integer label>` lines of the training split (blank lines and `#` "
            "comments skipped): mini-WebVision's `info/train_filelist_google.txt`, Clothing-1M's `noisy_label_kv.txt`."
            " Paths are relative to `train_images` and stay inside it; a malformed line, an image listed twice (both "
            "lines are named), an absolute path or one whose `..` leaves the folder is an error naming file and line, "
            "checked before any job."
        ),
        required=True,
        type="string",
    ),
    param(
        "test_list",
        (
            "The same for the clean test split: mini-WebVision's `info/val_filelist.txt`, Clothing-1M's "
            "`clean_label_kv.txt`."
        ),
        required=True,
        type="string",
    ),
    param(
        "train_keys",
        (
            "File of image paths, one per line, that selects (and orders) the training samples from `train_list`: "
            "Clothing-1M's `noisy_train_key_list.txt`. A key without a label, or listed twice, is an error."
        ),
        type="string",
    ),
    param("test_keys", "The same for the test split: Clothing-1M's `clean_test_key_list.txt`.", type="string"),
    param(
        "train_images",
        'Folder under `root` that the training list\'s paths are relative to (mini-WebVision: `""`).',
        type="string",
    ),
    param(
        "test_images",
        "Folder under `root` that the test list's paths are relative to (mini-WebVision: `val_images_256`).",
        type="string",
    ),
    param(
        "num_classes",
        ("Keep only samples whose label is below this (mini-WebVision: 50, the first 50 classes of the Google list)."),
        type="integer",
        minimum=2,
        shown_default="all",
    ),
    param(
        "class_names",
        "Class names in label order.",
        type="array",
        items={"type": "string"},
        shown_default="`0`, `1`, …",
    ),
    CLEAN_LABELS,
    *DECODING_PARAMETERS,
    INPUT_SCALING,
    keywords_for=Decoding,
)
def load_file_list(
    name: str = "file_list",
    root: str = "",
    train_list: str = "",
    test_list: str = "",
    train_keys: str | None = None,
    test_keys: str | None = None,
    train_images: str = "",
    test_images: str = "",
    num_classes: int | None = None,
    class_names: list[str] | None = None,
    clean_labels: bool = False,
    **decoding: Any,
) -> ArrayDataset:
    """Images named by label lists (module docstring). Paths in the lists are relative to
    ``root/train_images`` and ``root/test_images``; list paths are relative to ``root``. With
    ``num_classes`` only samples whose label is below it are kept (mini-WebVision: the first 50
    classes of the Google list)."""
    settings = Decoding(**decoding)
    base = Path(root)
    if not base.is_dir():
        raise ArtifactError(f"dataset {name!r}: root folder {base} not found")
    train = listed_split(base, train_list, train_keys, train_images, num_classes)
    test = listed_split(base, test_list, test_keys, test_images, num_classes)
    labels = {f"{train_list} labels": train[1], f"{test_list} labels": test[1]}
    count = listed_class_count(name, labels, f"{train_list} labels", num_classes)
    if class_names is not None and len(class_names) < count:
        raise ArtifactError(f"dataset {name!r}: {len(class_names)} class names for {count} classes")
    names = class_names[:count] if class_names else [str(c) for c in range(count)]
    return build_image_dataset(
        name,
        train,
        test,
        names,
        settings,
        clean_labels=clean_labels,
        train_root=base / train_images,
    )
