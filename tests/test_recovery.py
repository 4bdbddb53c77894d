"""A run killed with SIGKILL, recovered as docs/troubleshooting.md says (`snakemake --unlock`, then the same
command): it finishes with exactly the results of an uninterrupted run, and the killed job server's
socket is cleaned up."""

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import psutil
import pytest
import yaml
from conftest import run_snakemake, snakemake_command

from noisyprune.jobserver import remove_stale_sockets

pytestmark = pytest.mark.workflow

RUN = "results/digits/sym40/seed0"


def _kill_tree_when_retraining(process: subprocess.Popen, workdir, timeout_s: float = 180.0) -> None:
    """SIGKILL Snakemake (by PID) and everything it started, once the first retrain job has begun."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        if any((workdir / RUN / "train").rglob("retrain.log")):
            break
        time.sleep(0.05)
    assert process.poll() is None, "the run ended before it could be killed"
    tree = [psutil.Process(process.pid), *psutil.Process(process.pid).children(recursive=True)]
    for member in tree:  # Snakemake first, then the job server, the jobs and their forked stages
        with contextlib.suppress(psutil.NoSuchProcess):
            member.send_signal(signal.SIGKILL)
    process.wait()
    psutil.wait_procs(tree, timeout=30)


def test_a_killed_run_recovers_with_unlock_and_the_same_command(finished_run):
    reference, config = finished_run
    # short enough for the socket to sit in .snakemake/noisyprune, as on a user's machine
    workdir = Path(tempfile.mkdtemp(prefix="np-kill-"))
    (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    run = snakemake_command(workdir, workdir / "config.yaml", "--cores", "2")
    process = subprocess.Popen(run, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _kill_tree_when_retraining(process, workdir)

    expected = sorted(p.relative_to(reference) for p in (reference / RUN / "train").rglob("metrics.json"))
    assert len(expected) == 10
    assert not all((workdir / path).is_file() for path in expected), "killed too late: nothing left to recover"
    stale = list((workdir / ".snakemake" / "noisyprune").glob("jobserver-*.sock"))
    assert stale, "the killed job server left no socket behind (the clean-up below would go untested)"

    # The same command alone is refused: the killed run's lock is still there.
    refused = subprocess.run(run, capture_output=True, text=True, check=False)
    assert refused.returncode != 0
    assert "--unlock" in refused.stdout + refused.stderr

    # The documented recovery: unlock, then the same command.
    subprocess.run(snakemake_command(workdir, workdir / "config.yaml", "--unlock"), capture_output=True, check=True)
    finished = subprocess.run(run, capture_output=True, text=True, check=False)
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]

    for path in expected:
        ours = json.loads((workdir / path).read_text())["metrics"]
        theirs = json.loads((reference / path).read_text())["metrics"]
        assert ours == theirs, path
    for path in sorted((reference / RUN / "select").rglob("subset.parquet")):
        assert (workdir / path.relative_to(reference)).read_bytes() == path.read_bytes(), path
    assert not any(path.exists() for path in stale)
    assert not list((workdir / ".snakemake" / "noisyprune").glob("jobserver-*"))
    assert run_snakemake(workdir, config, "--cores", "1", "--dry-run").stdout.count("rule ") == 0
    shutil.rmtree(workdir)


def test_only_sockets_nobody_listens_on_are_removed(tmp_path):
    import socket

    live = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    live.bind(str(tmp_path / "jobserver-1.sock"))
    live.listen(1)
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(tmp_path / "jobserver-2.sock"))
    dead.close()  # a socket file whose server is gone (as after SIGKILL)
    half_made = tmp_path / "jobserver-3.sock.999999999.tmp"  # no process has that pid
    half_made.write_bytes(b"")
    mine = tmp_path / f"jobserver-4.sock.{os.getpid()}.tmp"  # a server still starting
    mine.write_bytes(b"")
    unrelated = tmp_path / "notes.txt"
    unrelated.write_text("kept")
    try:
        removed = remove_stale_sockets(tmp_path)
    finally:
        live.close()
    assert sorted(p.name for p in removed) == ["jobserver-2.sock", "jobserver-3.sock.999999999.tmp"]
    assert (tmp_path / "jobserver-1.sock").exists() and mine.exists() and unrelated.exists()


def test_a_stale_socket_folder_in_tmp_is_removed(tmp_path, monkeypatch):
    """Where the working folder's path is too long for a socket, the socket lives in a folder of its
    own in /tmp; a killed server's folder there is removed by the next start."""
    import tempfile as tempfile_module

    monkeypatch.setattr(tempfile_module, "tempdir", str(tmp_path))
    folder = tmp_path / "noisyprune-jobserver-abc"
    folder.mkdir()
    (folder / "jobserver.sock").write_bytes(b"")  # not a listening socket
    assert [p.name for p in remove_stale_sockets(folder)] == ["jobserver.sock"]
    assert not folder.exists()
