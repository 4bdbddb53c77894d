"""What the README's run command installs, measured on disk: the distributions `pip install -e .`
pulls (noisyprune's requirements, followed transitively, without the test extras), summed file by
file from each one's installed RECORD, in the virtual environment that runs this script.

    .venv/bin/python benchmarks/install_size.py            # writes benchmarks/results/install_size.json

The venv may hold more (the test extras, tools of your own): they are not counted, but the whole
site-packages folder is reported beside the total for comparison (what `du -sb` of it says).
"""

import argparse
import json
import sys
import sysconfig
from datetime import date
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

RESULTS = Path(__file__).resolve().parent / "results"


def runtime_distributions(root: str = "noisyprune") -> dict[str, metadata.Distribution]:
    """Every installed distribution ``root`` needs at run time, by canonical name (``root`` included);
    requirements behind extras or markers that do not apply here are left out."""
    found: dict[str, metadata.Distribution] = {}
    pending = [(root, ())]
    while pending:
        name, extras = pending.pop()
        key = canonicalize_name(name)
        if key in found:
            continue
        distribution = metadata.distribution(name)
        found[key] = distribution
        for line in distribution.requires or []:
            requirement = Requirement(line)
            environment = {"extra": extras[0] if extras else ""}
            if requirement.marker is None or requirement.marker.evaluate(environment):
                pending.append((requirement.name, tuple(requirement.extras)))
    return found


def installed_bytes(distribution: metadata.Distribution) -> int:
    """Bytes on disk of the files the distribution's RECORD lists (files since removed count 0)."""
    total = 0
    for file in distribution.files or []:
        path = Path(distribution.locate_file(file))
        if path.is_file():
            total += path.stat().st_size
    return total


def folder_bytes(folder: Path) -> int:
    """Bytes of every regular file under ``folder`` (symbolic links not followed)."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=RESULTS / "install_size.json")
    args = parser.parse_args()
    sizes = {name: installed_bytes(d) for name, d in runtime_distributions().items()}
    site_packages = Path(sysconfig.get_paths()["purelib"])
    gb = 1e9
    result = {
        "date": date.today().isoformat(),
        "python": sys.version.split()[0],
        "distributions": len(sizes),
        "runtime_gb": round(sum(sizes.values()) / gb, 2),
        "site_packages_gb": round(folder_bytes(site_packages) / gb, 2),
        "largest_gb": {name: round(size / gb, 2) for name, size in sorted(sizes.items(), key=lambda kv: -kv[1])[:8]},
    }
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
