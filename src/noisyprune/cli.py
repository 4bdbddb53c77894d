"""The ``noisyprune`` command: the pruners on your own arrays from the shell.

noisyprune select data.npz --method prune4rel --fraction 0.2 --param tau=0.95 --output kept.csv
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from noisyprune.schema_messages import allowed_values, yaml_text
from noisyprune.thread_policy import let_idle_threads_sleep

INPUT_HELP = """\
INPUT is an .npz with the arrays
  labels         (n,)    the labels as given (noisy), class indices 0..C-1
  features       (n, d)  an embedding per sample (Prune4ReL, Moderate, kCenterGreedy, ...)
  probabilities  (n, C)  a model's class probabilities, or
  logits         (n, C)  its raw class scores (SmallLoss, Uncertainty, EL2N, Prune4ReL's confidence)
  sample_ids     (n,)    optional: your ids, copied to the output
  paths          (n,)    optional: file paths (strings), copied to the output
or a Parquet file with one row per sample and the same names as columns (features, probabilities
and logits as list columns). Give what the method reads; it says what is missing.

After selecting, it prints a summary and writes it as JSON beside the output (kept.csv →
kept.summary.json): the kept count per class against the input, the method's diagnostics
(Prune4ReL: tau, neighbourhood sizes, the picks' confidence against all samples) and, given
probabilities or logits, the estimated share of wrong labels among the kept and among all samples
(labels the model's most probable class disagrees with; expects a model that has not memorised the
labels: an early-stopped, out-of-sample or pretrained one). When the kept share is larger by more
than chance, it warns and says what the method keeps: Prune4ReL keeps samples a re-labeling learner
can correct, not clean ones; small_loss and confident_learning keep mostly clean ones.
"""


def _value(text: str) -> Any:
    """A ``--param`` value as YAML reads it: ``0.95`` → float, ``true`` → bool, ``equal`` → str."""
    import yaml

    return yaml.safe_load(text)


def _params(pairs: list[str]) -> dict[str, Any]:
    params = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"noisyprune select: --param {pair!r}: expected NAME=VALUE, e.g. tau=0.95")
        params[key.strip()] = _value(text)
    return params


def read_input(path: Path) -> dict[str, np.ndarray]:
    """The named arrays of an ``.npz`` or Parquet ``path`` (see ``noisyprune select --help``)."""
    from noisyprune.data.representation import read_representation
    from noisyprune.errors import ArtifactError

    try:
        arrays = read_representation(path)
    except ArtifactError as err:
        raise SystemExit(f"noisyprune select: {err}") from None
    if "labels" not in arrays:
        raise SystemExit(f"noisyprune select: {path}: no 'labels' (has {sorted(arrays)})")
    return arrays


def summary_path(output: Path) -> Path:
    """Where the summary of a selection written to ``output`` goes: ``kept.csv`` → ``kept.summary.json``."""
    return output.with_suffix(".summary.json")


def write_output(columns: dict[str, np.ndarray], path: Path) -> None:
    """The kept samples ``columns`` (name → ``(budget,)`` array) as CSV, TSV or Parquet, by the file's
    extension. CSV and TSV are written as pandas' ``to_csv`` writes them (floats in their shortest
    round-trip form, NaN as an empty field) but without importing pandas, which would double the
    command's start-up."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        import pandas as pd

        pd.DataFrame(columns).to_parquet(path, index=False)
    elif path.suffix in (".csv", ".tsv"):
        import csv

        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, delimiter="\t" if path.suffix == ".tsv" else ",", lineterminator="\n")
            writer.writerow(columns)
            writer.writerows(zip(*(_csv_fields(values) for values in columns.values())))
    else:
        raise SystemExit(f"noisyprune select: --output {path}: use a .csv, .tsv or .parquet file")


def _csv_fields(values: np.ndarray) -> list[str]:
    """One column's CSV fields: NaN empty, floats by ``repr`` (what ``to_csv`` writes), else ``str``."""
    values = np.asarray(values)
    if values.dtype.kind == "f":
        return ["" if np.isnan(value) else repr(float(value)) for value in values.tolist()]
    return [str(value) for value in values.tolist()]


class ProgressBars:
    """One tqdm bar per phase of a selection, counting in the phase's unit, on ``file`` (stderr);
    none when it is not a terminal (``disable=None``, tqdm's rule)."""

    def __init__(self, file: Any = None, disable: bool | None = None) -> None:
        self.bars: dict[str, Any] = {}
        self.file, self.disable = file, disable

    def __call__(self, phase: str, done: int, total: int, unit: str = "step") -> None:
        from tqdm import tqdm

        bar = self.bars.get(phase)
        if bar is None:
            # unit_scale: a τ-graph counts up to billions of pairs, shown as 1.2G/4.9G
            bar = tqdm(
                total=total, desc=phase, unit=unit, unit_scale=True, file=self.file, disable=self.disable, leave=False
            )
            self.bars[phase] = bar
        bar.update(done - bar.n)

    def close(self) -> None:
        """Close every bar."""
        for bar in self.bars.values():
            bar.close()


def load_plugin_modules(modules: list[str], command: str) -> bool:
    """Import the ``--plugin`` modules (they register their components); print why one cannot be
    imported and return False then."""
    from noisyprune.errors import ConfigError
    from noisyprune.registry import load_plugins

    try:
        load_plugins(modules)
    except ConfigError as err:
        message = str(err).replace("config key 'plugins'", "--plugin")
        print(f"noisyprune {command}: {message}", file=sys.stderr)
        return False
    return True


def methods_command(args: argparse.Namespace) -> int:
    from noisyprune.pruners.registry import PRUNERS
    from noisyprune.schema import component_names, component_parameters, kind_named

    if not load_plugin_modules(args.plugin, "methods"):
        return 2
    kind = kind_named("pruner")
    names = component_names(kind)
    unknown = [name for name in args.names if name not in names]
    if unknown:
        print(f"noisyprune methods: unknown method(s) {unknown}; known: {', '.join(names)}", file=sys.stderr)
        return 2
    shown = args.names or names
    pruners = {name: PRUNERS.get(name) for name in shown}
    declared = {name: component_parameters(kind, name) for name in shown}
    print("\n".join(methods_listing(pruners, declared)))
    return 0


def methods_listing(pruners: dict[str, Any], declared: dict[str, list]) -> list[str]:
    """The lines of ``noisyprune methods``: what each input is, the parameters several of the shown
    methods share (once, with the defaults that differ), then per method its summary, the inputs it
    reads and its own parameters. ``pruners``: name → pruner class; ``declared``: name → its
    :class:`~noisyprune.params.Declared` parameters."""
    from noisyprune.method_inputs import INPUT_MEANINGS, inputs_text, method_inputs

    def described(item, default: str) -> str:
        return f"{item.param.name} ({allowed_values(item.schema())}; {default}): {item.param.meaning}"

    def default_text(item) -> str:
        return "required" if item.required else f"default {yaml_text(item.schema().get('default'))}"

    inputs = {name: method_inputs(pruner) for name, pruner in pruners.items()}
    used = {item for entry in inputs.values() for group in (entry.default, *entry.variants.values()) for item in group}
    lines = ["Inputs (arrays of the INPUT file of `noisyprune select`, or select_subset's arguments):"]
    lines += [f"  {name}: {meaning}" for name, meaning in INPUT_MEANINGS.items() if name in used]
    # A parameter is shared when more than one shown method declares it with the same meaning
    # (the base class's `balance`): printed once here, not under each method.
    holders: dict[tuple[str, str], list[str]] = {}
    for name, items in declared.items():
        for item in items:
            holders.setdefault((item.param.name, item.param.meaning), []).append(name)
    shared = {key for key, names in holders.items() if len(names) > 1}
    if shared:
        lines += ["", "Shared parameters (every method takes them, unless a 'taken by' line says which):"]
    for key in sorted(shared):
        defaults = {
            name: default_text(item) for name in holders[key] for item in declared[name] if item.param.name == key[0]
        }
        common = max(set(defaults.values()), key=list(defaults.values()).count)
        exceptions = [f"{name}: {text.removeprefix('default ')}" for name, text in defaults.items() if text != common]
        default = common + (f"; {', '.join(exceptions)}" if exceptions else "")
        first = next(item for item in declared[holders[key][0]] if item.param.name == key[0])
        lines.append(f"  {described(first, default)}")
        if len(holders[key]) < len(pruners):
            lines.append(f"    taken by: {', '.join(holders[key])}")
    lines.append("")
    lines.append("Methods:")
    for name, pruner in pruners.items():
        summary = " ".join((pruner.__doc__ or "").strip().split("\n\n")[0].split())
        lines.append(f"{name}: {summary}")
        lines.append(f"  needs: {inputs_text(inputs[name])}")
        own = [item for item in declared[name] if (item.param.name, item.param.meaning) not in shared]
        lines += [f"  {described(item, default_text(item))}" for item in own]
    return lines


def select_command(args: argparse.Namespace) -> int:
    from noisyprune.api import NoisierSubsetWarning, select_subset
    from noisyprune.artifacts import write_text
    from noisyprune.pruners.progress import listening
    from noisyprune.selection_summary import summary_lines

    if not load_plugin_modules(args.plugin, "select"):
        return 2
    arrays = read_input(Path(args.input))
    bars = ProgressBars()
    try:
        # The warning's text is in the summary, printed below with it rather than as a Python warning.
        with listening(bars), warnings.catch_warnings():
            warnings.simplefilter("ignore", NoisierSubsetWarning)
            kept = select_subset(
                arrays["labels"],
                method=args.method,
                fraction=args.fraction,
                budget=args.budget,
                features=arrays.get("features"),
                probabilities=arrays.get("probabilities"),
                logits=arrays.get("logits"),
                sample_ids=arrays.get("sample_ids"),
                seed=args.seed,
                method_params=_params(args.param),  # a mapping: a parameter may share an argument's name
            )
    except ValueError as err:
        print(f"noisyprune select: {err}", file=sys.stderr)
        return 2
    finally:
        bars.close()
    # The columns of KeptSubset.to_frame, then the input's paths and labels of the kept samples.
    columns = kept.columns()
    if "paths" in arrays:
        columns["path"] = np.asarray(arrays["paths"])[kept.indices]
    columns["label"] = np.asarray(arrays["labels"])[kept.indices]
    output = Path(args.output)
    write_output(columns, output)
    summary = {**kept.summary, "input": str(args.input), "output": str(output)}
    write_text(json.dumps(summary, indent=2, allow_nan=False) + "\n", summary_path(output))
    print(
        f"kept {kept.budget} of {kept.num_candidates} samples with {kept.method} "
        f"({', '.join(f'{k}={v}' for k, v in kept.params.items() if k != 'pruner')}) → {args.output}"
    )
    for line in summary_lines(kept.summary):
        print(f"  {line}")
    print(f"  summary → {summary_path(output)}")
    if kept.summary["warning"] is not None:
        print(f"noisyprune select: warning: {kept.summary['warning']}", file=sys.stderr)
    return 0


PLUGIN_HELP = (
    "a module to import first, which registers its own methods with noisyprune.registry.register "
    "(repeatable; docs/extending.md)"
)


def parser() -> argparse.ArgumentParser:
    """The ``noisyprune`` argument parser."""
    main_parser = argparse.ArgumentParser(prog="noisyprune", description="Robust data pruning under label noise.")
    commands = main_parser.add_subparsers(dest="command", required=True)
    select = commands.add_parser(
        "select",
        help="keep a fraction of your samples with one pruner",
        description="Keep a fraction (or a number) of the samples in INPUT with one pruner, and write the kept "
        "samples best first (rank, index into INPUT, sample_id, score, label[, path]).",
        epilog=INPUT_HELP + "\nexample:\n  noisyprune select data.npz --method prune4rel --fraction 0.2 "
        "--param tau=0.95 --output kept.csv",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    select.add_argument("input", help="an .npz or .parquet file (below)")
    select.add_argument("--method", required=True, help="a pruner: prune4rel, uniform, small_loss, uncertainty, …")
    size = select.add_mutually_exclusive_group(required=True)
    size.add_argument("--fraction", type=float, help="the share of samples to keep, in (0, 1]")
    size.add_argument("--budget", type=int, help="the number of samples to keep")
    select.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a method parameter, as in a config methods entry (repeat: --param tau=0.95 --param balance=equal)",
    )
    select.add_argument("--seed", type=int, default=0, help="seed of the method's random choices (default 0)")
    select.add_argument(
        "--output",
        required=True,
        help="where to write the kept samples: .csv, .tsv or .parquet; the summary goes beside it as JSON "
        "(kept.csv → kept.summary.json)",
    )
    select.add_argument("--plugin", action="append", default=[], metavar="MODULE", help=PLUGIN_HELP)
    select.set_defaults(run=select_command)
    methods = commands.add_parser(
        "methods",
        help="list the methods and the parameters each takes",
        description="List every method (pruner) with its parameters: allowed values, default and meaning.",
    )
    methods.add_argument("names", nargs="*", metavar="METHOD", help="only these methods")
    methods.add_argument("--plugin", action="append", default=[], metavar="MODULE", help=PLUGIN_HELP)
    methods.set_defaults(run=methods_command)
    return main_parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``noisyprune`` console script."""
    let_idle_threads_sleep()  # before a command imports torch (noisyprune.thread_policy)
    args = parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
