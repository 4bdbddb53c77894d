"""What a dataset loader declares besides its parameters: how the preflight reads its files before
any job, which human label sets it carries, whether its classes come in groups and whether it
applies ``max_train``/``max_test`` itself.

A loader declares them beside its code with :func:`loader_capabilities`; the config checks
(:mod:`noisyprune.config`), the preflight (:mod:`noisyprune.data.preflight`) and
:func:`noisyprune.data.registry.load_dataset` read them with :func:`capabilities_of`, so a plugin
loader reaches every one of them the way a built-in does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Facts:
    """What the jobs will find in a dataset: ``train_size`` training samples (after ``max_train``;
    ``None``: not known before a job), ``num_classes`` classes, the names of its human label sets
    and the ``input_shape`` of one input (each ``None``: not known before a job)."""

    train_size: int | None
    num_classes: int | None
    label_sets: tuple[str, ...] | None = None
    input_shape: tuple[int, ...] | None = None

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Facts:
        """The facts of a cache record (JSON: lists for tuples)."""
        lists = {key: record.get(key) for key in ("label_sets", "input_shape")}
        as_tuples = {key: tuple(value) for key, value in lists.items() if value is not None}
        return cls(record["train_size"], record["num_classes"], **as_tuples)


def no_files(entry: Mapping[str, Any]) -> list[str]:
    """A loader that reads no file of the user's (bundled data): nothing to look for."""
    return []


@dataclass(frozen=True)
class Check:
    """How the preflight reads one loader's data before any job. ``files(entry)`` looks for the
    files (raising ``ArtifactError`` naming one that is missing) and returns those whose size and
    modification time fingerprint the result; ``facts(name, entry, enough)`` reads them (``None``:
    the dataset loaded by its own loader, which checks every file it reads; ``enough``: a count
    beyond which counting samples may stop). ``cached``: whether the result may be kept until the
    files change."""

    files: Callable[[Mapping[str, Any]], list[str]] = no_files
    facts: Callable[[str, Mapping[str, Any], int], Facts] | None = None
    cached: bool = True


@dataclass(frozen=True)
class LoaderCapabilities:
    """What a loader can do. ``check``: how the preflight reads its data (``None``: left to its
    jobs). ``label_sets``: the human label sets its datasets carry (a ``human`` noise entry's
    ``labels``). ``class_groups``: its datasets group their classes (CIFAR-100's superclasses, for
    asymmetric ``pairs: superclass_next``). ``limits_itself``: it takes ``max_train``/``max_test``
    and draws the subset itself, before decoding anything (file-backed images)."""

    check: Check | None = None
    label_sets: tuple[str, ...] = ()
    class_groups: bool = False
    limits_itself: bool = False


def loader_capabilities(**capabilities: Any) -> Callable:
    """Function decorator: declare what a loader can do (the fields of :class:`LoaderCapabilities`),
    e.g. ``@loader_capabilities(check=Check(my_files), label_sets=("given",))``."""
    declared = LoaderCapabilities(**capabilities)  # an unknown capability is a TypeError here

    def attach(loader):
        loader.capabilities = declared
        return loader

    return attach


def capabilities_of(loader: Any) -> LoaderCapabilities:
    """The capabilities ``loader`` declared; a loader that declared none can do nothing special."""
    return getattr(loader, "capabilities", LoaderCapabilities())
