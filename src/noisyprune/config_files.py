"""The config files read strictly: a key written twice in one mapping, or a YAML syntax error, is an
error naming the file and the line.

Snakemake reads the config files itself (JSON, else YAML through yte), and both readers keep the
*last* of two equal keys of one mapping without a word: ``lr: 0.05`` and, further down the same
entry, ``lr: 5.0`` would train at 5.0. The workflow therefore re-reads every config file with
:func:`check_config_files` when it is parsed (also in dry runs): the default ``config/config.yaml``
before Snakemake loads it, so that its syntax errors name file and line too, and every
``--configfile``. A syntax error in a ``--configfile`` stops Snakemake before the workflow is read,
with its own message (file and line only with ``--verbose``);
``python -m noisyprune.config_files my.yaml`` names them without running anything.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable
from pathlib import Path

import yaml

from noisyprune.errors import ConfigError

MERGE_TAG = "tag:yaml.org,2002:merge"


class _DuplicateKey(Exception):
    def __init__(self, key, first: int, second: int):
        super().__init__(key, first, second)
        self.key, self.first, self.second = key, first, second


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a mapping that writes one key twice (``<<`` merges may still
    override keys: that is what they are for)."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict = {}
            for key_node, _ in node.value:
                if key_node.tag == MERGE_TAG:
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.setdefault(key, key_node.start_mark.line + 1)
                except TypeError:
                    continue  # an unhashable key: the base class raises its own error
                if first != key_node.start_mark.line + 1:
                    raise _DuplicateKey(key, first, key_node.start_mark.line + 1)
        return super().construct_mapping(node, deep=deep)


def _json_pairs(pairs):
    keys = [key for key, _ in pairs]
    for key in keys:
        if keys.count(key) > 1:
            raise _DuplicateKey(key, 0, 0)
    return dict(pairs)


def load_config_file(path: str | os.PathLike):
    """The content of the JSON or YAML config file ``path``; :class:`ConfigError` naming the file and
    line for a syntax error or a key written twice in one mapping."""
    text = Path(path).read_text(encoding="utf-8")
    try:  # JSON first, as Snakemake reads it (a JSON file indented with tabs is no YAML)
        return json.loads(text, object_pairs_hook=_json_pairs)
    except _DuplicateKey as dup:
        raise ConfigError(
            f"{path}: key {dup.key!r} is written twice in one object; Snakemake would silently keep the last "
            "value. Write it once"
        ) from None
    except ValueError:
        pass
    try:
        return yaml.load(text, Loader=_StrictLoader)  # a SafeLoader: builds plain data only
    except _DuplicateKey as dup:
        raise ConfigError(
            f"{path}:{dup.second}: key {dup.key!r} is written twice in one mapping (first at line {dup.first}); "
            f"Snakemake would silently keep the value of line {dup.second}. Write it once"
        ) from None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
        context = err.context
        if context and err.context_mark is not None and err.context_mark is not mark:
            context += f" started at line {err.context_mark.line + 1}, column {err.context_mark.column + 1}"
        what = "; ".join(part for part in (context, err.problem) if part)
        raise ConfigError(f"{where}: not valid YAML ({what})") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({err})") from None


def check_config_files(paths: Iterable[str | os.PathLike]) -> None:
    """Read each existing file of ``paths`` with :func:`load_config_file` (a missing one is left to
    Snakemake, which names it)."""
    for path in paths:
        if os.path.isfile(path):
            load_config_file(path)


def main(argv: list[str] | None = None) -> int:
    """``python -m noisyprune.config_files FILE…``: check config files without running anything."""
    paths = sys.argv[1:] if argv is None else argv
    if not paths:
        print("usage: python -m noisyprune.config_files CONFIG.yaml …", file=sys.stderr)
        return 2
    failed = 0
    for path in paths:
        try:
            if not os.path.isfile(path):
                raise ConfigError(f"{path}: file not found")
            load_config_file(path)
        except ConfigError as err:
            print(err, file=sys.stderr)
            failed = 1
        else:
            print(f"{path}: readable, no key written twice")
    return failed


if __name__ == "__main__":
    sys.exit(main())
