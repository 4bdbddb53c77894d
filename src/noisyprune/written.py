"""What each job wrote, recorded when it wrote it, and checked before a run reads it again.

Snakemake trusts a finished output whatever happened to it since: a results file truncated by a
full disk, edited by hand or overwritten by a copy is read by the next job that needs it, and that
job fails (naming the file, but after Snakemake has removed the outputs it was replacing) or,
worse, computes from it. So every file written through :func:`noisyprune.artifacts.atomic_output`
inside a workflow job gets a record (size, modification time, SHA-256) under the folder named by
the environment variable :data:`ENV`, which the Snakefile sets for its jobs; outside a workflow
nothing is recorded. At the start of a run, :func:`check_unchanged` compares the files the run's
jobs will read, and will not write themselves, with their records, and stops the run before any job
with the file and the command that recomputes it.

Cost: writing hashes each artifact once more (read back at disk speed, next to the seconds to hours
of computing it); checking takes one ``stat`` and one small record read per file, and hashes a file
only when its modification time changed but its size did not (``cp`` without ``-p``, ``touch``):
the same bytes pass, and the record takes the new time. Files without a record (written before
records existed, or outside a job) are not checked.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path

from noisyprune.errors import ArtifactError

ENV = "NOISYPRUNE_WRITTEN"  # the folder of the records; set by the Snakefile, inherited by its jobs
CHUNK = 1 << 20
SHOWN = 5  # changed files named in one message


def records_folder() -> Path | None:
    """The folder of the records, or ``None`` outside a workflow (nothing is recorded)."""
    folder = os.environ.get(ENV)
    return Path(folder) if folder else None


def _relative(path: str | os.PathLike) -> str | None:
    """``path`` relative to the working directory (the workflow's), or ``None`` outside it."""
    relative = os.path.relpath(os.path.abspath(path))
    return None if relative == ".." or relative.startswith(".." + os.sep) else relative


def record_path(folder: Path, path: str | os.PathLike) -> Path | None:
    """Where the record of ``path`` lives under ``folder`` (``None``: a file outside the workdir)."""
    relative = _relative(path)
    return None if relative is None else folder / f"{relative}.json"


def sha256_of(path: str | os.PathLike) -> str:
    """The SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_record(record: Path, stat: os.stat_result, sha256: str) -> None:
    record.parent.mkdir(parents=True, exist_ok=True)
    partial = record.with_name(f".{record.name}.{os.getpid()}.tmp")
    partial.write_text(json.dumps({"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": sha256}))
    os.replace(partial, record)


def record_written(path: str | os.PathLike) -> None:
    """Record ``path`` (just written, complete) when a workflow job wrote it; otherwise nothing."""
    folder = records_folder()
    record = record_path(folder, path) if folder is not None else None
    if record is None:
        return
    stat = os.stat(path)
    _write_record(record, stat, sha256_of(path))


def changed_since_written(path: str | os.PathLike, folder: Path) -> str | None:
    """Why ``path`` no longer holds what its job wrote (``None``: it does, it is missing, or it has no
    record). A changed modification time with the same size and bytes is not a change; the record
    takes the new time so that the file is not hashed again."""
    record = record_path(folder, path)
    if record is None or not record.is_file() or not os.path.isfile(path):
        return None
    try:
        written = json.loads(record.read_text())
        size, mtime_ns, sha256 = int(written["size"]), int(written["mtime_ns"]), str(written["sha256"])
    except (OSError, ValueError, KeyError, TypeError):
        return None  # an unreadable record says nothing about the file
    stat = os.stat(path)
    if stat.st_size != size:
        return f"{stat.st_size} bytes, its job wrote {size}"
    if stat.st_mtime_ns == mtime_ns:
        return None
    if sha256_of(path) != sha256:
        return "same size, other bytes"
    with contextlib.suppress(OSError):  # read-only: hashed again next time
        _write_record(record, stat, sha256)
    return None


def check_unchanged(paths: Iterable[str | os.PathLike], folder: Path | None = None) -> None:
    """Raise :class:`ArtifactError` naming every file of ``paths`` that changed since its job wrote it,
    with the command that recomputes them."""
    folder = folder if folder is not None else records_folder()
    if folder is None or not folder.is_dir():
        return
    changed = []
    for path in sorted({str(p) for p in paths}):
        why = changed_since_written(path, folder)
        if why is not None:
            changed.append((path, why))
    if not changed:
        return
    listed = "\n".join(f"  {path} ({why})" for path, why in changed[:SHOWN])
    more = f"\n  … and {len(changed) - SHOWN} more" if len(changed) > SHOWN else ""
    targets = " ".join(path for path, _ in changed)
    raise ArtifactError(
        f"{len(changed)} finished file(s) changed after the job that wrote them, and this run's jobs would read "
        f"them:\n{listed}{more}\nNo job ran. Recompute them (and what depends on them) with your usual command plus "
        f"`--forcerun {targets}`, or delete them (Snakemake then writes them again). If you replaced one on "
        f"purpose, delete its record under {folder}/ (<file>.json)."
    )


def inputs_read_by(jobs: Iterable) -> set[str]:
    """The input files of ``jobs`` (Snakemake jobs: ``.input``, ``.output``) that none of them
    writes: what a run reads of earlier runs."""
    inputs, outputs = set(), set()
    for job in jobs:
        inputs.update(str(path) for path in job.input)
        outputs.update(str(path) for path in job.output)
    return inputs - outputs
