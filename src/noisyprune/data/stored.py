"""Images kept as uint8 (a memory-mapped cache file) and standardised when read: the inputs of a
dataset too large to hold in memory as float32.

:class:`StoredImages` stands in for a ``train_x``/``test_x`` array of :class:`~noisyprune.data.base.ArrayDataset`:
indexing it returns standardised float32 rows, exactly what the in-memory array of the same images
holds (both go through :func:`standardise`), so every stage computes the same whichever way the
images are stored. The training loop streams it in batches through DataLoader workers
(:mod:`noisyprune.training.streaming`).
"""

from __future__ import annotations

import numpy as np


def chunk_rows(images: np.ndarray, elements: int = 2**26) -> int:
    """Images of ``images`` ``(n, …)`` to process at a time: at most 4,096 and at most ``elements``
    values (2²⁶ float64 values: a 512 MB temporary), at least one."""
    per_image = int(np.prod(images.shape[1:])) or 1
    return max(1, min(4096, elements // per_image))


def standardise(images: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """``(images / 255 - mean) / std`` per channel, as float32: ``images`` ``(n, C, H, W)`` uint8,
    ``mean``/``std`` ``(C,)`` in [0, 1] pixel units. Computed in chunks of :func:`chunk_rows` images
    (element-wise, so the chunking does not change the values)."""
    mean = np.asarray(mean, dtype=np.float64)[None, :, None, None]
    std = np.asarray(std, dtype=np.float64)[None, :, None, None]
    out = np.empty(images.shape, dtype=np.float32)
    step = chunk_rows(images)
    for start in range(0, len(images), step):
        chunk = np.asarray(images[start : start + step]).astype(np.float32) / 255.0
        out[start : start + step] = (chunk - mean) / std
    return out


class StoredImages:
    """uint8 images ``(n, C, H, W)`` that read as standardised float32 (see :func:`standardise`).

    ``images`` is usually a read-only memory map of the decoded-image cache, so only the rows read
    are in memory. ``workers``: DataLoader worker processes that read training batches from it.
    Indexing (an integer, a slice or an integer array) returns a new float32 array; ``np.asarray``
    reads everything (for the few consumers that need all inputs at once).
    """

    dtype = np.dtype(np.float32)

    def __init__(self, images: np.ndarray, mean, std, workers: int = 0, path: str | None = None):
        if images.ndim != 4 or images.dtype != np.uint8:
            raise ValueError(
                f"{path or 'stored images'}: must be (n, C, H, W) uint8, got {images.shape} {images.dtype}"
            )
        self.images = images
        self.mean = np.asarray(mean, dtype=np.float64)
        self.std = np.asarray(std, dtype=np.float64)
        self.workers = int(workers)
        self.path = path

    @classmethod
    def from_file(cls, path, mean, std, workers: int = 0) -> StoredImages:
        """The images of the ``.npy`` file ``path``, memory-mapped read-only. Such a store pickles
        as its path (DataLoader workers started by *spawn*, the default on macOS, reopen the file
        instead of receiving a copy of the images)."""
        return cls(np.load(path, mmap_mode="r", allow_pickle=False), mean, std, workers, path=str(path))

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        if self.path is not None:
            state["images"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if self.images is None:
            self.images = np.load(self.path, mmap_mode="r", allow_pickle=False)

    @property
    def shape(self) -> tuple[int, ...]:
        """``(n, C, H, W)``."""
        return tuple(self.images.shape)

    @property
    def ndim(self) -> int:
        """Always 4."""
        return 4

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, key) -> np.ndarray:
        rows = self.images[key]
        if rows.ndim == 3:  # one image
            return standardise(rows[None], self.mean, self.std)[0]
        return standardise(rows, self.mean, self.std)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        everything = standardise(self.images, self.mean, self.std)
        return everything if dtype is None else everything.astype(dtype, copy=False)

    def __repr__(self) -> str:
        return f"StoredImages({self.shape}, workers={self.workers})"
