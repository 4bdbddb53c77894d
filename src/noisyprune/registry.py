"""Lazy registries: names in the config map to ``"module:attribute"`` strings, imported on demand.

Lazy entries keep each stage's imports (and hence its code hash, see :mod:`noisyprune.provenance`)
limited to the one pruner, learner, model or loader it uses: editing one pruner's file reruns only
the selections that use it.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from noisyprune.errors import ConfigError


class Registry:
    """A named set of lazily imported implementations of one kind (pruners, learners, …)."""

    def __init__(self, kind: str, entries: Mapping[str, str]):
        self.kind = kind
        self._entries = dict(entries)

    def names(self) -> list[str]:
        """Return the registered names, sorted."""
        return sorted(self._entries)

    def module_name(self, name: str) -> str:
        """Return the module that implements ``name`` (raises :class:`ConfigError` if unknown)."""
        return self._target(name)[0]

    def get(self, name: str) -> Any:
        """Import and return the implementation registered as ``name``."""
        module_name, attribute = self._target(name)
        return getattr(importlib.import_module(module_name), attribute)

    def _target(self, name: str) -> tuple[str, str]:
        if name not in self._entries:
            raise ConfigError(f"unknown {self.kind} {name!r}; known: {', '.join(self.names())}")
        module_name, _, attribute = self._entries[name].partition(":")
        return module_name, attribute

    def __contains__(self, name: object) -> bool:
        return name in self._entries
