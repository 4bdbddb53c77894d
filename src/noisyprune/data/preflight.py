"""Checks of the swept datasets' (and precomputed warm-ups') files when the workflow is parsed,
before any job is scheduled.

A data file found broken by the noise job would be found after Snakemake has removed that job's
previous outputs (and so everything downstream of them must rerun once the file is fixed). Here
each swept dataset is checked first: the built-in loaders' files exist; a user's own file
(``arrays``) is read and validated in full by its loader. A file that passed is not read again
until its size, modification time or dataset entry changes (the record is kept in ``cache_dir``).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from noisyprune.errors import ArtifactError, ConfigError


def _mnist(entry: Mapping[str, Any]) -> list[str]:
    from noisyprune.data.mnist import FILES, _find

    variant = entry["loader"]
    for stem in FILES.values():
        try:
            _find(Path(entry.get("root", f"data/{variant.replace('_', '-')}")), stem, variant)
        except FileNotFoundError as err:
            raise ArtifactError(str(err)) from None
    return []


def _cifar(entry: Mapping[str, Any]) -> list[str]:
    from noisyprune.data.cifar import HUMAN_FILES, LAYOUT

    loader = entry["loader"]
    variant = loader.removesuffix("n") if loader in HUMAN_FILES else loader
    folder = Path(entry.get("root", "data/cifar")) / LAYOUT[variant]["folder"]
    needed = [*LAYOUT[variant]["train"], *LAYOUT[variant]["test"], LAYOUT[variant]["meta"]]
    missing = [name for name in needed if not (folder / name).is_file()]
    if missing:
        raise ArtifactError(
            f"{loader}: missing {missing} in {folder}. Put the unpacked python version of the dataset there "
            "or set download: true"
        )
    if loader in HUMAN_FILES:
        labels = Path(entry.get("human_labels", f"data/{HUMAN_FILES[loader]}"))
        if not labels.is_file():
            raise ArtifactError(f"{loader}: human label file {labels} not found ({HUMAN_FILES[loader]} of CIFAR-N)")
    return []


def _arrays(entry: Mapping[str, Any]) -> list[str]:
    return [entry["path"]]  # read in full by its loader


def _tabular(entry: Mapping[str, Any]) -> list[str]:
    if entry.get("source", "breast_cancer") != "libsvm":
        return []
    files = [entry.get("path"), entry.get("test_path")]
    return [file for file in files if file is not None]  # read in full by its loader (parse errors)


def _image_folder(entry: Mapping[str, Any]) -> list[str]:
    root = Path(entry.get("root", ""))
    for folder in (root / entry.get("train_dir", "train"), root / entry.get("test_dir", "val")):
        if not folder.is_dir():
            raise ArtifactError(f"folder {folder} not found (ImageNet-style class folders are expected there)")
    return []


def _file_list(entry: Mapping[str, Any]) -> list[str]:
    root = Path(entry.get("root", ""))
    for key in ("train_list", "test_list", "train_keys", "test_keys"):
        if entry.get(key) and not (root / entry[key]).is_file():
            raise ArtifactError(f"{root / entry[key]}: {key} file not found")
    return []


# loader → a check that raises ArtifactError, returning the files its loader must read in full
# (none: the loader's own files are only looked for, their contents are read by the noise job).
CHECKS: dict[str, Callable[[Mapping[str, Any]], list[str]]] = {
    "mnist": _mnist,
    "fashion_mnist": _mnist,
    "cifar10": _cifar,
    "cifar100": _cifar,
    "cifar10n": _cifar,
    "cifar100n": _cifar,
    "arrays": _arrays,
    "tabular": _tabular,
    "image_folder": _image_folder,
    "file_list": _file_list,
}


def check_swept_datasets(config: Mapping[str, Any], cache_dir: str | os.PathLike | None = None) -> None:
    """Check every dataset of ``config["sweep"]["datasets"]``; raise :class:`ConfigError` naming
    the dataset entry and the file. Entries with ``download: true`` are left to their job."""
    cache = Path(cache_dir) / "checked_data.json" if cache_dir is not None else None
    passed = _read_cache(cache)
    for name in config["sweep"]["datasets"]:
        entry = config["datasets"][name]
        check = CHECKS.get(entry["loader"])
        if check is None or entry.get("download"):
            continue
        try:
            full_reads = check(entry)
            if full_reads:
                key = _fingerprint(entry, full_reads)
                if passed.get(name) != key:
                    from noisyprune.data.registry import load_dataset

                    load_dataset(name, entry)
                    passed[name] = key
        except (ArtifactError, OSError) as err:
            raise ConfigError(f"config key 'datasets.{name}' (loader {entry['loader']}): {err}") from None
    for name in config["sweep"]["warmups"]:
        entry = config["warmups"][name]
        if entry.get("source") != "precomputed":
            continue
        key = _fingerprint(entry, [entry["path"]])
        if passed.get(f"warmups.{name}") != key:
            try:
                from noisyprune.data.representation import check_warmup_arrays, read_representation

                check_warmup_arrays(read_representation(entry["path"]), entry["path"])
            except (ArtifactError, OSError) as err:
                raise ConfigError(f"config key 'warmups.{name}.path': {err}") from None
            passed[f"warmups.{name}"] = key
    _write_cache(cache, passed)


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


def _read_cache(cache: Path | None) -> dict[str, str]:
    if cache is None or not cache.is_file():
        return {}
    try:
        content = json.loads(cache.read_text())
    except (OSError, ValueError):
        return {}  # a damaged record only costs one more read
    return content if isinstance(content, dict) else {}


def _write_cache(cache: Path | None, passed: dict[str, str]) -> None:
    if cache is None:
        return
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        temporary = cache.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(passed, indent=1, sort_keys=True))
        os.replace(temporary, cache)
    except OSError:
        pass  # read-only working directory: the next parse checks again
