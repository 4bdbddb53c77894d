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
``rows``           (n,)      the workflow: rows of the dataset's own file (``arrays`` loader)
``paths``          (n,)      file paths of the samples (strings)
=================  ========  =====================================================================

A precomputed warm-up's rows say which training sample each is by one of ``sample_ids``, ``rows``
or ``paths`` (:func:`warmup_rows`). ``rows`` serves a dataset file without a test split: the loader
holds out a random test split, so the positions in the training split are not known when the file
is written, but the rows of the user's own file are; rows of held-out samples are unused.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from noisyprune.data.arrays import list_column, npz_array, open_npz
from noisyprune.data.checks import check_finite_inputs
from noisyprune.errors import ArtifactError

if TYPE_CHECKING:
    from noisyprune.data.base import ArrayDataset

log = logging.getLogger(__name__)

NAMES = ("labels", "features", "probabilities", "logits", "sample_ids", "rows", "paths")
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
    "sample_ids, rows or paths": ("sample_ids", "rows", "paths"),
}
# The dataset, loaded when rows named by `rows` or `paths` must be matched to how it names its
# training samples (ArrayDataset.sample_names and train_names_kind).
LoadDataset = Callable[[], "ArrayDataset"]


def check_warmup_arrays(arrays: Mapping[str, np.ndarray], where: str) -> None:
    """Refuse a precomputed warm-up's arrays (from :func:`read_representation`) that lack any of
    :data:`WARMUP_NEEDS`, naming what is missing and what the file has (``where``: the file)."""
    missing = [text for text, names in WARMUP_NEEDS.items() if not set(names) & set(arrays)]
    if missing:
        raise ArtifactError(
            f"{where}: no {', no '.join(missing)}; a precomputed warm-up needs an embedding, class scores and "
            f"the samples' ids, rows or paths for every training sample (has {sorted(arrays)})"
        )


def warmup_rows(
    arrays: Mapping[str, np.ndarray], sample_id: np.ndarray, where: str, dataset: LoadDataset | None
) -> np.ndarray:
    """The row of a precomputed warm-up's arrays ``(n,)`` holding each training sample of
    ``sample_id`` ``(n,)`` (positions in the training split as loaded). ``where`` names the file in
    messages; ``dataset()`` loads the dataset, whose names of its samples are needed (called only for
    ``rows`` and ``paths``, and to explain a ``sample_ids`` mismatch; ``None``: not known).

    By ``sample_ids`` when the arrays have them: exactly the training samples' ids, each once (an id
    outside the training split means the file and the dataset disagree, e.g. a file for the whole set
    under ``max_train``, or ids counted over a file whose test split the loader held out). Otherwise
    by ``rows`` (rows of an ``arrays`` dataset's file) or ``paths`` (file-backed datasets) against the
    dataset's own names: every training sample must have a row, rows of other samples are unused.
    Raises :class:`ArtifactError` naming the file and the samples or rows."""
    if "sample_ids" in arrays:
        return _rows_by_sample_ids(arrays["sample_ids"], sample_id, where, dataset)
    key = "rows" if "rows" in arrays else "paths" if "paths" in arrays else None
    if key is None:
        raise ArtifactError(
            f"{where}: no sample_ids, rows and paths; the rows must say which sample each is (sample_ids: "
            "positions in the training split; rows: rows of the dataset's own file; paths: the dataset's file names)"
        )
    data = dataset()
    names, kind, name = data.sample_names(), data.train_names_kind, data.name
    wanted = "row of" if key == "rows" else "path"
    if not kind.startswith(wanted):
        use = "rows" if kind.startswith("row of") else "paths" if kind.startswith("path") else "sample_ids"
        raise ArtifactError(
            f"{where}: rows are named by {key}, but dataset {name!r} names its samples by {kind}; give {use} instead"
        )
    values = arrays[key]
    if key == "rows":
        if values.dtype.kind not in "iu":
            raise ArtifactError(
                f"{where}: rows must be integers (row numbers of the dataset's file), not {values.dtype}"
            )
        values = values.astype(np.int64)
    row_of = {value: row for row, value in enumerate(values.tolist())}
    if len(row_of) < len(values):
        unique, counts = np.unique(values, return_counts=True)
        raise ArtifactError(f"{where}: {key[:-1]} {unique[counts > 1][0].item()!r} appears {int(counts.max())} times")
    wanted_names = names[sample_id]
    absent = [name for name in wanted_names.tolist() if name not in row_of]
    if absent:
        raise ArtifactError(
            f"{where}: {len(absent)} of the {len(wanted_names)} training samples of dataset {name!r} have no "
            f"row ({kind}): {_some(absent)}"
        )
    unused = len(row_of) - len(wanted_names)
    if unused:
        log.info("%s: %d rows name samples outside the training split (the test split); unused", where, unused)
    return np.fromiter((row_of[name] for name in wanted_names.tolist()), dtype=np.int64, count=len(wanted_names))


def _rows_by_sample_ids(ids: np.ndarray, sample_id: np.ndarray, where: str, dataset: LoadDataset | None) -> np.ndarray:
    if ids.dtype.kind not in "iu":
        raise ArtifactError(f"{where}: sample_ids must be integers (positions in the training split), not {ids.dtype}")
    unique, counts = np.unique(ids, return_counts=True)
    if (counts > 1).any():
        raise ArtifactError(f"{where}: sample id {int(unique[counts > 1][0])} appears {int(counts.max())} times")
    unknown = np.setdiff1d(unique, sample_id)
    absent = np.setdiff1d(sample_id, unique)
    if len(unknown) or len(absent):
        problems = [
            f"{len(absent)} missing, e.g. {absent[:3].tolist()}" if len(absent) else "",
            f"{len(unknown)} unknown, e.g. {unknown[:3].tolist()}" if len(unknown) else "",
        ]
        hint = ""
        if dataset is not None:
            kind = dataset().train_names_kind
            if kind.startswith("row of"):
                hint = (
                    ". Sample ids are positions in the training split as loaded, not rows of the dataset's file: "
                    "from a file without a test split the loader held out a random test_fraction. Give an array "
                    f"`rows` ({kind}) instead of sample_ids; rows of held-out samples are unused"
                )
        raise ArtifactError(
            f"{where}: its sample_ids must be the {len(sample_id)} training samples' ids "
            f"({int(sample_id.min())}..{int(sample_id.max())}); " + "; ".join(p for p in problems if p) + hint
        )
    return np.argsort(ids, kind="stable")[np.searchsorted(unique, sample_id)]


def _some(values: list, shown: int = 5) -> str:
    """The first ``shown`` of ``values``, and how many more."""
    more = f" and {len(values) - shown} more" if len(values) > shown else ""
    return ", ".join(map(repr, values[:shown])) + more


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
