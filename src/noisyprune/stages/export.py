"""Export: a kept subset handed back in the dataset's own terms, as a ``<name> <label>`` list.

For file-backed images the names are the paths as the user's list or class folders give them, so the
list is a ``train_list`` the ``file_list`` loader reads back (same ``root`` and ``train_images``);
for an ``arrays`` or LIBSVM file they are its row numbers; for the built-in datasets the index in
their training split. Samples come best first (the selection's rank), each with the noisy label the
selection saw or, after a retrain, the learner's corrected label. ``#`` lines on top name the run and
its provenance (the ``file_list`` loader skips them).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np

from noisyprune.artifacts import RELABELS, SUBSET, atomic_output, read_table
from noisyprune.data import load_dataset
from noisyprune.errors import ArtifactError
from noisyprune.stages.common import load_labels
from noisyprune.stages.interface import Files, Run


def run_export_stage(
    *, run: Run, inputs: Files, outputs: Files, dataset_entry: Mapping[str, Any], code_hash: str
) -> None:
    """Write the kept samples of ``inputs["subset"]`` as ``<name> <label>`` lines to ``outputs["kept"]``.

    ``run``: a selection (``dataset`` … ``fraction``) or, with ``inputs["relabels"]``, a retrain
    (and ``learner``). Labels are the noisy ones of ``inputs["labels"]`` or, given
    ``inputs["relabels"]``, the retrained learner's corrected labels of the kept samples."""
    labels_path, subset_path, relabels_path = inputs["labels"], inputs["subset"], inputs.get("relabels")
    data = load_dataset(run.dataset, dataset_entry)
    labels = load_labels(labels_path, data)
    subset = read_table(subset_path, SUBSET)
    kept = subset.numpy("sample_id")[np.argsort(subset.numpy("rank"), kind="stable")]
    label_of = labels.noisy
    label_source = "the noisy labels the selection saw (labels.parquet)"
    if relabels_path is not None:
        relabels = read_table(relabels_path, RELABELS)
        label_of = np.full(labels.sample_id.max() + 1, -1, dtype=np.int64)
        label_of[relabels.numpy("sample_id")] = relabels.numpy("relabel")
        label_source = f"corrected by learner {run.learner!r} (relabels.parquet)"
        if (label_of[kept] < 0).any():
            raise ArtifactError(f"{relabels_path}: no corrected label for some kept samples of {subset_path}")
    names = data.sample_names()[kept]
    if names.dtype.kind in "US" and any("\n" in name for name in names.tolist()):
        raise ArtifactError(f"dataset {run.dataset!r}: a sample path holds a line break; it cannot be listed")
    header = export_header(run, subset.metadata, data.train_names_kind, label_source, code_hash, len(labels.sample_id))
    lines = [f"{name} {int(label)}" for name, label in zip(names.tolist(), label_of[kept].tolist())]
    with atomic_output(outputs["kept"]) as tmp, open(tmp, "w", encoding="utf-8") as handle:
        handle.write("".join(f"# {line}\n" for line in header) + "".join(f"{line}\n" for line in lines))


def export_header(
    run: Run,
    selection: Mapping[str, Any],
    names_kind: str,
    label_source: str,
    code_hash: str,
    num_samples: int,
) -> list[str]:
    """The comment lines of a kept list: the run, what the names and labels are, and the provenance
    of the selection (method entry, seeds, code)."""
    run_text = ", ".join(f"{key} {value}" for key, value in run.wildcards().items())
    return [
        f"noisyprune kept subset: {run_text}",
        f"{selection['budget']} of {num_samples} training samples, best first; one '<name> <label>' per line",
        f"names: {names_kind}",
        f"labels: {label_source}",
        f"method entry: {json.dumps(selection['method_entry'], sort_keys=True)}",
        f"select seed {selection.get('select_seed')}, select code {selection.get('code_hash')}, "
        f"noisyprune {selection.get('package_version')}, export code {code_hash}",
    ]
