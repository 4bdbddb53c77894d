"""Checks of the swept datasets (and precomputed warm-ups) before any job is scheduled.

A file or value found wrong by a job would be found after Snakemake has removed that job's previous
outputs (and those of every job it reruns beside it). So, in ``onstart``, each swept dataset is read
as its jobs will read it, the way its loader declares (:class:`~noisyprune.data.capabilities.Check`):
in full by the loader where its files are read in seconds (digits, MNIST and Fashion-MNIST's IDX
headers and sizes, CIFAR's batches and CIFAR-N's label files, a user's ``arrays`` or LIBSVM file),
the label lists of ``file_list`` (paths, labels, duplicates, key lists; the images are decoded by
the jobs), and the class folders of ``image_folder``. What the jobs depend on is then checked
against the config:

- the dataset has two classes or more;
- every swept noise fits it (a human label set it holds, asymmetric pairs naming its classes);
- every swept warm-up, learner and active-learning learner has a ``batch_size`` no larger than its
  training set (the retrain job refuses that too; a batch larger only than a pruned subset is allowed).

What a file holds (training-set size, class count, label sets) is kept in ``cache_dir`` under a
fingerprint of the dataset entry and of its files' sizes and modification times, so a file is read
again only once it changes. Loaders that declare no check and ``download: true`` entries are left to
their jobs.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from noisyprune.data.capabilities import Check, Facts, capabilities_of
from noisyprune.errors import ArtifactError, ConfigError

DEFAULT_BATCH_SIZE = 128  # the schema's default, for an entry validated without defaults


class LoadedDatasets:
    """The datasets a preflight loads as their jobs do (their own loader checks every file it
    reads). One is kept after its facts are read only where a swept precomputed warm-up may match
    its rows against it (``keep``), so it is loaded once; otherwise it is dropped at once, and the
    preflight holds one dataset at a time."""

    def __init__(self, keep: bool):
        self.keep = keep
        self._loaded: dict[str, Any] = {}

    def get(self, name: str, entry: Mapping[str, Any]) -> Any:
        """Dataset ``name`` loaded by its config ``entry`` (an
        :class:`~noisyprune.data.base.ArrayDataset`), or the copy kept from an earlier call."""
        if name in self._loaded:
            return self._loaded[name]
        from noisyprune.data.registry import load_dataset

        data = load_dataset(name, entry)
        if self.keep:
            self._loaded[name] = data
        return data

    def facts(self, name: str, entry: Mapping[str, Any]) -> Facts:
        """What the jobs will find in dataset ``name`` (its config ``entry``), read from the loaded dataset."""
        data = self.get(name, entry)
        return Facts(data.num_train, data.num_classes, tuple(sorted(data.label_sets or ())), tuple(data.input_shape))


def swept_precomputed(config: Mapping[str, Any]) -> bool:
    """Whether ``config`` sweeps a precomputed warm-up (whose rows the preflight matches to the datasets)."""
    return any(config["warmups"][name].get("source") == "precomputed" for name in config["sweep"]["warmups"])


def declared_check(loader: str) -> Check | None:
    """How the preflight reads the data of ``loader`` (what the loader declared; ``None``: left to
    its jobs)."""
    from noisyprune.data.registry import DATASETS

    return capabilities_of(DATASETS.get(loader)).check


def check_swept_datasets(config: Mapping[str, Any], cache_dir: str | os.PathLike | None = None) -> None:
    """Check every dataset of ``config["sweep"]["datasets"]`` and what the swept noises and training
    entries need of it; raise :class:`ConfigError` naming the config key and the file. Entries with
    ``download: true`` and loaders that declare no check are left to their jobs."""
    cache = Path(cache_dir) / "checked_data.json" if cache_dir is not None else None
    passed = _read_cache(cache)
    enough = max(batch_sizes(config).values(), default=DEFAULT_BATCH_SIZE) + 1
    loaded = LoadedDatasets(keep=swept_precomputed(config))
    try:
        checked = {}
        for name in config["sweep"]["datasets"]:
            facts = dataset_facts(name, config["datasets"][name], passed, enough, loaded)
            if facts is not None:
                check_fits(config, name, facts)
                checked[name] = facts
        check_precomputed_warmups(config, passed, checked, loaded)
    finally:
        _write_cache(cache, passed)  # what passed is not read again, even when a later check failed


def dataset_facts(
    name: str, entry: Mapping[str, Any], passed: dict[str, Any], enough: int, loaded: LoadedDatasets
) -> Facts | None:
    """What the jobs will find in dataset ``name`` (its ``entry``), read now (by the loader's
    declared facts, else from the dataset ``loaded`` loads) or taken from ``passed`` (the cache,
    updated); ``None`` where it is left to the jobs."""
    check = declared_check(entry["loader"])
    if check is None or entry.get("download"):
        return None
    try:
        files = check.files(entry)
        key = _fingerprint(entry, files)
        record = passed.get(name)
        cached = check.cached and bool(key)
        if cached and isinstance(record, dict) and record.get("key") == key:
            facts = Facts.from_record(record["facts"])
        else:
            facts = check.facts(name, entry, enough) if check.facts else loaded.facts(name, entry)
            if cached:
                passed[name] = {"key": key, "facts": asdict(facts)}
    except (ArtifactError, OSError, ValueError) as err:
        raise ConfigError(f"config key 'datasets.{name}' (loader {entry['loader']}): {err}") from None
    if facts.num_classes is not None and facts.num_classes < 2:
        raise ConfigError(
            f"config key 'datasets.{name}' (loader {entry['loader']}): {facts.num_classes} class; noise, pruning "
            "and training need samples of at least two classes"
        )
    return facts


def batch_sizes(config: Mapping[str, Any]) -> dict[str, int]:
    """The ``batch_size`` of every training entry a swept job trains with, by dotted config key:
    the swept warm-ups that train (not precomputed), the swept learners and the learners of the
    swept active-learning experiments."""
    keys = [f"warmups.{name}" for name in config["sweep"]["warmups"]]
    keys += [f"learners.{name}" for name in config["sweep"]["learners"]]
    keys += [f"learners.{config['active'][name]['learner']}" for name in config["sweep"].get("active", [])]
    sizes = {}
    for key in dict.fromkeys(keys):
        section, name = key.split(".", 1)
        entry = config[section][name]
        if entry.get("source") != "precomputed":
            sizes[key] = int(entry.get("batch_size", DEFAULT_BATCH_SIZE))
    return sizes


def check_fits(config: Mapping[str, Any], dataset: str, facts: Facts) -> None:
    """What the swept jobs need of ``dataset`` (its ``facts``): every swept noise fits it, its
    ``augment`` fits its inputs and every swept batch is no larger than its training set."""
    for noise in config["sweep"]["noise"]:
        check_noise_fits(f"noise.{noise}", config["noise"][noise], dataset, config["datasets"][dataset], facts)
    augment = config["datasets"][dataset].get("augment")
    if augment and facts.input_shape is not None:  # the defaults by shape always fit
        from noisyprune.training.augment import AugmentationSpec  # imports torch: only for a set augment

        try:
            AugmentationSpec.from_entry(augment, facts.input_shape)
        except ConfigError as err:  # "augment.strong: …": the key, then what is wrong
            key, _, why = str(err).partition(": ")
            raise ConfigError(
                f"config key 'datasets.{dataset}.{key}': {why} (dataset {dataset!r} has inputs of shape "
                f"{list(facts.input_shape)})"
            ) from None
    if facts.train_size is None:
        return
    for key, batch_size in batch_sizes(config).items():
        if batch_size > facts.train_size:
            raise ConfigError(
                f"config key '{key}.batch_size': {batch_size} is larger than the whole training set of dataset "
                f"{dataset!r} ({facts.train_size} samples): every epoch would be one full-batch step"
            )


def check_noise_fits(key: str, noise: Mapping[str, Any], dataset: str, entry: Mapping[str, Any], facts: Facts) -> None:
    """A human label set the dataset holds; asymmetric pairs that name its classes (the noise job
    would refuse both)."""
    if noise["kind"] == "human" and facts.label_sets is not None and noise["labels"] not in facts.label_sets:
        where = f" ({entry['path']})" if "path" in entry else ""
        hint = (
            "; an arrays file gives it as the array noisy_y (.npz) or the column noisy_label (.parquet)"
            if noise["labels"] == "given"
            else ""
        )
        raise ConfigError(
            f"config key '{key}.labels': dataset {dataset!r}{where} holds no label set {noise['labels']!r} "
            f"(it holds: {', '.join(facts.label_sets) or 'none'}){hint}"
        )
    pairs = noise.get("pairs")
    if noise["kind"] == "asymmetric" and facts.num_classes is not None and pairs != "superclass_next":
        import numpy as np

        from noisyprune.noise.asymmetric import resolve_pairs

        try:
            resolve_pairs(pairs if pairs is not None else "next", facts.num_classes, rng=np.random.default_rng(0))
        except ValueError as err:
            raise ConfigError(
                f"config key '{key}.pairs': {err} (dataset {dataset!r} has {facts.num_classes} classes)"
            ) from None


def check_precomputed_warmups(
    config: Mapping[str, Any],
    passed: dict[str, Any],
    checked: Mapping[str, Facts],
    loaded: LoadedDatasets,
) -> None:
    """The representation files of the swept precomputed warm-ups, read in full once per change, and
    their rows matched to the training samples of every dataset in ``checked`` (those read above,
    with their facts) as the precomputed-warm-up job will match them: by ``sample_ids``, ``rows`` or
    ``paths`` (:func:`noisyprune.data.representation.warmup_rows`). A mismatch, such as ids counted
    over a file whose test split the loader held out, is reported here, naming the file and the
    samples, not by a job. Left to the job: datasets whose training-set size is not known exactly
    here (image folders are counted only up to the largest batch), and names (``rows``, ``paths``)
    of datasets that preflight does not load (file-backed images, plugin loaders, downloads).
    ``loaded``: the datasets the preflight loaded already (a dataset is loaded once)."""
    for name in config["sweep"]["warmups"]:
        entry = config["warmups"][name]
        if entry.get("source") != "precomputed":
            continue
        arrays = None
        for dataset in [None, *checked]:
            record = f"warmups.{name}" if dataset is None else f"warmups.{name}@datasets.{dataset}"
            dataset_entry = config["datasets"].get(dataset)
            files = [entry["path"]]
            if dataset is not None:
                check = declared_check(dataset_entry["loader"])
                if checked[dataset].train_size is None or check is None or not check.cached:
                    continue
                files += check.files(dataset_entry)
            key = _fingerprint({"warmup": dict(entry), "dataset": dataset_entry}, files)
            if key and passed.get(record) == key:
                continue
            try:
                from noisyprune.data.representation import check_warmup_arrays, read_representation

                if arrays is None:
                    arrays = read_representation(entry["path"])
                    check_warmup_arrays(arrays, entry["path"])
                if dataset is not None:
                    size = checked[dataset].train_size
                    _check_alignment(arrays, entry["path"], dataset, dataset_entry, check, size, loaded)
            except (ArtifactError, OSError) as err:
                raise ConfigError(f"config key 'warmups.{name}.path': {err}") from None
            passed[record] = key


def _check_alignment(
    arrays: Mapping[str, Any],
    path: str,
    dataset: str,
    entry: Mapping[str, Any],
    check: Check,
    size: int,
    loaded: LoadedDatasets,
) -> None:
    """Match a precomputed warm-up's ``arrays`` (from ``path``) to the ``size`` training samples of
    ``dataset`` (its config ``entry``, its loader's declared ``check``); rows named by ``rows`` or
    ``paths`` only where preflight loads the dataset (loaders whose declared check reads the data
    with the loader itself: the jobs' own load, seconds, done once for the facts and the rows)."""
    import numpy as np

    from noisyprune.data.representation import warmup_rows

    loads = check.facts is None  # (a download entry never reaches here: its data is left to the jobs)
    if "sample_ids" not in arrays and not loads:
        return  # paths of file-backed images: matched by the job, which has the decoded dataset
    load = (lambda: loaded.get(dataset, entry)) if loads else None
    warmup_rows(arrays, np.arange(size), f"{path} (for dataset {dataset!r})", load)


def _fingerprint(entry: Mapping[str, Any], files: list[str]) -> str:
    """Changes when the entry or any of ``files`` (size, modification time) changes."""
    stats = []
    for file in files:
        if not Path(file).is_file():
            return ""  # the loader reports the missing file
        stat = Path(file).stat()
        stats.append([str(Path(file).resolve()), stat.st_size, stat.st_mtime_ns])
    text = json.dumps([dict(entry), stats], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _read_cache(cache: Path | None) -> dict[str, Any]:
    if cache is None or not cache.is_file():
        return {}
    try:
        content = json.loads(cache.read_text())
    except (OSError, ValueError):
        return {}  # a damaged record only costs one more read
    return content if isinstance(content, dict) else {}


def _write_cache(cache: Path | None, passed: dict[str, Any]) -> None:
    if cache is None:
        return
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        temporary = cache.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(passed, indent=1, sort_keys=True))
        os.replace(temporary, cache)
    except OSError:
        pass  # read-only working directory: the next parse checks again
