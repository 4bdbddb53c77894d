"""A representation file: per-sample arrays the user computed elsewhere, read by name.

One format serves ``noisyprune select`` (the pruners from the shell) and the workflow's precomputed
warm-up (``warmups.<name>.source: precomputed``): an ``.npz`` of named arrays, or a Parquet file with
one row per sample and the same names as columns (matrices as list columns, strings as strings).

=================  ========  =====================================================================
name               shape     meaning
=================  ========  =====================================================================
``labels``         (n,)      the labels as given (noisy), class indices
``features``       (n, d)    an embedding per sample
``probabilities``  (n, C)    a model's class probabilities (rows sum to 1)
``logits``         (n, C)    the model's raw class scores (instead of probabilities)
``sample_ids``     (n,)      ids of the samples (the workflow: positions in the training split)
``paths``          (n,)      file paths of the samples (strings)
=================  ========  =====================================================================
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from noisyprune.data.arrays import list_column, npz_array, open_npz
from noisyprune.data.checks import check_finite_inputs
from noisyprune.errors import ArtifactError

NAMES = ("labels", "features", "probabilities", "logits", "sample_ids", "paths")
MATRICES = ("features", "probabilities", "logits")


def read_representation(path: str | Path) -> dict[str, np.ndarray]:
    """The arrays of :data:`NAMES` that ``path`` (``.npz`` or ``.parquet``) holds, each checked:
    matrices 2-D, numeric and finite (as float32), vectors 1-D, all of one length ``n``. Other arrays
    or columns are not read. Raises :class:`ArtifactError` naming the file and the array."""
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"{path}: file not found (an .npz or .parquet representation file is expected)")
    if path.suffix == ".npz":
        with open_npz(path) as archive:
            arrays = {name: npz_array(archive, name, path) for name in NAMES if name in archive.files}
    elif path.suffix == ".parquet":
        arrays = _parquet_arrays(path)
    else:
        raise ArtifactError(f"{path}: unknown format {path.suffix!r}; use .npz or .parquet")
    if not arrays:
        raise ArtifactError(f"{path}: none of the arrays {', '.join(NAMES)}")
    for name, values in arrays.items():
        expected = 2 if name in MATRICES else 1
        if values.ndim != expected:
            raise ArtifactError(f"{path}: {name!r} must be {expected}-D, got shape {values.shape}")
        if name in MATRICES:
            if values.dtype.kind not in "biuf":
                raise ArtifactError(f"{path}: {name!r} must hold numbers, not {values.dtype}")
            arrays[name] = values = values.astype(np.float32, copy=False)
            check_finite_inputs(values, str(path), repr(name))
    lengths = {name: len(values) for name, values in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise ArtifactError(
            f"{path}: the arrays are not aligned, one row per sample: "
            + ", ".join(f"{name} has {length}" for name, length in lengths.items())
        )
    return arrays


# What a precomputed warm-up needs from its file: an embedding, class scores, and which sample each row is.
WARMUP_NEEDS = {
    "features": ("features",),
    "probabilities or logits": ("probabilities", "logits"),
    "sample_ids or paths": ("sample_ids", "paths"),
}


def check_warmup_arrays(arrays: Mapping[str, np.ndarray], where: str) -> None:
    """Refuse a precomputed warm-up's arrays (from :func:`read_representation`) that lack any of
    :data:`WARMUP_NEEDS`, naming what is missing and what the file has (``where``: the file)."""
    missing = [text for text, names in WARMUP_NEEDS.items() if not set(names) & set(arrays)]
    if missing:
        raise ArtifactError(
            f"{where}: no {', no '.join(missing)}; a precomputed warm-up needs an embedding, class scores and "
            f"the samples' ids or paths for every training sample (has {sorted(arrays)})"
        )


def _parquet_arrays(path: Path) -> dict[str, np.ndarray]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as err:
        raise ArtifactError(f"{path}: not a readable Parquet file ({type(err).__name__}: {err})") from None
    arrays = {}
    for name in NAMES:
        if name not in table.column_names:
            continue
        column = table.column(name)
        if name in MATRICES:
            arrays[name] = list_column(table, name, path)
        elif column.null_count:
            raise ArtifactError(f"{path}: column {name!r} is empty in {column.null_count} row(s)")
        else:
            arrays[name] = np.asarray(column.to_pylist()) if name == "paths" else column.to_numpy(zero_copy_only=False)
    return arrays


def file_sha256(path: str | Path, chunk_bytes: int = 1 << 22) -> str:
    """The SHA-256 of the file's bytes (hex), read in 4 MB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk_bytes):
            digest.update(block)
    return digest.hexdigest()
