"""Start-up of the ``noisyprune`` command: seconds and peak memory of the calls that need no network.

    .venv/bin/python benchmarks/cli_startup.py --label after [--src SRC] [--repeats 5]

Each call runs the installed ``noisyprune`` console script in a fresh process, with ``SRC`` (a
checkout's ``src`` folder, default this one's) first on ``PYTHONPATH``, so an older commit can be
measured the same way (``git archive <commit> | tar -x -C /tmp/old`` then ``--src /tmp/old/src
--label before``). Calls: ``noisyprune --help``, ``noisyprune methods``, and ``noisyprune select
--method uniform --fraction 0.5`` on a 178-row ``.npz`` (labels and 64-d features, the size of
scikit-learn's wine-like toy sets). Measured: wall-clock seconds from start to exit and the process's
peak resident memory (``os.wait4``'s ``ru_maxrss``), and whether ``torch`` was imported
(``python -X importtime``, a separate run, untimed). The first call of each command is a warm-up
(file cache) and is not recorded.

Results: every run appended to ``benchmarks/results/cli_startup.csv`` (label, command, run,
seconds, peak MB, torch imported, the machine's 1-minute load average: on shared cores the seconds
grow with it); ``cli_startup.md`` is rewritten with the median per label and
command from the whole CSV.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
CSV = RESULTS / "cli_startup.csv"
FIELDS = ["date", "label", "command", "run", "seconds", "peak_mb", "torch_imported", "load_1min", "machine"]


def console_script() -> str:
    """The ``noisyprune`` console script of the running interpreter's environment."""
    script = Path(sys.executable).parent / "noisyprune"
    if script.is_file():
        return str(script)
    found = shutil.which("noisyprune")
    if found is None:
        raise SystemExit("cli_startup: no noisyprune console script beside the interpreter or on PATH")
    return found


def small_input(folder: Path) -> Path:
    """A 178-row ``.npz`` (3 classes, 64-d features) for ``select --method uniform``."""
    rng = np.random.default_rng(0)
    path = folder / "small.npz"
    np.savez(path, labels=rng.integers(0, 3, 178), features=rng.normal(size=(178, 64)).astype(np.float32))
    return path


def commands(data: Path, output: Path) -> dict[str, list[str]]:
    """The measured calls by name: their arguments after ``noisyprune``."""
    return {
        "--help": ["--help"],
        "methods": ["methods"],
        "select uniform": ["select", str(data), "--method", "uniform", "--fraction", "0.5", "--output", str(output)],
    }


def timed_run(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Seconds from start to exit and peak resident MB of one process running ``argv``."""
    start = time.perf_counter()
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    stderr = process.stderr.read().decode() if process.stderr else ""
    if process.returncode != 0:
        raise SystemExit(f"cli_startup: {argv[1:]} failed ({process.returncode}):\n{stderr}")
    return seconds, usage.ru_maxrss / 1024  # Linux reports kilobytes


def imports_torch(argv: list[str], env: dict[str, str]) -> bool:
    """Whether ``argv`` (a console script call) imports ``torch``, by ``python -X importtime``."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", *argv], env=env, capture_output=True, text=True, check=True
    )
    return any(line.rsplit("|", 1)[-1].strip() == "torch" for line in result.stderr.splitlines())


def write_markdown(rows: list[dict[str, str]]) -> None:
    """``cli_startup.md``: the median seconds and peak MB per label and command of all ``rows``."""
    groups: dict[tuple[str, str], list[dict[str, str]]] = {}
    for row in rows:
        groups.setdefault((row["label"], row["command"]), []).append(row)
    lines = [
        "# `noisyprune` start-up (benchmarks/cli_startup.py)",
        "",
        "Median of the recorded runs (a fresh process each, after one unrecorded warm-up run); peak = the",
        "process's peak resident memory. `select uniform`: 178 rows, 64-d features, `--fraction 0.5`.",
        "",
        "| label | command | runs | seconds (median) | peak MB (median) | imports torch | load (1-min avg) | date "
        "| machine |",
        "|---|---|---:|---:|---:|---|---:|---|---|",
    ]
    for (label, command), group in groups.items():
        seconds = statistics.median(float(r["seconds"]) for r in group)
        peak = statistics.median(float(r["peak_mb"]) for r in group)
        load = statistics.median(float(r["load_1min"]) for r in group)
        lines.append(
            f"| {label} | `noisyprune {command}` | {len(group)} | {seconds:.2f} | {peak:.0f} | "
            f"{group[-1]['torch_imported']} | {load:.1f} | {group[-1]['date']} | {group[-1]['machine']} |"
        )
    (RESULTS / "cli_startup.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> None:
    """Measure the calls and append to the results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--label", required=True, help="the row label, e.g. before or after")
    parser.add_argument("--src", default=str(REPO / "src"), help="the src folder put first on PYTHONPATH")
    parser.add_argument("--repeats", type=int, default=5, help="recorded runs per command")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(Path(args.src).resolve()), "OMP_NUM_THREADS": "1"}
    script = console_script()
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs (shared)"
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        data = small_input(Path(folder))
        for name, arguments in commands(data, Path(folder) / "kept.csv").items():
            argv = [script, *arguments]
            timed_run(argv, env)  # warm-up: the file cache, .pyc files
            torch_imported = "yes" if imports_torch(argv, env) else "no"
            for run in range(args.repeats):
                seconds, peak = timed_run(argv, env)
                rows.append(
                    dict(
                        date=date.today().isoformat(),
                        label=args.label,
                        command=name,
                        run=run,
                        seconds=f"{seconds:.3f}",
                        peak_mb=f"{peak:.0f}",
                        torch_imported=torch_imported,
                        load_1min=f"{os.getloadavg()[0]:.1f}",  # other processes on the same cores
                        machine=machine,
                    )
                )
                print(f"{args.label}: noisyprune {name}: {seconds:.2f} s, {peak:.0f} MB, torch {torch_imported}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    new_file = not CSV.exists()
    with CSV.open("a", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        if new_file:
            writer.writeheader()
        writer.writerows(rows)
    with CSV.open(newline="", encoding="utf-8") as handle:
        write_markdown(list(csv.DictReader(handle)))


if __name__ == "__main__":
    main()
