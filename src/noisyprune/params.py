"""Parameter declarations: what a pruner, learner, loader, noise model or architecture takes from
its config entry, declared once beside its code.

A component declares each parameter with :class:`Param` (name, one-line meaning, JSON-schema type
and bounds) through :func:`declare`; its **default** is the default of the same-named argument of
its Python signature, so it is written once, in the code that uses it. From these declarations
:mod:`noisyprune.schema` builds the config schema's per-component branches (what the workflow and
the Python API validate against) and :mod:`noisyprune.param_tables` the parameter tables of
``config/README.md``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from noisyprune.arguments import checking_arguments

# JSON-schema keywords a declaration may use besides ``type``; the default comes from the signature.
SCHEMA_KEYWORDS = frozenset(
    {
        "type",
        "enum",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "items",
        "minItems",
        "maxItems",
        "uniqueItems",
        "oneOf",
        "anyOf",
        "$ref",
        "pattern",
        "additionalProperties",
        "properties",
    }
)


@dataclass(frozen=True)
class Param:
    """One config parameter of a component.

    ``name`` is the config key and the argument it fills; ``meaning`` one line for the schema's
    description and the README table. ``schema`` holds the JSON-schema keywords of its value
    (``type``, ``enum``, bounds, ``items``, …; never ``default``). ``required`` makes the key
    mandatory in the config even where the Python argument has a default (a dataset's ``root``).
    ``shown_default`` is what the README shows for an optional key without a value default
    (``inferred``, ``by image shape``). ``workflow_default`` replaces the signature's default in the
    config only, where a run needs another value than a direct Python call (a cache folder under
    the run's ``results/``, where a Python caller gets no cache); it is rarely right.
    """

    name: str
    meaning: str
    schema: Mapping[str, Any] = field(default_factory=dict)
    required: bool = False
    shown_default: str | None = None
    workflow_default: Any = None

    def __post_init__(self):
        unknown = sorted(set(self.schema) - SCHEMA_KEYWORDS)
        if unknown:
            raise TypeError(
                f"parameter {self.name!r}: unknown schema keyword(s) {unknown}; the default comes from the signature"
            )


def param(
    name: str,
    meaning: str,
    *,
    required: bool = False,
    shown_default: str | None = None,
    workflow_default: Any = None,
    **schema: Any,
) -> Param:
    """A :class:`Param` whose schema keywords are given as keyword arguments, e.g.
    ``param("tau", "…", type="number", minimum=0, exclusiveMaximum=1)``; ``choices=[…]`` is ``enum``."""
    if "choices" in schema:
        schema["enum"] = list(schema.pop("choices"))
    return Param(name, meaning, schema, required, shown_default, workflow_default)


def declare(*params: Param, keywords_for: Any = None) -> Callable:
    """Class or function decorator: attach ``params`` as the component's declared parameters
    (``__params__``). A subclass adds to (or replaces by name) those its parents declared. The
    component's direct calls are then validated against the declarations too (a function comes
    back wrapped, a class with its ``__init__`` wrapped; :mod:`noisyprune.arguments`).

    ``keywords_for``: a class or function that the component hands its ``**keywords`` on to whole
    (the file-backed image loaders their decoding settings, :class:`~noisyprune.data.images.Decoding`):
    a declared parameter the component's signature lacks is an argument of that target, with that
    target's default, so settings shared by several components keep one default; a keyword that
    target does not take is refused when the component is called, naming the component."""

    def attach(target):
        inherited = {p.name: p for p in getattr(target, "__params__", ())}
        names = [p.name for p in params]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise TypeError(f"{target.__qualname__}: parameters declared twice: {duplicated}")
        inherited.update({p.name: p for p in params})
        target.__params__ = tuple(inherited.values())
        if keywords_for is not None:
            target.__keywords_for__ = keywords_for
        return checking_arguments(target, declared_fragments)

    return attach


def declared_fragments(target: Any) -> dict[str, Any]:
    """The JSON-schema fragment of each parameter ``target`` declares, by name (what a direct call's
    arguments are validated against, :mod:`noisyprune.arguments`)."""
    return {p.name: _plain(p.schema) for p in target.__params__}


@dataclass(frozen=True)
class Declared:
    """A declared parameter with its default from the signature (``default`` absent: ``has_default`` False)."""

    param: Param
    has_default: bool
    default: Any = None

    @property
    def required(self) -> bool:
        return self.param.required or not self.has_default

    def schema(self) -> dict[str, Any]:
        """The JSON-schema fragment of this parameter: description, keywords and the default, which
        is left out where it is ``None`` and the schema does not allow null (absent = ``None``)."""
        fragment = {"description": self.param.meaning, **_plain(self.param.schema)}
        if self.has_default and not self.param.required and (self.default is not None or _allows_null(fragment)):
            fragment["default"] = _plain(self.default)
        return fragment


def signature_of(target: Any) -> inspect.Signature:
    """The signature whose arguments a component's config keys fill (``__init__`` for a class)."""
    return inspect.signature(target.__init__ if inspect.isclass(target) else target)


def declared_parameters(target: Any, context: Iterable[str] = (), kind: str = "component") -> list[Declared]:
    """The declared parameters of ``target`` (a class or function), with their signature defaults.

    ``context`` names the arguments the framework passes (not config keys: a noise model's
    ``clean``, ``num_classes``, ``rng``). Raises ``TypeError`` naming the component when the
    declarations and the signature disagree: an undeclared argument, or a declaration without one.
    """
    declared = getattr(target, "__params__", None)
    label = f"{kind} {getattr(target, '__qualname__', target)!r}"
    if declared is None:
        raise TypeError(f"{label} declares no parameters; decorate it with noisyprune.params.declare(...)")
    arguments = _named_arguments(target, context)
    passed_on = getattr(target, "__keywords_for__", None)
    if passed_on is not None:  # the target's own arguments win; the rest are those of its **keywords
        arguments = {**_named_arguments(passed_on, context), **arguments}
    names = [p.name for p in declared]
    undeclared = sorted(set(arguments) - set(names))
    missing = sorted(set(names) - set(arguments))
    if undeclared or missing:
        problems = []
        if undeclared:
            problems.append(f"arguments without a declaration: {undeclared}")
        if missing:
            problems.append(f"declarations without an argument: {missing}")
        raise TypeError(f"{label}: {'; '.join(problems)}")
    result = []
    for p in declared:
        default = arguments[p.name].default
        if p.workflow_default is not None:
            default = p.workflow_default
        has_default = default is not inspect.Parameter.empty
        result.append(Declared(p, has_default, default if has_default else None))
    return result


def _named_arguments(target: Any, context: Iterable[str] = ()) -> dict[str, inspect.Parameter]:
    """The arguments of ``target``'s signature that config keys can fill: neither ``self``, nor a
    ``context`` one, nor ``*args``/``**keywords``."""
    return {
        name: argument
        for name, argument in signature_of(target).parameters.items()
        if name not in ("self", *context) and argument.kind not in (argument.VAR_POSITIONAL, argument.VAR_KEYWORD)
    }


def _allows_null(fragment: Mapping[str, Any]) -> bool:
    kinds = fragment.get("type")
    if kinds == "null" or (isinstance(kinds, list) and "null" in kinds):
        return True
    return any(_allows_null(option) for option in fragment.get("oneOf", []) + fragment.get("anyOf", []))


def _plain(value: Any) -> Any:
    """Tuples as lists and mappings as dicts, as a YAML/JSON schema holds them."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value
