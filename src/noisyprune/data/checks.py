"""Checks on what a user's data file holds, shared by the file loaders: labels that are class indices,
a class set without silent gaps, finite inputs and a declared image layout. Every message names the
file, the array or column and the first offending row."""

from __future__ import annotations

import numpy as np

from noisyprune.errors import ArtifactError

# How the arrays loader may be told its stored images are laid out (its `layout` choices).
LAYOUTS = ("channels_first", "channels_last", "grayscale")


def _first_rows(mask: np.ndarray, limit: int = 3) -> str:
    rows = np.flatnonzero(mask)[:limit]
    return ", ".join(str(int(row)) for row in rows)


def class_indices(values: np.ndarray, source: str, what: str) -> np.ndarray:
    """``values`` ``(n,)`` as int64 class indices, or an :class:`ArtifactError` naming ``source``,
    ``what`` (the array or column) and the first bad rows: labels must be numbers, finite, whole
    and non-negative. Whole-valued floats (``3.0``) are accepted as the integers they equal; a
    fractional label is never truncated."""
    values = np.asarray(values)
    if values.ndim != 1:
        raise ArtifactError(f"{source}: {what} has shape {values.shape}; labels are one class index per sample")
    if values.dtype.kind == "b":
        return values.astype(np.int64)
    if values.dtype.kind in "iu":
        labels = values.astype(np.int64)
    elif values.dtype.kind == "f":
        finite = np.isfinite(values)
        if not finite.all():
            raise ArtifactError(
                f"{source}: {what} holds {int((~finite).sum())} missing or non-finite label(s), first at "
                f"row(s) {_first_rows(~finite)}"
            )
        whole = values == np.round(values)
        if not whole.all():
            raise ArtifactError(
                f"{source}: {what} holds {int((~whole).sum())} fractional label(s), e.g. {float(values[~whole][0])} "
                f"at row {_first_rows(~whole, 1)}; labels are integer class indices"
            )
        labels = values.astype(np.int64)
    else:
        raise ArtifactError(
            f"{source}: {what} has dtype {values.dtype}; labels are integer class indices 0..C-1 (map names to "
            "indices and give the names as class_names)"
        )
    negative = labels < 0
    if negative.any():
        raise ArtifactError(
            f"{source}: {what} holds {int(negative.sum())} negative label(s), first {int(labels[negative][0])} at "
            f"row(s) {_first_rows(negative)}; labels are class indices 0..C-1"
        )
    return labels


def number_of_classes(
    labels: dict[str, np.ndarray], train_key: str, source: str, declared: int | None, declared_by: str
) -> int:
    """The class count ``C`` of a dataset whose label arrays are ``labels`` (name → ``(n,)`` int64
    indices; ``train_key`` names the clean training labels).

    Declared (``declared``, from ``declared_by``: the config's ``num_classes`` or the file's class
    names): every label must lie below it. Inferred (``declared`` is ``None``): ``C`` is the largest
    label + 1, and every class below it must occur among the training labels — a stray label 99
    in a 3-class file would otherwise make a 100-class problem whose noise flips into classes
    that do not exist."""
    if declared is not None:
        if declared < 2:
            raise ArtifactError(f"{source}: {declared_by} declares {declared} class(es); at least two are needed")
        for what, values in labels.items():
            above = values >= declared
            if above.any():
                raise ArtifactError(
                    f"{source}: {what} holds label {int(values[above][0])} at row(s) {_first_rows(above)}, outside "
                    f"the {declared} classes declared by {declared_by} (labels 0..{declared - 1})"
                )
        return declared
    present = [values for values in labels.values() if len(values)]
    count = int(max(values.max() for values in present)) + 1 if present else 0
    if count < 2:  # noise, pruning and training all compare classes: one class is a broken file
        raise ArtifactError(
            f"{source}: every label is 0 (in {', '.join(labels)}): a single class; a classification needs "
            "samples of at least two classes"
            if count
            else f"{source}: no labels"
        )
    seen = np.bincount(labels[train_key], minlength=count) > 0
    if count and not seen.all():
        missing = np.flatnonzero(~seen)
        shown = ", ".join(str(int(c)) for c in missing[:8]) + (", …" if len(missing) > 8 else "")
        largest = max(present, key=lambda values: values.max())
        where = next(what for what, values in labels.items() if values is largest)
        raise ArtifactError(
            f"{source}: the labels run up to {count - 1} (in {where}) but {len(missing)} class(es) below that have "
            f"no training sample: {shown}. Remap the labels to 0..K-1, or declare the class count "
            "(num_classes in the dataset entry, or class_names in the file) if those classes are meant to exist"
        )
    return count


def check_finite_inputs(x: np.ndarray, source: str, what: str) -> None:
    """Refuse NaN or ±inf anywhere in the inputs ``x`` ``(n, …)``, naming the count and first rows."""
    if x.dtype.kind not in "fc" or not len(x):
        return
    bad = ~np.isfinite(x.reshape(len(x), -1)).all(axis=1)
    if bad.any():
        raise ArtifactError(
            f"{source}: {what} has {int(bad.sum())} row(s) with NaN or infinite values, first at row(s) "
            f"{_first_rows(bad)}; fix or drop them before training"
        )


def aligned_matrix(values, name: str, n: int) -> np.ndarray:
    """``values`` as a float32 ``(n, k)`` matrix aligned with ``n`` samples; ``ValueError`` naming
    ``name`` for another shape, non-numbers or non-finite rows (the public API's argument checks)."""
    array = np.asarray(values)
    if array.ndim != 2 or len(array) != n:
        raise ValueError(f"{name}: expected shape ({n}, …) aligned with labels, got {array.shape}")
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{name}: expected numbers, got dtype {array.dtype}")
    array = array.astype(np.float32)
    try:
        check_finite_inputs(array, name, "the array")
    except ArtifactError as err:
        raise ValueError(str(err)) from None
    return array


def check_numeric_inputs(x: np.ndarray, source: str, what: str) -> None:
    """Inputs must be numbers (bool, integer or float arrays)."""
    if x.dtype.kind not in "biuf":
        raise ArtifactError(f"{source}: {what} has dtype {x.dtype}; inputs must be numeric arrays")


def arrange_inputs(x: np.ndarray, layout: str | None, input_shape: list[int] | None, source: str, what: str):
    """The inputs ``x`` ``(n, …)`` as the network reads them: vectors ``(n, d)`` or channels-first
    ``(n, C, …)``. Never a guess and never a blind reshape:

    - ``input_shape`` reshapes *flat* rows ``(n, d)`` only (row-major, in the declared ``layout``,
      channels-first when none is declared);
      for stored multi-dimensional inputs it must equal the stored shape of one input;
    - ``layout: channels_last`` transposes ``(n, H, W, C)`` → ``(n, C, H, W)``; ``grayscale`` adds
      the channel axis to ``(n, H, W)``; ``channels_first`` (the default) keeps the stored order;
    - without a ``layout``, images ``(n, a, b, c)`` are read channels-first only when ``a`` can be a
      channel count (≤ 4) and ``c`` cannot; anything else, and every ``(n, H, W)`` array, is refused
      with the declaration that would resolve it."""
    if input_shape:
        stored = tuple(x.shape[1:])
        if x.ndim == 2:
            if int(np.prod(input_shape)) != stored[0]:
                raise ArtifactError(
                    f"{source}: {what} rows hold {stored[0]} values, which cannot take input_shape {list(input_shape)} "
                    f"({int(np.prod(input_shape))} values)"
                )
            x = x.reshape(len(x), *input_shape)
            if layout is None:  # flat rows given a shape: that shape is channels-first, as documented
                return x
        elif stored != tuple(input_shape):
            raise ArtifactError(
                f"{source}: {what} stores inputs of shape {list(stored)}, not input_shape {list(input_shape)}; "
                "input_shape only reshapes flat rows. For images stored (n, H, W, C) declare layout: channels_last "
                "(they are then transposed), and drop input_shape or set it to the stored shape"
            )
    if layout == "channels_last":
        if x.ndim < 3:
            raise ArtifactError(f"{source}: layout channels_last needs inputs (n, …, C); {what} is {x.shape}")
        return np.moveaxis(x, -1, 1)
    if layout == "grayscale":
        if x.ndim != 3:
            raise ArtifactError(f"{source}: layout grayscale needs inputs (n, H, W); {what} is {x.shape}")
        return x[:, None]
    if layout == "channels_first" or x.ndim == 2:
        return x
    if x.ndim == 3:
        raise ArtifactError(
            f"{source}: {what} has shape {x.shape}: (n, H, W) images or (n, C, L) signals? Declare layout: "
            "grayscale for one-channel images (read as (n, 1, H, W)) or layout: channels_first to keep the stored order"
        )
    if x.ndim == 4:
        first, last = x.shape[1] <= 4, x.shape[3] <= 4
        if first and not last:
            return x
        hint = (
            "it looks channels-last (n, H, W, C): declare layout: channels_last"
            if last and not first
            else "declare layout: channels_first (n, C, H, W) or layout: channels_last (n, H, W, C)"
        )
        raise ArtifactError(f"{source}: {what} has shape {x.shape}, an ambiguous image layout; {hint}")
    raise ArtifactError(f"{source}: {what} has shape {x.shape}; declare layout: channels_first to use it as stored")
