"""Artifact files: atomic writes, Parquet tables with fixed-size vector columns, and their contracts.

Every stage of the DAG hands its result to the next through a Parquet file whose columns, types and
metadata keys are fixed by a :class:`Contract`. Files are validated when written (to catch our own
bugs) and when read (to catch truncated, foreign or stale files) and every error names the file.
Metadata is one JSON document stored in the Parquet schema under the key ``noisyprune``; it must be
deterministic (no timestamps, no host names) so that equal inputs give byte-identical files.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from noisyprune.errors import ArtifactError
from noisyprune.written import record_written

METADATA_KEY = b"noisyprune"

ColumnKind = Literal["int", "float", "bool", "vector"]


@contextmanager
def atomic_output(path: str | os.PathLike, record: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` and rename it onto ``path`` if the block succeeds.

    A job killed mid-write therefore leaves either the old complete file or nothing under ``path``,
    never a half-written file that Snakemake could take as finished. Inside a workflow job the
    complete file is then recorded (:mod:`noisyprune.written`), so that a later change to it is
    found before a run reads it; ``record=False`` for files no job reads as an input (resume
    states, caches), which are rewritten often or are large.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
    try:
        yield tmp
        os.replace(tmp, final)
        if record:
            record_written(final)
    finally:
        if tmp.exists():
            tmp.unlink()


def json_safe(value: Any) -> Any:
    """Return ``value`` with numpy scalars/arrays turned into Python types and NaN/inf into ``None``.

    JSON has no NaN; a metric that cannot be computed (e.g. no noisy sample in a subset) is written
    as ``null`` so that readers see it as missing, not as a number.
    """
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(payload: Mapping[str, Any], path: str | os.PathLike) -> None:
    """Write ``payload`` as indented, key-sorted JSON to ``path`` atomically."""
    write_text(json.dumps(json_safe(payload), indent=2, sort_keys=True) + "\n", path)


def write_text(text: str, path: str | os.PathLike) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def read_json(path: str | os.PathLike) -> dict[str, Any]:
    """Read a JSON object from ``path``; a missing or malformed file raises :class:`ArtifactError`."""
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"{path}: file not found")
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ArtifactError(f"{path}: not valid JSON ({err})") from err
    if not isinstance(payload, dict):
        raise ArtifactError(f"{path}: expected a JSON object, found {type(payload).__name__}")
    return payload


def vector_array(matrix: np.ndarray) -> pa.FixedSizeListArray:
    """Turn an ``(n, w)`` float matrix into a Parquet fixed-size list column of float32 width ``w``."""
    matrix = np.ascontiguousarray(matrix, dtype=np.float32)
    if matrix.ndim != 2:
        raise ValueError(f"vector column needs a 2-D matrix, got shape {matrix.shape}")
    _n, width = matrix.shape
    values = pa.array(matrix.reshape(-1), type=pa.float32())
    return pa.FixedSizeListArray.from_arrays(values, width)


def vector_to_numpy(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Turn a fixed-size list column back into an ``(n, w)`` float32 matrix without per-row copies."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    width = column.type.list_size
    flat = column.flatten().to_numpy(zero_copy_only=False)
    return flat.astype(np.float32, copy=False).reshape(len(column), width)


@dataclass(frozen=True)
class Column:
    """One required column of a contract: its name and kind (int, float, bool or float vector)."""

    name: str
    kind: ColumnKind


def _kind_matches(arrow_type: pa.DataType, kind: ColumnKind) -> bool:
    if kind == "int":
        return pa.types.is_integer(arrow_type)
    if kind == "float":
        return pa.types.is_floating(arrow_type)
    if kind == "bool":
        return pa.types.is_boolean(arrow_type)
    return pa.types.is_fixed_size_list(arrow_type) and pa.types.is_floating(arrow_type.value_type)


@dataclass(frozen=True)
class Contract:
    """What a stage promises about one artifact file.

    ``columns`` must all be present with the given kinds and without nulls, except ``unknowable``
    columns, which may instead be null in every row (e.g. clean labels of intrinsically noisy data:
    known for all samples or for none); ``unique`` columns hold no duplicates; ``metadata_keys`` must
    exist in the JSON metadata; ``label_columns`` hold class indices in ``[0, metadata["num_classes"])``;
    ``class_vectors`` are vector columns whose width must equal ``num_classes``.
    """

    name: str
    columns: tuple[Column, ...]
    metadata_keys: tuple[str, ...] = ()
    unique: tuple[str, ...] = ("sample_id",)
    label_columns: tuple[str, ...] = ()
    class_vectors: tuple[str, ...] = ()
    unknowable: tuple[str, ...] = ()
    description: str = field(default="", compare=False)

    def validate(self, table: pa.Table, metadata: Mapping[str, Any], source: str) -> None:
        """Raise :class:`ArtifactError` naming ``source`` and the column if ``table`` breaks the contract."""
        where = f"{source} ({self.name} artifact)"
        for column in self.columns:
            if column.name not in table.column_names:
                raise ArtifactError(f"{where}: missing column {column.name!r}; found {sorted(table.column_names)}")
            data = table.column(column.name)
            if not _kind_matches(data.type, column.kind):
                raise ArtifactError(f"{where}: column {column.name!r} has type {data.type}, expected {column.kind}")
            all_null = column.name in self.unknowable and data.null_count == len(data)
            if data.null_count and not all_null:
                raise ArtifactError(f"{where}: column {column.name!r} has {data.null_count} null values")
        missing_keys = [key for key in self.metadata_keys if key not in metadata]
        if missing_keys:
            raise ArtifactError(f"{where}: metadata lacks keys {missing_keys}")
        for name in self.unique:
            values = table.column(name).to_numpy()
            if len(np.unique(values)) != len(values):
                raise ArtifactError(f"{where}: column {name!r} has duplicate values")
        has_ids = "sample_id" in table.column_names and table.num_rows
        if has_ids and table.column("sample_id").to_numpy().min() < 0:
            raise ArtifactError(f"{where}: column 'sample_id' has negative values")
        if self.label_columns or self.class_vectors:
            num_classes = int(metadata["num_classes"])
            for name in self.label_columns:
                if table.column(name).null_count:
                    continue  # an unknowable column that is unknown (checked above)
                labels = table.column(name).to_numpy()
                if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
                    raise ArtifactError(f"{where}: column {name!r} holds labels outside [0, {num_classes})")
            for name in self.class_vectors:
                width = table.column(name).type.list_size
                if width != num_classes:
                    raise ArtifactError(
                        f"{where}: column {name!r} has width {width}, expected num_classes={num_classes}"
                    )


@dataclass(frozen=True)
class Artifact:
    """A validated artifact: its Arrow table, its metadata and the path it came from."""

    table: pa.Table
    metadata: dict[str, Any]
    path: Path

    def numpy(self, name: str) -> np.ndarray:
        """Return column ``name`` as a numpy array (``(n, w)`` float32 for vector columns)."""
        column = self.table.column(name)
        if pa.types.is_fixed_size_list(column.type):
            return vector_to_numpy(column)
        return column.to_numpy()

    def __len__(self) -> int:
        return self.table.num_rows

    def take(self, rows: np.ndarray) -> Artifact:
        """The same artifact restricted to (and reordered by) the row positions ``rows``."""
        return Artifact(table=self.table.take(rows), metadata=self.metadata, path=self.path)


@dataclass(frozen=True)
class SharedColumns(Artifact):
    """An artifact whose columns are converted to numpy once and the same read-only array handed to
    every reader: for several readers of one column (the detection scores all read ``probs``, an
    ``(n, C)`` copy each time otherwise)."""

    _columns: dict[str, np.ndarray] = field(default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def of(cls, artifact: Artifact) -> SharedColumns:
        """``artifact``'s table, metadata and path, its columns converted once."""
        return cls(table=artifact.table, metadata=artifact.metadata, path=artifact.path)

    def numpy(self, name: str) -> np.ndarray:
        """Column ``name`` as :meth:`Artifact.numpy` gives it, converted on first use; read-only, so a
        reader that would change it in place fails instead of changing it for the others."""
        if name not in self._columns:
            values = super().numpy(name)
            values.setflags(write=False)
            self._columns[name] = values
        return self._columns[name]


def _to_arrow(values: Any) -> pa.Array:
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        return values
    array = np.asarray(values)
    if array.ndim == 2:
        return vector_array(array)
    return pa.array(array)


def write_table(
    columns: Mapping[str, Any],
    path: str | os.PathLike,
    contract: Contract,
    metadata: Mapping[str, Any],
) -> None:
    """Write ``columns`` (name → 1-D array, or 2-D array for vector columns) as Parquet, atomically.

    The table is validated against ``contract`` first, so a bug can never publish a broken file.
    ``metadata`` must be JSON-serialisable and deterministic.
    """
    table = pa.table({name: _to_arrow(values) for name, values in columns.items()})
    metadata = json_safe(dict(metadata))
    contract.validate(table, metadata, str(path))
    encoded = json.dumps(metadata, sort_keys=True).encode("utf-8")
    table = table.replace_schema_metadata({METADATA_KEY: encoded})
    with atomic_output(path) as tmp:
        pq.write_table(table, tmp)


def _metadata_from_schema(schema: pa.Schema, source: str) -> dict[str, Any]:
    raw = (schema.metadata or {}).get(METADATA_KEY)
    if raw is None:
        raise ArtifactError(f"{source}: no noisyprune metadata; was this file written by noisyprune?")
    try:
        return json.loads(raw)
    except json.JSONDecodeError as err:
        raise ArtifactError(f"{source}: corrupt noisyprune metadata ({err})") from err


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """Read only the JSON metadata of a Parquet artifact (cheap: no column data is loaded)."""
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"{path}: file not found")
    try:
        schema = pq.read_schema(path)
    except (pa.ArrowException, OSError) as err:
        raise ArtifactError(f"{path}: not a readable Parquet file ({err})") from err
    return _metadata_from_schema(schema, str(path))


def read_table(path: str | os.PathLike, contract: Contract) -> Artifact:
    """Read and validate the artifact at ``path`` against ``contract``.

    Raises :class:`ArtifactError` naming the file when it is missing, unreadable or off-contract.
    """
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"{path}: file not found (expected the {contract.name} artifact)")
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as err:
        raise ArtifactError(f"{path}: not a readable Parquet file ({err})") from err
    metadata = _metadata_from_schema(table.schema, str(path))
    contract.validate(table, metadata, str(path))
    return Artifact(table=table.replace_schema_metadata(None), metadata=metadata, path=path)


def check_same_samples(
    expected_ids: np.ndarray, actual_ids: np.ndarray, expected_source: str, actual_source: str
) -> None:
    """Raise :class:`ArtifactError` unless two artifacts cover exactly the same ``sample_id`` set."""
    if len(expected_ids) != len(actual_ids) or not np.array_equal(np.sort(expected_ids), np.sort(actual_ids)):
        raise ArtifactError(
            f"{actual_source}: has {len(actual_ids)} samples that do not match the "
            f"{len(expected_ids)} samples of {expected_source}; the file is stale or foreign"
        )


# --- the contracts between stages (see docs/architecture.md#artifact-contracts) --------------------

LABELS = Contract(
    name="labels",
    columns=(
        Column("sample_id", "int"),
        Column("clean_label", "int"),
        Column("noisy_label", "int"),
        Column("is_noisy", "bool"),
        Column("is_probe", "bool"),  # the clean probe set of meta-learners, held out of training
    ),
    metadata_keys=("dataset", "noise", "num_classes", "noise_rate", "transition_matrix"),
    label_columns=("clean_label", "noisy_label"),
    # Intrinsically noisy data (WebVision, Clothing-1M) has no clean training labels: both null.
    unknowable=("clean_label", "is_noisy"),
)

DYNAMICS = Contract(
    name="dynamics",
    columns=(
        Column("sample_id", "int"),
        Column("epoch", "int"),
        Column("loss", "float"),
        Column("correct", "bool"),
        Column("prediction", "int"),
    ),
    metadata_keys=("num_classes", "epochs"),
    unique=(),
    label_columns=("prediction",),
)

SNAPSHOTS = Contract(
    name="snapshots",
    columns=(
        Column("sample_id", "int"),
        Column("epoch", "int"),
        Column("loss", "float"),
        Column("el2n", "float"),
        Column("grand", "float"),
    ),
    metadata_keys=("epochs",),
    unique=(),
)

FEATURES = Contract(
    name="features",
    columns=(
        Column("sample_id", "int"),
        Column("noisy_label", "int"),
        Column("probs", "vector"),
        Column("embedding", "vector"),
        Column("loss", "float"),
        Column("confidence", "float"),
        Column("margin", "float"),
        Column("entropy", "float"),
        Column("max_logit", "float"),
        Column("prediction", "int"),
    ),
    metadata_keys=("num_classes", "embedding_dim", "model"),
    label_columns=("noisy_label", "prediction"),
    class_vectors=("probs",),
    # A precomputed warm-up given probabilities has no raw logits: max_logit is then null throughout.
    unknowable=("max_logit",),
)

SUBSET = Contract(
    name="subset",
    columns=(Column("sample_id", "int"), Column("rank", "int"), Column("score", "float")),
    metadata_keys=("method", "fraction", "budget", "num_candidates", "noise_rate", "class_counts"),
    unique=("sample_id", "rank"),
)

HISTORY = Contract(
    name="history",
    columns=(
        Column("epoch", "int"),
        Column("lr", "float"),
        Column("train_loss", "float"),
        Column("train_acc_noisy", "float"),
        Column("test_loss", "float"),
        Column("test_acc", "float"),
        Column("epoch_seconds", "float"),
    ),
    metadata_keys=("learner",),
    unique=("epoch",),
)

RELABELS = Contract(
    name="relabels",
    columns=(
        Column("sample_id", "int"),
        Column("noisy_label", "int"),
        Column("relabel", "int"),
        Column("in_subset", "bool"),
    ),
    metadata_keys=("num_classes", "learner"),
    label_columns=("noisy_label", "relabel"),
)

# Active learning (noisyprune.active): the labelled pool of a round and the query that grows it.
POOL = Contract(
    name="pool",
    columns=(Column("sample_id", "int"), Column("joined_round", "int"), Column("label", "int")),
    metadata_keys=("experiment", "round", "size", "num_classes", "label_source", "noise_rate"),
    label_columns=("label",),
)

QUERY = Contract(
    name="query",
    columns=(Column("sample_id", "int"), Column("rank", "int"), Column("score", "float")),
    metadata_keys=("experiment", "round", "acquisition", "size", "num_candidates"),
    unique=("sample_id", "rank"),
)
