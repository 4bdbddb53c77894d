"""A direct Python call checked against the same declarations as a config entry.

:func:`noisyprune.params.declare` wraps each component (a class's ``__init__``, a function itself)
with :func:`checking_arguments`: the keyword and positional arguments a caller gives for declared
parameters are validated against the parameters' JSON-schema fragments, the same fragments the
config schema's branch is generated from, so ``Prune4ReL(tau=2.0)`` and ``tau: 2.0`` in a config
are refused by one rule with one message. Arguments left at their defaults are not checked (the
defaults are the declarations' own), nor are the arguments the framework fills (``clean``, ``rng``).
"""

from __future__ import annotations

import functools
import inspect
import json
import math
import numbers
import os
from collections.abc import Callable, Mapping
from typing import Any

from noisyprune.errors import ParameterError
from noisyprune.schema_messages import describe_value_error

# Set on every checking wrapper: a parent's wrapper, reached through ``super().__init__``, leaves
# the check to the wrapper of the class actually built, which has checked every argument already.
CHECKS_ARGUMENTS = "__checks_arguments__"


def checking_arguments(target: Any, fragments: Callable[[Any], Mapping[str, Mapping[str, Any]]]) -> Any:
    """``target`` (a class or a function) with its calls' declared arguments validated first.

    ``fragments(component)`` returns the JSON-schema fragment of each declared parameter by name,
    for the component being built (the class of the new object, whose declarations may extend its
    parents'). A class gets its own ``__init__`` wrapped (a class without one is checked by its
    parent's, with its own declarations); a function is wrapped. Raises
    :class:`~noisyprune.errors.ParameterError` naming the component and the parameter.
    """
    handed_on = _handed_on_keywords(target)
    if inspect.isclass(target):
        init = target.__dict__.get("__init__")
        if init is None or getattr(init, CHECKS_ARGUMENTS, False):
            return target
        signature = inspect.signature(init)

        @functools.wraps(init)
        def checked_init(self, *args, **kwargs):
            built = type(self)
            outermost = type(self).__init__
            if outermost is checked_init or not getattr(outermost, CHECKS_ARGUMENTS, False):
                _check(built.__qualname__, fragments(built), signature, (self, *args), kwargs, handed_on)
            init(self, *args, **kwargs)

        setattr(checked_init, CHECKS_ARGUMENTS, True)
        target.__init__ = checked_init
        return target
    signature = inspect.signature(target)

    @functools.wraps(target)
    def checked(*args, **kwargs):
        _check(target.__qualname__, fragments(checked), signature, args, kwargs, handed_on)
        return target(*args, **kwargs)

    setattr(checked, CHECKS_ARGUMENTS, True)
    return checked


def _handed_on_keywords(target: Any) -> frozenset[str] | None:
    """The keywords ``target``'s ``**keywords`` may collect: the arguments of what it hands them on
    to (``declare(keywords_for=…)``); ``None`` where it hands nothing on (any keyword is its own)."""
    passed_on = getattr(target, "__keywords_for__", None)
    if passed_on is None:
        return None
    signature = inspect.signature(passed_on.__init__ if inspect.isclass(passed_on) else passed_on)
    return frozenset(name for name in signature.parameters if name != "self")


def _check(
    label: str,
    fragments: Mapping[str, Mapping[str, Any]],
    signature: inspect.Signature,
    args: tuple,
    kwargs: Mapping[str, Any],
    handed_on: frozenset[str] | None = None,
) -> None:
    try:
        bound = signature.bind_partial(*args, **kwargs).arguments
    except TypeError:
        return  # a wrong call: the call itself raises Python's own TypeError
    given = {}
    for name, value in bound.items():  # what a **keywords argument collects is checked key by key
        if signature.parameters[name].kind is not inspect.Parameter.VAR_KEYWORD:
            given[name] = value
            continue
        strangers = sorted(set(value) - handed_on) if handed_on is not None else []
        if strangers:  # refused before the call does any work, as Python refuses a named argument
            raise TypeError(f"{label}() got an unexpected keyword argument {strangers[0]!r}")
        given.update(value)
    for name, value in given.items():
        if name in fragments:
            check_value(f"{label} parameter {name!r}", value, fragments[name])


def check_value(where: str, value: Any, fragment: Mapping[str, Any]) -> None:
    """Raise :class:`~noisyprune.errors.ParameterError` ``"<where>: …"`` unless ``value`` is finite
    and valid under ``fragment``. NaN passes every JSON-schema bound (comparisons are false), so
    non-finite numbers are refused first, as the config's ``check_finite`` refuses them."""
    bad = first_non_finite(value)
    if bad is not None:
        raise ParameterError(f"{where}: {bad[1]} is not a finite number")
    error = next(iter(_validator(json.dumps(fragment, sort_keys=True)).iter_errors(value)), None)
    if error is not None:
        path = "".join(f"[{part!r}]" for part in error.absolute_path)
        raise ParameterError(describe_value_error(error, where + path))


def first_non_finite(value: Any, path: tuple = ()) -> tuple[tuple, float] | None:
    """The first NaN or ±inf in ``value`` (a number, or lists, tuples and mappings of them, nested),
    as ``(path, number)`` with ``path`` the keys and indices from ``value`` to it after the given
    ``path``; ``None`` when every number is finite. Any real that is not an integer counts (NumPy
    floats too)."""
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral) and not math.isfinite(value):
        return path, value
    if isinstance(value, Mapping):
        items = value.items()
    elif isinstance(value, list | tuple):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = first_non_finite(item, (*path, key))
        if found is not None:
            return found
    return None


@functools.cache
def _validator(fragment_json: str):
    """A validator of the JSON-schema fragment written as ``fragment_json`` (JSON text with sorted
    keys: the cache key, so each declared fragment is compiled once)."""
    return _python_values_validator()(json.loads(fragment_json))


@functools.cache
def _python_values_validator() -> type:
    """The validator class that reads Python values as a caller passes them: a tuple as a list, a
    NumPy integer or float as a number, a path as a string (YAML has none of these)."""
    import jsonschema

    base = jsonschema.Draft202012Validator
    checker = base.TYPE_CHECKER.redefine_many(
        {
            "array": lambda _, value: isinstance(value, list | tuple),
            "integer": lambda _, value: (
                _is_number(value) and (isinstance(value, numbers.Integral) or float(value).is_integer())
            ),
            "number": lambda _, value: _is_number(value),
            "string": lambda _, value: isinstance(value, str | os.PathLike),
        }
    )
    return jsonschema.validators.extend(base, type_checker=checker)


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)
