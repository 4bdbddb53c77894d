"""The Snakemake command line the workflow benchmarks run: this checkout's Snakefile in a working folder."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def snakemake_command(workdir: Path, config_files: Sequence[Path], *args: str) -> list[str]:
    """``snakemake`` (the one beside this Python) running this checkout's Snakefile in ``workdir``
    with the config files ``config_files`` (a later one overrides an earlier one), then ``args``."""
    return [
        str(Path(sys.executable).with_name("snakemake")),
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        *map(str, config_files),
        *args,
    ]
