"""The config schema: the hand-written file for everything shared, plus one branch per registered
component generated from its parameter declarations (:mod:`noisyprune.params`).

``workflow/schemas/config.schema.yaml`` defines, for each kind of component, the keys every entry
shares (a method's ``pruner``, a training entry's optimisation settings). :func:`assemble_schema`
adds the list of names and one ``if``/``then`` branch per registered component: its declared
parameters, with types, bounds and defaults, and ``additionalProperties: false``. Plugins registered
through :func:`noisyprune.registry.register` get their branches the same way.

Building the branches imports every component (the learners import torch, seconds). The assembled
schema is therefore written to a file named by a hash of the static schema and of every source file
it is built from, and reused while none of them changes; Snakemake's validation reads that file.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from noisyprune.params import Declared, declared_parameters

STATIC_SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"


@dataclass(frozen=True)
class ComponentKind:
    """One kind of component: the config ``key`` that names it, the schema ``definition`` (``$defs``
    entry) of its config entries, its registry kind (:func:`noisyprune.registry.registries`), the
    signature arguments the framework fills (``context``) and registered names a config may not use."""

    key: str
    definition: str
    registry: str
    context: tuple[str, ...] = ()
    hidden: tuple[str, ...] = ()


KINDS = (
    ComponentKind("pruner", "method", "pruner", hidden=("full",)),
    ComponentKind("learner", "training", "learner"),
    ComponentKind("loader", "dataset", "loader", context=("name", "max_train", "max_test")),
    ComponentKind("kind", "noise_spec", "noise", context=("clean", "num_classes", "rng", "data")),
    ComponentKind("arch", "model", "arch", context=("input_shape", "num_classes")),
)


def kind_named(registry: str) -> ComponentKind:
    """The component kind whose registry is called ``registry`` (``pruner``, ``learner``, …)."""
    for kind in KINDS:
        if kind.registry == registry:
            return kind
    raise ValueError(f"unknown component kind {registry!r}; use one of {[k.registry for k in KINDS]}")


def component_parameters(kind: ComponentKind, name: str) -> list[Declared]:
    """The declared parameters of component ``name`` of ``kind`` (imports it)."""
    from noisyprune.registry import registry_of

    target = registry_of(kind.registry).get(name)
    return declared_parameters(target, kind.context, f"{kind.registry} {name!r}")


def component_names(kind: ComponentKind) -> list[str]:
    """The names a config may give ``kind.key``, in registration order."""
    from noisyprune.registry import registry_of

    return [name for name in registry_of(kind.registry).registered() if name not in kind.hidden]


def component_branch(kind: ComponentKind, name: str, shared: list[str]) -> dict[str, Any]:
    """The ``if``/``then`` branch that validates an entry whose ``kind.key`` is ``name``: the shared
    keys (validated by the definition itself) and the component's declared parameters, nothing else."""
    declared = component_parameters(kind, name)
    then: dict[str, Any] = {"additionalProperties": False}
    required = [d.param.name for d in declared if d.required]
    if required:
        then["required"] = required
    then["properties"] = {key: {} for key in shared} | {d.param.name: d.schema() for d in declared}
    return {"if": {"properties": {kind.key: {"const": name}}}, "then": then}


def assemble_schema(static: Mapping[str, Any]) -> dict[str, Any]:
    """The full config schema: ``static`` (the parsed schema file) with, for every kind, the names
    its key allows and one branch per component."""
    schema = copy.deepcopy(dict(static))
    for kind in KINDS:
        definition = schema["$defs"][kind.definition]
        shared = list(definition["properties"])
        names = component_names(kind)
        definition["properties"][kind.key]["enum"] = names
        definition["allOf"] = [component_branch(kind, name, shared) for name in names] + definition.get("allOf", [])
    return schema


def schema_file() -> Path:
    """A file holding the assembled schema (JSON, which Snakemake's validation reads as YAML),
    built once per distinct set of sources under the user cache (``$XDG_CACHE_HOME/noisyprune``),
    or the temporary folder where that cannot be written."""
    from noisyprune.provenance import code_hash
    from noisyprune.registry import registries

    # What a schema is built from: the static file, the registered names and targets, and every
    # component's module with what it imports from noisyprune or its plugin package (the jobs'
    # code-hash closure).
    entries = {kind: registry.entries() for kind, registry in registries().items()}
    modules = [__name__] + [target.partition(":")[0] for kind in entries.values() for target in kind.values()]
    sources = STATIC_SCHEMA.read_bytes() + json.dumps(entries).encode() + code_hash(modules).encode()
    digest = hashlib.sha256(sources).hexdigest()
    name = f"config.schema.{digest[:20]}.json"
    user_cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "noisyprune" / "schema"
    for root in (user_cache, Path(tempfile.gettempdir()) / f"noisyprune-schema-{os.getuid()}"):
        path = root / name
        if path.is_file():
            return path
        try:
            root.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(f"{name}.{os.getpid()}.tmp")
            partial.write_text(json.dumps(assemble_schema(_static_schema()), indent=1), encoding="utf-8")
            os.replace(partial, path)  # atomic: a concurrent reader sees the whole file or none
            return path
        except OSError:  # a read-only home (some cluster nodes): the temporary folder instead
            continue
    raise OSError(f"cannot write the assembled config schema under {user_cache} or the temporary folder")


def _static_schema() -> dict[str, Any]:
    return yaml.safe_load(STATIC_SCHEMA.read_text(encoding="utf-8"))


def method_schema(pruner: str) -> dict[str, Any]:
    """A self-contained schema for one method entry ``{"pruner": pruner, …}``, built from the
    pruner declarations alone (the Python API validates with it; no workflow file needed)."""
    kind = kind_named("pruner")
    names = component_names(kind)
    branches = [component_branch(kind, pruner, [kind.key])] if pruner in names else []
    return {
        "type": "object",
        "required": [kind.key],
        "properties": {kind.key: {"enum": names}},
        "allOf": branches,
    }
