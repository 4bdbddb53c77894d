"""The parameter tables of ``config/README.md``, generated from the components' declarations.

Each table sits between ``<!-- parameters: KIND NAME … -->`` and ``<!-- end parameters -->``, where
``KIND`` is ``pruner``, ``learner``, ``loader``, ``noise`` or ``arch`` and the names are the
components it lists; ``*`` lists every registered component of the kind that no other table of the
file names. One row per declared parameter, merged across the components that declare the same
parameter (the same name, meaning and schema); its default comes from each component's signature.

``python -m noisyprune.param_tables`` rewrites the tables of ``config/README.md`` in place;
``--check`` only reports whether they are up to date (``tests/test_params.py`` runs it).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from noisyprune.params import Declared, Param
from noisyprune.schema import component_names, component_parameters, kind_named
from noisyprune.schema_messages import allowed_values, yaml_text

README = Path(__file__).resolve().parents[2] / "config" / "README.md"
TABLE = re.compile(r"(<!-- parameters: (?P<kind>\w+) (?P<names>[^>]*?) -->\n).*?(<!-- end parameters -->)", re.S)


@dataclass
class Row:
    """One parameter as several components declare it: by component, its declared form there."""

    param: Param
    declared: dict[str, Declared] = field(default_factory=dict)


def shown(value: Any) -> str:
    """A default as the README writes it: its YAML spelling in backticks (``""`` for the empty string)."""
    text = yaml_text(value)
    return f"`{text}`" if text else '`""`'


def default_cell(row: Row) -> str:
    """``required``, the shared default, or the most common one with the others by component."""
    first = next(iter(row.declared.values()))
    if first.required:
        return "required"
    defaults = {name: declared.schema().get("default", ...) for name, declared in row.declared.items()}
    texts = {
        name: shown(value) if value is not ... else (row.param.shown_default or "—") for name, value in defaults.items()
    }
    common, _ = Counter(texts.values()).most_common(1)[0]
    others = [f"`{name}`: {text}" for name, text in texts.items() if text != common]
    return common + (f" ({'; '.join(others)})" if others else "")


def table(registry: str, names: list[str]) -> str:
    """The Markdown table of the parameters of components ``names`` of kind ``registry``."""
    kind = kind_named(registry)
    rows: list[Row] = []
    for name in names:
        for declared in component_parameters(kind, name):
            row = next((r for r in rows if r.param == declared.param), None)
            if row is None:
                rows.append(row := Row(declared.param))
            row.declared[name] = declared
    lines = [f"| {kind.key} | key | default | allowed | meaning |", "|---|---|---|---|---|"]
    previous = None
    for row in rows:
        owners = list(row.declared)
        label = "all" if len(owners) == len(names) > 2 else ", ".join(f"`{name}`" for name in owners)
        meaning = row.param.meaning.replace("|", "\\|")
        allowed = allowed_values(next(iter(row.declared.values())).schema(), code=True)
        shown_label = label if label != previous else ""
        lines.append(f"| {shown_label} | `{row.param.name}` | {default_cell(row)} | {allowed} | {meaning} |")
        previous = label
    if len(lines) == 2:
        lines.append(f"| {', '.join(f'`{name}`' for name in names)} | — | | | no parameters |")
    return "\n".join(lines) + "\n"


def rendered(text: str) -> str:
    """``text`` (the README) with every parameter table regenerated."""
    listed: dict[str, set[str]] = {}
    for match in TABLE.finditer(text):
        listed.setdefault(match["kind"], set()).update(n for n in match["names"].split() if n != "*")

    def replace(match: re.Match) -> str:
        names = match["names"].split()
        if names == ["*"]:
            names = [n for n in component_names(kind_named(match["kind"])) if n not in listed.get(match["kind"], set())]
        return match.group(1) + "\n" + table(match["kind"], names) + "\n" + match.group(4)

    return TABLE.sub(replace, text)


def main(argv: list[str] | None = None) -> int:
    """Rewrite (or, with ``--check``, check) the parameter tables of ``config/README.md``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a table is out of date; write nothing")
    parser.add_argument("--file", type=Path, default=README, help="the Markdown file (default config/README.md)")
    args = parser.parse_args(argv)
    text = args.file.read_text(encoding="utf-8")
    new = rendered(text)
    if args.check:
        if new != text:
            print(
                f"{args.file}: parameter tables are out of date; run python -m noisyprune.param_tables", file=sys.stderr
            )
            return 1
        return 0
    args.file.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
