"""Provenance: which code produced a result, and on what machine.

Snakemake does not track the modules a ``script:`` imports, so each rule puts a *code hash* in its
``params:``. The hash covers exactly the package modules a stage can execute: the import closure
of its entry modules (found by parsing ``import`` statements, not by importing) plus the one
lazily registered pruner/learner/model/loader it uses (a plugin's module and what it imports from its
own package included). Editing a pruner therefore reruns only the selections that use it; editing
the training loop reruns warm-ups and retrains.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import os
import platform
import socket
import sys
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

import noisyprune
from noisyprune.registry import PLUGIN_PACKAGES

PACKAGE = "noisyprune"
PACKAGE_DIR = Path(noisyprune.__file__).resolve().parent


def _module_path(module: str) -> Path | None:
    """Path of the source file of ``noisyprune[.x.y]`` or of a module of a loaded plugin's package
    (:data:`noisyprune.registry.PLUGIN_PACKAGES`), or ``None`` for any other module."""
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return _plugin_module_path(module) if parts[0] in PLUGIN_PACKAGES else None
    base = PACKAGE_DIR.joinpath(*parts[1:])
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    return None


def _plugin_module_path(module: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    origin = spec.origin if spec is not None else None
    return Path(origin) if origin and origin.endswith(".py") and os.path.isfile(origin) else None


def _parent_packages(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


@functools.cache
def _direct_imports(module: str) -> tuple[str, ...]:
    """Package modules imported anywhere in ``module``'s source (including inside functions)."""
    path = _module_path(module)
    if path is None:
        return ()
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = module.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            found.add(base)
            # ``from pkg import name`` may import a submodule called ``name``.
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return tuple(sorted(m for m in found if _module_path(m) is not None))


def import_closure(modules: Iterable[str]) -> list[str]:
    """All package modules that importing ``modules`` can execute, parents' ``__init__`` included."""
    pending = list(modules)
    seen: set[str] = set()
    while pending:
        module = pending.pop()
        if module in seen or _module_path(module) is None:
            continue
        seen.add(module)
        pending.extend(_parent_packages(module))
        pending.extend(_direct_imports(module))
    return sorted(seen)


def code_hash(modules: Iterable[str]) -> str:
    """A 16-hex-digit hash of the source of ``modules`` and everything they import from the package."""
    digest = hashlib.sha256()
    for module in import_closure(modules):
        path = _module_path(module)
        digest.update(module.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def environment(device: str | None = None) -> dict[str, Any]:
    """Versions and machine facts for a result's provenance block (not deterministic: host, device).

    ``device`` is a description of the compute device used (e.g. from
    :func:`noisyprune.training.device.device_description`). torch's CUDA version is read only if
    torch is already imported, so light stages do not pay for importing it.
    """
    torch_module = sys.modules.get("torch")
    return {
        "package_version": noisyprune.__version__,
        "python_version": platform.python_version(),
        "torch_version": _version("torch"),
        "cuda_version": getattr(getattr(torch_module, "version", None), "cuda", None),
        "snakemake_version": _version("snakemake"),
        "numpy_version": _version("numpy"),
        "device": device,
        "host": socket.gethostname(),
        "platform": platform.platform(),
        # how idle OpenMP threads waited: timings on shared cores depend on it (noisyprune.thread_policy)
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
    }
