"""Lazy registries: names in the config map to ``"module:attribute"`` strings, imported on demand.

Lazy entries keep each stage's imports (and hence its code hash, see :mod:`noisyprune.provenance`)
limited to the one pruner, learner, model or loader it uses: editing one pruner's file reruns only
the selections that use it.

Components outside the package join a registry through :func:`register` (the public hook), called
by a plugin module when it is imported; the config's ``plugins:`` list names those modules, and
:func:`load_plugins` imports them in the Snakemake process and in every job before anything looks a
name up.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable, Mapping
from typing import Any

from noisyprune.errors import ConfigError

TARGET = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
# Top-level packages of the plugin modules loaded in this process: their source is part of the
# code hash of the jobs that use them (noisyprune.provenance).
PLUGIN_PACKAGES: set[str] = set()


def import_target(target: str) -> Any:
    """Import the module of ``target`` (``"module:attribute"``) and return the attribute."""
    module_name, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


class Registry:
    """A named set of lazily imported implementations of one kind (pruners, learners, …)."""

    def __init__(self, kind: str, entries: Mapping[str, str]):
        self.kind = kind
        self._entries = dict(entries)

    def names(self) -> list[str]:
        """Return the registered names, sorted."""
        return sorted(self._entries)

    def registered(self) -> list[str]:
        """Return the registered names in registration order (built-ins first, as listed)."""
        return list(self._entries)

    def entries(self) -> dict[str, str]:
        """Return the registered names and their ``"module:attribute"`` targets, in registration order."""
        return dict(self._entries)

    def module_name(self, name: str) -> str:
        """Return the module that implements ``name`` (raises :class:`ConfigError` if unknown)."""
        return self._target(name)[0]

    def get(self, name: str) -> Any:
        """Import and return the implementation registered as ``name``."""
        return import_target(":".join(self._target(name)))

    def add(self, name: str, target: str) -> None:
        """Register ``target`` (``"module:attribute"``) as ``name``. Registering the same target
        again is a no-op (a plugin imported twice); another target under a taken name is refused."""
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
            raise ValueError(f"{self.kind} name {name!r}: use letters, digits and '_', starting with a letter")
        if not TARGET.match(target):
            raise ValueError(f"{self.kind} {name!r}: target {target!r} is not 'module:attribute'")
        if self._entries.get(name, target) != target:
            raise ValueError(
                f"{self.kind} {name!r} is already registered as {self._entries[name]!r}; choose another name"
            )
        self._entries[name] = target

    def _target(self, name: str) -> tuple[str, str]:
        if name not in self._entries:
            raise ConfigError(f"unknown {self.kind} {name!r}; known: {', '.join(self.names())}")
        module_name, _, attribute = self._entries[name].partition(":")
        return module_name, attribute

    def __contains__(self, name: object) -> bool:
        return name in self._entries


# Each kind's registry, by the kind :func:`register` takes. Imported by name, not by an import
# statement: a stage that imports this module must not have every registry (and the learners and
# models behind them) in its code hash (noisyprune.provenance follows import statements).
REGISTRIES = {
    "pruner": "noisyprune.pruners.registry:PRUNERS",
    "learner": "noisyprune.training.learners.registry:LEARNERS",
    "loader": "noisyprune.data.registry:DATASETS",
    "noise": "noisyprune.noise.registry:NOISE_MODELS",
    "arch": "noisyprune.models.registry:MODELS",
}


def registries() -> dict[str, Registry]:
    """The component registries by the kind :func:`register` takes (imports all of them, the
    models' with torch; :func:`registry_of` imports one)."""
    return {kind: import_target(target) for kind, target in REGISTRIES.items()}


def registry_of(kind: str) -> Registry:
    """The registry of one component ``kind`` (``pruner``, ``learner``, ``loader``, ``noise``,
    ``arch``), importing that registry alone: listing or validating pruners must not import the
    models' registry, which imports torch (seconds and hundreds of MB for ``noisyprune methods``)."""
    if kind not in REGISTRIES:
        raise ValueError(f"unknown component kind {kind!r}; use one of {sorted(REGISTRIES)}")
    return import_target(REGISTRIES[kind])


def register(kind: str, name: str, target: str) -> None:
    """The public hook: make ``target`` (``"module:attribute"``, a class or function declared with
    :func:`noisyprune.params.declare`) available as ``name`` to configs and the API. ``kind`` is
    ``pruner``, ``learner``, ``loader``, ``arch`` (the config keys that name them) or ``noise`` (a
    noise entry's ``kind``).

    Call it at the top level of a plugin module and list that module under the config's
    ``plugins:``; the workflow imports it in every process that needs the name."""
    registry_of(kind).add(name, target)
    PLUGIN_PACKAGES.add(target.partition(":")[0].split(".")[0])


def load_plugins(modules: Iterable[str]) -> None:
    """Import the plugin ``modules`` (the config's ``plugins:``), which register their components.
    Raises :class:`ConfigError` naming the module that cannot be imported and why."""
    if isinstance(modules, str) or not all(isinstance(m, str) for m in modules):
        raise ConfigError(f"config key 'plugins': expected a list of module names, got {modules!r}")
    for module in modules:
        PLUGIN_PACKAGES.add(module.split(".")[0])
        try:
            importlib.import_module(module)
        except Exception as err:
            raise ConfigError(f"config key 'plugins': cannot import {module!r}: {type(err).__name__}: {err}") from None
