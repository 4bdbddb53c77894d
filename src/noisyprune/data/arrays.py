"""Bring-your-own data: arrays in a ``.npz`` or Parquet file, and tabular datasets (scikit-learn's
bundled breast cancer, LIBSVM-format files such as real-sim) for RDIA-style experiments.

``.npz`` keys: ``x`` ``(n, …)`` inputs, ``y`` ``(n,)`` clean labels, optionally ``x_test``/``y_test``
(else a stratified split of ``test_fraction``), ``noisy_y`` (labels as collected, e.g. by
annotators: available to the ``human`` noise model as the label set ``given``) and ``class_names``.
Read with ``allow_pickle=False``: an object array is refused, never unpickled.

Parquet: one row per sample with a ``label`` column, optionally ``noisy_label`` and ``split``
(``train``/``test``); inputs either in one list column ``x`` (reshaped to ``input_shape`` if given)
or in the numeric ``feature_columns`` named by the config.

Images are stored channels-first ``(n, C, H, W)`` unless the entry declares ``layout``
(``channels_last``, ``grayscale``); an ambiguous shape is refused, and ``input_shape`` reshapes
flat rows only (:func:`~noisyprune.data.checks.arrange_inputs`). Labels must be class indices; the
class count is ``num_classes``, the file's class names, or the largest label + 1 when every class
below it has training samples (:func:`~noisyprune.data.checks.number_of_classes`).

Inputs are standardised with the training split's statistics: per feature for vectors, per channel
for images ``(C, H, W)``; ``uint8`` images are scaled to [0, 1] first. With ``input_scaling: unit``
they are only scaled to [0, 1]: ``uint8`` divided by 255, other inputs kept as stored, which must
then already lie in [0, 1] (a value outside is refused, never rescaled).
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from noisyprune.data.base import INPUT_SCALINGS, SPLIT_SEED, ArrayDataset, stratified_split
from noisyprune.data.capabilities import Check, loader_capabilities
from noisyprune.data.checks import (
    LAYOUTS,
    arrange_inputs,
    check_finite_inputs,
    check_numeric_inputs,
    class_indices,
    number_of_classes,
)
from noisyprune.errors import ArtifactError
from noisyprune.params import declare, param


def _split(x, y, noisy, test_fraction: float, split_seed: int):
    """The stratified train/test split, and the file rows ``(n_train,)`` of the training samples."""
    train, test = stratified_split(y, split_seed, test_size=test_fraction)
    return x[train], y[train], x[test], y[test], (noisy[train] if noisy is not None else None), train


def _standardise(train_x: np.ndarray, test_x: np.ndarray, input_scaling: str = "standardise", source: str = ""):
    """Scale with the training split's mean/std (per channel for images, per feature otherwise);
    ``input_scaling: unit`` only scales ``uint8`` to [0, 1] and checks that the inputs lie there."""
    scale = 255.0 if train_x.dtype == np.uint8 else 1.0
    train_x, test_x = train_x.astype(np.float32) / scale, test_x.astype(np.float32) / scale
    if input_scaling == "unit":
        for values, what in ((train_x, "training"), (test_x, "test")):
            if values.size and (float(values.min()) < 0.0 or float(values.max()) > 1.0):
                raise ArtifactError(
                    f"{source}: input_scaling unit needs inputs in [0, 1] (uint8 pixels are divided by 255), but the "
                    f"{what} inputs range over [{float(values.min()):g}, {float(values.max()):g}]; scale them in the "
                    "file or use input_scaling: standardise"
                )
        channels = train_x.shape[1] if train_x.ndim == 4 else 1
        return train_x, test_x, ((0.0,) * channels, (1.0,) * channels)
    axes = (0, 2, 3) if train_x.ndim == 4 else (0,)
    mean, std = train_x.mean(axis=axes), train_x.std(axis=axes)
    std = np.where(std > 0, std, 1.0)  # constant features stay constant instead of dividing by zero
    shape = (1, -1, 1, 1) if train_x.ndim == 4 else (1, -1)

    def normalise(x):
        return (x - mean.reshape(shape)) / std.reshape(shape)

    pixel = (mean, std) if train_x.ndim == 4 else ((0.0,), (1.0,))  # (ArrayDataset stores them as floats)
    return normalise(train_x).astype(np.float32), normalise(test_x).astype(np.float32), pixel


def _build(
    name, train_x, train_y, test_x, test_y, noisy, class_names, source, train_rows=None, input_scaling="standardise"
) -> ArrayDataset:
    """The dataset from split arrays whose labels are already checked to lie below
    ``len(class_names)`` (one name per class) and whose inputs are checked finite (before the split,
    so that a message names the row of the file). ``train_rows`` ``(n_train,)``: the rows of the
    user's file the training samples came from (``None``: the dataset has no file)."""
    train_x, test_x, (mean, std) = _standardise(train_x, test_x, input_scaling, source)
    return ArrayDataset(
        name=name,
        train_x=train_x,
        train_y=train_y,
        test_x=test_x,
        test_y=test_y,
        class_names=class_names,
        pixel_mean=mean,
        pixel_std=std,
        label_sets={"given": noisy} if noisy is not None else None,
        train_names=None if train_rows is None else np.asarray(train_rows, dtype=np.int64),
        train_names_kind="index in the training split" if train_rows is None else f"row of {source}",
    )


def arrays_file(entry) -> list[str]:
    """The one file of an ``arrays`` dataset ``entry`` (the preflight loads it before any job)."""
    return [entry["path"]]


@loader_capabilities(check=Check(arrays_file), label_sets=("given",))
@declare(
    param(
        "path",
        (
            "An `.npz` with arrays `x` (inputs), `y` (clean labels), optionally `x_test`/`y_test`, `noisy_y` (the "
            "labels you collected: noise kind `human` with `labels: given` uses them) and `class_names`; read with "
            "`allow_pickle=False`. Or a `.parquet` with a `label` column, optionally `noisy_label` and `split` "
            "(`train`/`test`), and the inputs in a list column `x` or in `feature_columns`."
        ),
        required=True,
        type="string",
    ),
    param(
        "input_shape",
        (
            "The shape of one input when the file stores flat rows, e.g. `[1, 28, 28]` (read row-major in the "
            "declared `layout`). For inputs stored with more dimensions it must equal their stored shape: it never "
            "reshapes them."
        ),
        type="array",
        items={"type": "integer", "minimum": 1},
        shown_default="as stored",
    ),
    param(
        "layout",
        (
            "How images are stored: `channels_first` `(n, C, H, W)`, `channels_last` `(n, H, W, C)` (transposed to "
            "channels-first on load) or `grayscale` `(n, H, W)` (read as one channel). Without it, `(n, a, b, c)` is "
            "read channels-first only when `a` ≤ 4 and `c` > 4; any other image shape, and every `(n, H, W)` array, "
            "is refused with the declaration to add."
        ),
        choices=LAYOUTS,
        shown_default="inferred where unambiguous",
    ),
    param(
        "num_classes",
        (
            "The class count C. Inferred as the largest label + 1 (or from the file's `class_names`), and then every "
            "class below it must have a training sample: a stray label 99 in a 3-class file is refused, not turned "
            "into a 100-class problem. Declare it when some class really has no training sample. Labels must be "
            "whole, finite, non-negative numbers below C; the first offending row is named."
        ),
        type="integer",
        minimum=2,
        shown_default="inferred",
    ),
    param(
        "feature_columns",
        "Numeric columns that form the input vector.",
        type="array",
        minItems=1,
        items={"type": "string"},
    ),
    param(
        "test_fraction",
        "Held-out test fraction when the file has no test split.",
        type="number",
        exclusiveMinimum=0,
        exclusiveMaximum=1,
    ),
    SPLIT_SEED,
    param(
        "input_scaling",
        (
            "`standardise`: inputs minus the training split's mean, divided by its standard deviation (per channel for "
            "images, per feature for vectors; `uint8` images are divided by 255 first). `unit`: `uint8` divided by 255,"
            " any other inputs kept as stored, which must then lie in [0, 1] (a value outside is refused, never "
            "rescaled) — the originals that feed pixels in [0, 1] without normalising (RDIA-LS's MNIST)."
        ),
        choices=list(INPUT_SCALINGS),
    ),
)
def load_arrays(
    name: str = "arrays",
    path: str = "",
    input_shape: list[int] | None = None,
    layout: str | None = None,
    num_classes: int | None = None,
    feature_columns: list[str] | None = None,
    test_fraction: float = 0.2,
    split_seed: int = 0,
    input_scaling: str = "standardise",
) -> ArrayDataset:
    """Load the user's ``.npz`` or ``.parquet`` file ``path`` (formats in the module docstring),
    checked before use: readable, labels class indices (``num_classes`` declared or inferred
    without gaps), inputs finite and laid out as declared (``layout``, ``input_shape``: see
    :func:`~noisyprune.data.checks.arrange_inputs`). Every error names the file. ``input_scaling``:
    module docstring."""
    source = Path(path)
    if not source.is_file():
        raise ArtifactError(f"dataset {name!r}: file {path!r} not found (an .npz or .parquet file is expected)")
    if source.suffix == ".npz":
        x, y, test_x, test_y, noisy, class_names = _read_npz(source)
        train_rows = np.arange(len(y))
    elif source.suffix == ".parquet":
        x, y, test_x, test_y, noisy, class_names, train_rows = _read_parquet(source, feature_columns)
    else:
        raise ArtifactError(f"{path}: unknown format {source.suffix!r}; use .npz or .parquet")
    x = arrange_inputs(x, layout, input_shape, path, "x")
    if test_x is not None:
        test_x = arrange_inputs(test_x, layout, input_shape, path, "x_test")
    if len(x) != len(y):
        raise ArtifactError(f"{path}: {len(x)} inputs but {len(y)} labels")
    if test_x is not None and len(test_x) != len(test_y):
        raise ArtifactError(f"{path}: {len(test_x)} test inputs but {len(test_y)} test labels")
    if noisy is not None and noisy.shape != y.shape:
        raise ArtifactError(f"{path}: noisy labels have {len(noisy)} entries for {len(y)} training samples")
    # Checked on the file's own rows, before any split, so that messages name rows of the file.
    declared_by = "the config's num_classes"
    if num_classes is None and class_names is not None:
        num_classes, declared_by = len(class_names), "the file's class names"
    label_arrays = {"y": y, "y_test": test_y, "noisy_y": noisy}
    present = {key: values for key, values in label_arrays.items() if values is not None}
    num_classes = number_of_classes(present, "y", path, num_classes, declared_by)
    if class_names is None:
        class_names = tuple(str(c) for c in range(num_classes))
    elif len(class_names) != num_classes:
        raise ArtifactError(
            f"{path}: {len(class_names)} class names but {num_classes} classes declared by {declared_by}"
        )
    if test_x is None:
        x, y, test_x, test_y, noisy, split_rows = _split(x, y, noisy, test_fraction, split_seed)
        train_rows = train_rows[split_rows]
    return _build(name, x, y, test_x, test_y, noisy, class_names, path, train_rows, input_scaling)


ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip with members, an empty zip


def open_npz(path: Path):
    """Open ``path`` as an ``.npz`` archive (``numpy.savez``'s zip of ``.npy`` arrays) for reading
    with :func:`npz_array`; a file that is not one, or is truncated, is an :class:`ArtifactError`."""
    with open(path, "rb") as handle:
        magic = handle.read(4)
    if magic not in ZIP_MAGIC:
        # np.load would try an unreadable file as a pickle and suggest allow_pickle: never do that.
        raise ArtifactError(
            f"{path}: not an .npz archive (a zip of .npy arrays, as numpy.savez writes); it starts with {magic!r}"
        )
    try:
        return np.load(path, allow_pickle=False)  # no pickled objects: nothing can execute
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as err:
        raise ArtifactError(
            f"{path}: not a readable .npz archive, truncated or corrupt ({type(err).__name__})"
        ) from None


def npz_array(archive, key: str, path: Path) -> np.ndarray:
    """The array ``key`` of an archive from :func:`open_npz`; object arrays (which only unpickling
    could read) and damaged members are an :class:`ArtifactError` naming the file and array."""
    try:
        return np.asarray(archive[key])
    except ValueError as err:
        if "pickle" in str(err):
            raise ArtifactError(
                f"{path}: array {key!r} holds Python objects (dtype object); only numeric and string arrays "
                "are read, a data file is never unpickled. Save it with a numeric dtype"
            ) from None
        raise ArtifactError(f"{path}: array {key!r} cannot be read, truncated or corrupt") from None
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error):
        raise ArtifactError(f"{path}: array {key!r} cannot be read, truncated or corrupt") from None


def _read_npz(path: Path):
    with open_npz(path) as archive:
        keys = set(archive.files)
        missing = {"x", "y"} - keys
        if missing:
            raise ArtifactError(f"{path}: missing array(s) {sorted(missing)} (has {sorted(keys)})")
        if ("x_test" in keys) != ("y_test" in keys):
            raise ArtifactError(f"{path}: give both x_test and y_test, or neither")

        def get(key):
            return None if key not in keys else npz_array(archive, key, path)

        x, test_x = get("x"), get("x_test")
        check_numeric_inputs(x, str(path), "x")
        check_finite_inputs(x, str(path), "x")  # before any split: a message names the row of the file
        if test_x is not None:
            check_numeric_inputs(test_x, str(path), "x_test")
            check_finite_inputs(test_x, str(path), "x_test")
        y = class_indices(get("y"), str(path), "y")
        test_y = get("y_test")
        noisy = get("noisy_y")
        names = get("class_names")
        if names is not None and (names.ndim != 1 or names.dtype.kind not in "US"):
            raise ArtifactError(f"{path}: class_names must be a 1-D array of strings, not {names.dtype} {names.shape}")
        return (
            x,
            y,
            test_x,
            None if test_y is None else class_indices(test_y, str(path), "y_test"),
            None if noisy is None else class_indices(noisy, str(path), "noisy_y"),
            None if names is None else tuple(str(n) for n in names.tolist()),
        )


def _read_parquet(path: Path, feature_columns: list[str] | None):
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as err:
        raise ArtifactError(f"{path}: not a readable Parquet file ({type(err).__name__}: {err})") from None
    columns = set(table.column_names)
    if "label" not in columns:
        raise ArtifactError(f"{path}: no 'label' column (has {sorted(columns)})")
    if feature_columns:
        absent = [c for c in feature_columns if c not in columns]
        if absent:
            raise ArtifactError(f"{path}: feature column(s) {absent} not found")
        for column in feature_columns:
            kind = table.schema.field(column).type
            if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)):
                raise ArtifactError(
                    f"{path}: feature column {column!r} has type {kind}; feature columns must be numeric"
                )
        x = np.column_stack([table.column(c).to_numpy(zero_copy_only=False) for c in feature_columns])
        x = x.astype(np.float32)
    elif "x" in columns:
        x = list_column(table, "x", path)
    else:
        raise ArtifactError(f"{path}: no 'x' list column and no feature_columns given")
    # Before the split below: a message names the row of the file.
    check_finite_inputs(x, str(path), "the feature columns" if feature_columns else "column 'x'")
    y = class_indices(_column(table, "label"), str(path), "column 'label'")
    noisy = None
    if "noisy_label" in columns:
        noisy = class_indices(_column(table, "noisy_label"), str(path), "column 'noisy_label'")
    if "split" not in columns:
        return x, y, None, None, noisy, None, np.arange(len(y))
    split = np.asarray(table.column("split").to_pylist(), dtype=object)
    unknown = {str(value) for value in split} - {"train", "test"}
    if unknown:
        raise ArtifactError(f"{path}: split column has values {sorted(unknown)}; use train or test")
    train, test = split == "train", split == "test"
    return (
        x[train],
        y[train],
        x[test],
        y[test],
        (noisy[train] if noisy is not None else None),
        None,
        np.flatnonzero(train),
    )


def list_column(table, name: str, path: Path) -> np.ndarray:
    """A list column of equal-length numeric lists as ``(n, d)`` float32, without Python objects."""
    import pyarrow as pa
    import pyarrow.compute as pc

    column = table.column(name).combine_chunks()
    kind = column.type
    if not (pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind)) or not (
        pa.types.is_integer(kind.value_type) or pa.types.is_floating(kind.value_type)
    ):
        raise ArtifactError(f"{path}: column {name!r} has type {kind}; it must hold lists of numbers")
    if column.null_count:
        first = int(np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))[0])
        raise ArtifactError(f"{path}: column {name!r} is empty in {column.null_count} row(s), first at row {first}")
    lengths = pc.list_value_length(column).to_numpy(zero_copy_only=False)
    if len(lengths) and (lengths != lengths[0]).any():
        odd = int(np.flatnonzero(lengths != lengths[0])[0])
        raise ArtifactError(
            f"{path}: column {name!r} rows differ in length ({lengths[0]} values in row 0, {lengths[odd]} in row {odd})"
        )
    values = column.flatten()
    if values.null_count:
        raise ArtifactError(f"{path}: column {name!r} holds {values.null_count} missing value(s) inside its lists")
    return values.to_numpy(zero_copy_only=False).astype(np.float32).reshape(len(column), -1)


def _column(table, name: str) -> np.ndarray:
    """A column as a numpy array; nulls become NaN (then refused as missing labels)."""
    column = table.column(name)
    if column.null_count:
        return np.asarray(column.to_pandas(), dtype=float)
    return column.to_numpy(zero_copy_only=False)


def tabular_files(entry) -> list[str]:
    """The LIBSVM files of a ``tabular`` dataset ``entry``; none for the data bundled with scikit-learn."""
    if entry.get("source", "breast_cancer") != "libsvm":
        return []
    return [file for file in (entry.get("path"), entry.get("test_path")) if file is not None]


@loader_capabilities(check=Check(tabular_files))
@declare(
    param(
        "source",
        "`breast_cancer` (569 × 30, 2 classes, bundled with scikit-learn) or `libsvm`.",
        choices=["breast_cancer", "libsvm"],
    ),
    param("path", "(`source: libsvm`) The LIBSVM training file.", type="string"),
    param("test_path", "LIBSVM test file; without it a stratified split of `test_fraction`.", type="string"),
    param(
        "test_fraction",
        "Held-out test fraction when the data has no test split.",
        type="number",
        exclusiveMinimum=0,
        exclusiveMaximum=1,
    ),
    SPLIT_SEED,
    param(
        "max_dense_gb",
        "LIBSVM data are held densely as float32; larger files are refused with their size.",
        type="number",
        exclusiveMinimum=0,
    ),
)
def load_tabular(
    name: str = "tabular",
    source: str = "breast_cancer",
    path: str | None = None,
    test_path: str | None = None,
    test_fraction: float = 0.3,
    split_seed: int = 0,
    max_dense_gb: float = 4.0,
) -> ArrayDataset:
    """A tabular dataset as feature vectors: ``source: breast_cancer`` (scikit-learn's bundled copy,
    569 samples, 30 features, 2 classes) or ``libsvm`` (the LIBSVM file ``path``, e.g. real-sim,
    read by scikit-learn; labels ±1 or 1..C are mapped to 0..C−1; held densely, refused above
    ``max_dense_gb``)."""
    if source == "breast_cancer":
        from sklearn.datasets import load_breast_cancer

        bunch = load_breast_cancer()
        x, y = bunch.data.astype(np.float32), bunch.target.astype(np.int64)
        train_x, train_y, test_x, test_y, _, _ = _split(x, y, None, test_fraction, split_seed)
        return _build(name, train_x, train_y, test_x, test_y, None, tuple(bunch.target_names), "breast_cancer")
    if source != "libsvm":
        raise ArtifactError(f"dataset {name!r}: unknown tabular source {source!r}; use breast_cancer or libsvm")
    from sklearn.datasets import load_svmlight_file, load_svmlight_files

    for file in (path, test_path):
        if file is not None and not Path(file).is_file():
            raise ArtifactError(f"dataset {name!r}: LIBSVM file {file!r} not found")
    if path is None:
        raise ArtifactError(f"dataset {name!r}: tabular source libsvm needs a path")
    try:
        if test_path:
            x, y, test_x, test_y = load_svmlight_files([path, test_path])
        else:
            x, y = load_svmlight_file(path)
            test_x = test_y = None
    except ValueError as err:
        raise ArtifactError(f"{path}: not a LIBSVM file ({err})") from None
    n_test = 0 if test_x is None else test_x.shape[0]
    dense_gb = (x.shape[0] + n_test) * x.shape[1] * 4 / 1e9
    if dense_gb > max_dense_gb:
        raise ArtifactError(f"{path}: {dense_gb:.1f} GB as dense float32, above max_dense_gb {max_dense_gb}")
    classes = np.unique(np.concatenate([y, test_y]) if test_y is not None else y)
    if len(classes) < 2:
        raise ArtifactError(
            f"{path}: every label is {classes[0]:g}; a classification needs samples of at least two classes"
        )
    index: dict[Any, int] = {value: i for i, value in enumerate(classes)}
    to_index = np.vectorize(index.__getitem__)
    y = to_index(y).astype(np.int64)
    x = x.toarray().astype(np.float32)
    check_finite_inputs(x, path, "the inputs")  # before the split: rows are lines of the file (0-based)
    if test_x is None:
        train_x, train_y, test_x, test_y, _, train_rows = _split(x, y, None, test_fraction, split_seed)
    else:
        train_x, train_y, test_x, test_y = x, y, test_x.toarray().astype(np.float32), to_index(test_y).astype(np.int64)
        check_finite_inputs(test_x, test_path, "the inputs")
        train_rows = np.arange(len(y))
    # LIBSVM rows are lines of the file (0-based), the user's own name for each sample.
    return _build(name, train_x, train_y, test_x, test_y, None, tuple(f"{c:g}" for c in classes), path, train_rows)
