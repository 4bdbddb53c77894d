"""Bring-your-own data: arrays in a ``.npz`` or Parquet file, and tabular datasets (scikit-learn's
bundled breast cancer, LIBSVM-format files such as real-sim) for RDIA-style experiments.

``.npz`` keys: ``x`` ``(n, …)`` inputs, ``y`` ``(n,)`` clean labels, optionally ``x_test``/``y_test``
(else a stratified split of ``test_fraction``), ``noisy_y`` (labels as collected, e.g. by
annotators: available to the ``human`` noise model as the label set ``given``) and ``class_names``.

Parquet: one row per sample with a ``label`` column, optionally ``noisy_label`` and ``split``
(``train``/``test``); inputs either in one list column ``x`` (reshaped to ``input_shape`` if given)
or in the numeric ``feature_columns`` named by the config.

Inputs are standardised with the training split's statistics: per feature for vectors, per channel
for images ``(C, H, W)``; ``uint8`` images are scaled to [0, 1] first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from noisyprune.data.base import ArrayDataset, stratified_split
from noisyprune.errors import ArtifactError


def _split(x, y, noisy, test_fraction: float, split_seed: int):
    train, test = stratified_split(y, split_seed, test_size=test_fraction)
    return x[train], y[train], x[test], y[test], (noisy[train] if noisy is not None else None)


def _standardise(train_x: np.ndarray, test_x: np.ndarray):
    """Scale with the training split's mean/std (per channel for images, per feature otherwise)."""
    scale = 255.0 if train_x.dtype == np.uint8 else 1.0
    train_x, test_x = train_x.astype(np.float32) / scale, test_x.astype(np.float32) / scale
    axes = (0, 2, 3) if train_x.ndim == 4 else (0,)
    mean, std = train_x.mean(axis=axes), train_x.std(axis=axes)
    std = np.where(std > 0, std, 1.0)  # constant features stay constant instead of dividing by zero
    shape = (1, -1, 1, 1) if train_x.ndim == 4 else (1, -1)

    def normalise(x):
        return (x - mean.reshape(shape)) / std.reshape(shape)

    pixel = (tuple(float(v) for v in mean), tuple(float(v) for v in std)) if train_x.ndim == 4 else ((0.0,), (1.0,))
    return normalise(train_x).astype(np.float32), normalise(test_x).astype(np.float32), pixel


def _build(name, train_x, train_y, test_x, test_y, noisy, class_names, source) -> ArrayDataset:
    labels = np.concatenate([train_y, test_y])
    if len(labels) and labels.min() < 0:
        raise ArtifactError(f"{source}: labels must be non-negative class indices")
    num_classes = int(labels.max()) + 1 if len(labels) else 0
    if noisy is not None:
        if noisy.shape != train_y.shape:
            raise ArtifactError(f"{source}: noisy labels have {len(noisy)} entries for {len(train_y)} training samples")
        num_classes = max(num_classes, int(noisy.max()) + 1)
    if class_names is None:
        class_names = tuple(str(c) for c in range(num_classes))
    elif len(class_names) < num_classes:
        raise ArtifactError(f"{source}: {len(class_names)} class names for labels up to {num_classes - 1}")
    train_x, test_x, (mean, std) = _standardise(train_x, test_x)
    return ArrayDataset(
        name=name,
        train_x=train_x,
        train_y=train_y,
        test_x=test_x,
        test_y=test_y,
        class_names=tuple(map(str, class_names)),
        pixel_mean=mean,
        pixel_std=std,
        label_sets={"given": noisy} if noisy is not None else None,
    )


def load_arrays(
    name: str = "arrays",
    path: str = "",
    input_shape: list[int] | None = None,
    feature_columns: list[str] | None = None,
    test_fraction: float = 0.2,
    split_seed: int = 0,
) -> ArrayDataset:
    """Load the user's ``.npz`` or ``.parquet`` file ``path`` (formats in the module docstring)."""
    source = Path(path)
    if not source.is_file():
        raise ArtifactError(f"dataset {name!r}: file {path!r} not found (an .npz or .parquet file is expected)")
    if source.suffix == ".npz":
        x, y, test_x, test_y, noisy, class_names = _read_npz(source)
    elif source.suffix == ".parquet":
        x, y, test_x, test_y, noisy, class_names = _read_parquet(source, feature_columns)
    else:
        raise ArtifactError(f"{path}: unknown format {source.suffix!r}; use .npz or .parquet")
    if input_shape:
        try:
            x = x.reshape(len(x), *input_shape)
            test_x = test_x.reshape(len(test_x), *input_shape) if test_x is not None else None
        except ValueError:
            raise ArtifactError(f"{path}: inputs of {x[0].size} values cannot take input_shape {input_shape}") from None
    if len(x) != len(y):
        raise ArtifactError(f"{path}: {len(x)} inputs but {len(y)} labels")
    if noisy is not None and noisy.shape != y.shape:
        raise ArtifactError(f"{path}: noisy labels have {len(noisy)} entries for {len(y)} training samples")
    if test_x is None:
        x, y, test_x, test_y, noisy = _split(x, y, noisy, test_fraction, split_seed)
    return _build(name, x, y, test_x, test_y, noisy, class_names, path)


def _read_npz(path: Path):
    with np.load(path, allow_pickle=False) as archive:  # no pickled objects: nothing can execute
        keys = set(archive.files)
        missing = {"x", "y"} - keys
        if missing:
            raise ArtifactError(f"{path}: missing array(s) {sorted(missing)} (has {sorted(keys)})")

        def get(key):
            return archive[key] if key in keys else None

        y = np.asarray(archive["y"]).astype(np.int64)
        test_y = get("y_test")
        noisy = get("noisy_y")
        names = get("class_names")
        if ("x_test" in keys) != ("y_test" in keys):
            raise ArtifactError(f"{path}: give both x_test and y_test, or neither")
        return (
            np.asarray(archive["x"]),
            y,
            get("x_test"),
            None if test_y is None else test_y.astype(np.int64),
            None if noisy is None else noisy.astype(np.int64),
            None if names is None else tuple(names.tolist()),
        )


def _read_parquet(path: Path, feature_columns: list[str] | None):
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    columns = set(table.column_names)
    if "label" not in columns:
        raise ArtifactError(f"{path}: no 'label' column (has {sorted(columns)})")
    if feature_columns:
        absent = [c for c in feature_columns if c not in columns]
        if absent:
            raise ArtifactError(f"{path}: feature column(s) {absent} not found")
        x = np.column_stack([table.column(c).to_numpy() for c in feature_columns]).astype(np.float32)
    elif "x" in columns:
        x = np.stack(table.column("x").to_numpy(zero_copy_only=False)).astype(np.float32)
    else:
        raise ArtifactError(f"{path}: no 'x' list column and no feature_columns given")
    y = table.column("label").to_numpy().astype(np.int64)
    noisy = table.column("noisy_label").to_numpy().astype(np.int64) if "noisy_label" in columns else None
    if "split" not in columns:
        return x, y, None, None, noisy, None
    split = np.asarray(table.column("split").to_pylist())
    unknown = set(split) - {"train", "test"}
    if unknown:
        raise ArtifactError(f"{path}: split column has values {sorted(unknown)}; use train or test")
    train, test = split == "train", split == "test"
    return x[train], y[train], x[test], y[test], (noisy[train] if noisy is not None else None), None


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
        train_x, train_y, test_x, test_y, _ = _split(x, y, None, test_fraction, split_seed)
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
    index: dict[Any, int] = {value: i for i, value in enumerate(classes)}
    to_index = np.vectorize(index.__getitem__)
    y = to_index(y).astype(np.int64)
    x = x.toarray().astype(np.float32)
    if test_x is None:
        train_x, train_y, test_x, test_y, _ = _split(x, y, None, test_fraction, split_seed)
    else:
        train_x, train_y, test_x, test_y = x, y, test_x.toarray().astype(np.float32), to_index(test_y).astype(np.int64)
    return _build(name, train_x, train_y, test_x, test_y, None, tuple(f"{c:g}" for c in classes), path)
