"""The `noisyprune` command starts without torch where it needs no network, and `noisyprune methods`
lists each method's inputs and each shared parameter once. (Start-up seconds are measured by
benchmarks/cli_startup.py, not here.)"""

import subprocess
import sys

import numpy as np
import pytest

from noisyprune.cli import main

# Runs the command in a fresh interpreter and reports, on its last line, whether torch was imported.
PROBE = """\
import sys
from noisyprune.cli import main
try:
    status = main(sys.argv[1:])
except SystemExit as stop:  # --help exits
    status = stop.code
print(f"status={status} torch={'torch' in sys.modules}")
"""


def command_imports(arguments: list[str]) -> tuple[int, bool]:
    """``(exit status, whether torch was imported)`` of ``noisyprune *arguments`` in a fresh process."""
    result = subprocess.run([sys.executable, "-c", PROBE, *arguments], capture_output=True, text=True, check=True)
    status, torch = result.stdout.strip().splitlines()[-1].split()
    return int(status.removeprefix("status=")), torch == "torch=True"


@pytest.fixture
def small_input(tmp_path):
    """A 60-row .npz with labels, features and probabilities (3 classes)."""
    rng = np.random.default_rng(0)
    path = tmp_path / "small.npz"
    np.savez(path, labels=rng.integers(0, 3, 60), features=rng.normal(size=(60, 8)))
    np.savez(
        tmp_path / "with_probabilities.npz",
        labels=rng.integers(0, 3, 60),
        probabilities=rng.dirichlet(np.ones(3), 60),
    )
    return path


@pytest.mark.parametrize(
    "arguments",
    [
        ["--help"],
        ["methods"],
        ["methods", "prune4rel"],
        ["select", "--help"],
        ["select", "{input}", "--method", "uniform", "--fraction", "0.5", "--output", "{output}"],
        ["select", "{input}", "--method", "moderate", "--budget", "10", "--output", "{output}"],
    ],
    ids=["help", "methods", "methods prune4rel", "select help", "select uniform", "select moderate"],
)
def test_commands_that_need_no_network_do_not_import_torch(arguments, small_input, tmp_path):
    filled = [a.format(input=small_input, output=tmp_path / "kept.csv") for a in arguments]
    status, torch_imported = command_imports(filled)
    assert status == 0
    assert not torch_imported, f"noisyprune {' '.join(arguments)} imported torch"


def test_the_probe_sees_torch_where_a_selection_uses_it(small_input, tmp_path):
    """The control: scores from probabilities are the extract stage's, computed with torch."""
    given = small_input.with_name("with_probabilities.npz")
    status, torch_imported = command_imports(
        ["select", str(given), "--method", "small_loss", "--budget", "10", "--output", str(tmp_path / "kept.csv")]
    )
    assert status == 0 and torch_imported


def test_methods_lists_the_shared_balance_once_and_each_methods_inputs(capsys):
    assert main(["methods"]) == 0
    listing = capsys.readouterr().out
    assert listing.count("balance (one of none, proportional, equal") == 1
    # The default that most methods share, then the methods whose own default differs.
    assert "default none; prune4rel: equal, forgetting: proportional)" in listing
    lines = listing.splitlines()
    needs = {lines[i - 1].split(":", 1)[0]: lines[i].strip() for i, line in enumerate(lines) if "  needs: " in line}
    assert needs["uniform"] == "needs: labels"
    assert needs["prune4rel"] == "needs: labels, features, probabilities"
    assert needs["forgetting"] == "needs: labels, dynamics"
    assert needs["uncertainty"] == "needs: labels, probabilities; with score=max_logit: labels, logits"
    assert "  tau (number ≥ 0, < 1 or auto; default 0.975)" in listing


def test_methods_for_one_method_prints_its_balance_under_it(capsys):
    assert main(["methods", "forgetting"]) == 0
    listing = capsys.readouterr().out
    assert "Shared parameters" not in listing
    assert "  balance (one of none, proportional, equal; default proportional)" in listing


@pytest.mark.parametrize("suffix", [".csv", ".tsv"])
def test_the_kept_list_is_written_as_pandas_writes_it(tmp_path, suffix):
    """The command writes CSV without pandas (its import doubles the start-up); the bytes are pandas'."""
    import pandas as pd

    from noisyprune.cli import write_output

    columns = {
        "rank": np.arange(6),
        "index": np.array([5, 0, 3, 1, 2, 4]),
        "sample_id": np.array(["a", "b,c", 'say "hi"', "tab\there", "é", "f"]),
        "score": np.array([0.1, np.nan, 1e-05, 1.0e16, -2.5, 1 / 3]),
        "path": np.array(["img 1.png", "x/y.png", "", "z", "q,r.png", "s"]),
        "label": np.array([0, 1, 2, 0, 1, 2]),
    }
    write_output(columns, tmp_path / f"ours{suffix}")
    pd.DataFrame(columns).to_csv(tmp_path / f"pandas{suffix}", index=False, sep="\t" if suffix == ".tsv" else ",")
    assert (tmp_path / f"ours{suffix}").read_bytes() == (tmp_path / f"pandas{suffix}").read_bytes()
