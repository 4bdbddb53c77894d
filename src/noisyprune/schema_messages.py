"""How values and JSON-schema fragments read in words, and the message for a value a fragment
refuses: shared by the config's validation and a direct Python call's (:mod:`noisyprune.arguments`),
so that both name the culprit the same way."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any


def describe_value_error(error, where: str) -> str:
    """``"<where>: <what is wrong>"`` for a ``jsonschema.ValidationError`` about a value. jsonschema's
    own message for a value no ``oneOf``/``anyOf`` branch takes ("not valid under any of the given
    schemas") names no range, so that case lists what each branch accepts."""
    if error.validator in ("oneOf", "anyOf") and error.context:  # no branch took the value
        options = error.schema.get(error.validator, [])
        allowed = " or ".join(describe_allowed(option) for option in options)
        return f"{where}: {error.instance!r} is not allowed here; it must be {allowed}"
    return f"{where}: {error.message}"


def describe_allowed(fragment: Mapping[str, Any]) -> str:
    """What one branch of a ``oneOf``/``anyOf`` accepts, in words: ``a number in [0, 1)``, ``'auto'``,
    ``an integer ≥ 1``, ``null``."""
    if "const" in fragment:
        return repr(fragment["const"])
    if "enum" in fragment:
        return "one of " + ", ".join(repr(value) for value in fragment["enum"])
    kind = fragment.get("type")
    if kind == "null":
        return "null"
    if kind in ("number", "integer"):
        noun = "a number" if kind == "number" else "an integer"
        low = fragment.get("minimum", fragment.get("exclusiveMinimum"))
        high = fragment.get("maximum", fragment.get("exclusiveMaximum"))
        opening = "[" if "minimum" in fragment else "("
        closing = "]" if "maximum" in fragment else ")"
        if low is not None and high is not None:
            return f"{noun} in {opening}{low}, {high}{closing}"
        if low is not None:
            return f"{noun} {'≥' if opening == '[' else '>'} {low}"
        if high is not None:
            return f"{noun} {'≤' if closing == ']' else '<'} {high}"
        return noun
    text = allowed_values(fragment)
    return f"a {text}" if text.startswith("list") else text


def yaml_text(value: Any) -> str:
    """A config value as YAML writes it: ``true``, ``null``, ``1e-8``, ``[256, 128]``; strings as they are."""
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "null"
    if isinstance(value, float):
        return re.sub(r"e([+-])0*(\d)", lambda m: f"e{m[1].replace('+', '')}{m[2]}", repr(value))
    if isinstance(value, list | tuple):
        return "[" + ", ".join(yaml_text(item) for item in value) + "]"
    return str(value)


def allowed_values(fragment: Mapping[str, Any], code: bool = False) -> str:
    """A short reading of a JSON-schema fragment's type and bounds: ``one of a, b``, ``number ≥ 0,
    < 1``, ``list of integer ≥ 1``; ``any`` where the fragment says nothing. ``code`` puts the
    literal values in Markdown backticks."""

    def literal(value: Any) -> str:
        return f"`{yaml_text(value)}`" if code else yaml_text(value)

    if "enum" in fragment:
        return "one of " + ", ".join(literal(v) for v in fragment["enum"])
    if "const" in fragment:
        return literal(fragment["const"])
    options = fragment.get("oneOf") or fragment.get("anyOf")
    if options:
        return " or ".join(allowed_values(option, code) for option in options)
    if "$ref" in fragment:
        return fragment["$ref"].rsplit("/", 1)[-1]
    kinds = fragment.get("type", "any")
    text = " or ".join(kinds) if isinstance(kinds, list) else kinds
    if text == "array":
        text = "list" + (f" of {allowed_values(fragment['items'], code)}" if "items" in fragment else "")
        if "minItems" in fragment or "maxItems" in fragment:
            low, high = fragment.get("minItems", 0), fragment.get("maxItems")
            count = f"{low} or more" if high is None else str(low) if high == low else f"{low}–{high}"
            text += f" ({count} items)"
    bounds = [
        f"{symbol} {fragment[keyword]}"
        for keyword, symbol in (
            ("minimum", "≥"),
            ("exclusiveMinimum", ">"),
            ("maximum", "≤"),
            ("exclusiveMaximum", "<"),
        )
        if keyword in fragment
    ]
    return text + (" " + ", ".join(bounds) if bounds else "")
