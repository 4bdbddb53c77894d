"""A throw-away one-node Slurm cluster on localhost (munged + slurmctld + slurmd), for tests.

Needs root and Debian's ``slurm-wlm`` and ``munge`` packages (``.ci/run`` installs them). Every file
(config, key, state, logs, sockets) lives in one fresh directory, the ports are free ones picked at
start, and the daemons run in the foreground as children of this process, so :meth:`LocalSlurm.stop`
ends exactly them, by PID.

One thing goes outside that directory: while the cluster runs, ``/etc/slurm/slurm.conf`` is a link
to its config. Everything else finds the config through ``SLURM_CONF``, but the Slurm plugin's job
step (snakemake-executor-plugin-slurm-jobstep 0.6) deletes every ``SLURM_*`` variable but a few
before it calls ``srun`` inside the job, so that ``srun`` only finds the default path. A machine with
a real ``/etc/slurm/slurm.conf`` therefore cannot host this cluster (:func:`unavailable_reason`).

Run it by hand to poke at the cluster (``sinfo``, ``sbatch``, Snakemake) until Ctrl-C::

    sudo .venv/bin/python tests/slurm/cluster.py
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import socket
import string
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Self

HERE = Path(__file__).resolve().parent
SYSTEM_CONF = Path("/etc/slurm/slurm.conf")  # where srun looks when SLURM_CONF is unset
PREFIX = "noisyprune-slurm-"
DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "squeue", "scontrol", "sinfo")


def unavailable_reason() -> str | None:
    """Why a local cluster cannot be started here (``None`` if it can)."""
    if os.geteuid() != 0:
        return "needs root (munged and slurmd run as root)"
    missing = [tool for tool in (*DAEMONS, *CLIENTS) if shutil.which(tool) is None]
    if missing:
        return f"missing {', '.join(missing)} (apt-get install slurm-wlm munge)"
    _remove_stale_link()
    if SYSTEM_CONF.exists() or SYSTEM_CONF.is_symlink():
        return f"{SYSTEM_CONF} exists (a real Slurm installation?); the test cluster leaves it alone"
    return None


def _remove_stale_link() -> None:
    """Remove a link left at SYSTEM_CONF by a test cluster that was killed before it could."""
    if SYSTEM_CONF.is_symlink() and PREFIX in os.readlink(SYSTEM_CONF) and not SYSTEM_CONF.exists():
        SYSTEM_CONF.unlink()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _memory_mb() -> int:
    """Total memory of this machine in MB (from /proc/meminfo)."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    raise RuntimeError("no MemTotal in /proc/meminfo")


class LocalSlurm:
    """One node, one partition (``debug``), ``gpus`` fake GPUs; use as a context manager.

    ``env`` is the environment for Slurm clients and for Snakemake: it points ``SLURM_CONF`` at this
    cluster's config, so ``sbatch``/``squeue`` (and the jobs, which inherit it) talk to it.
    """

    partition = "debug"

    def __init__(self, gpus: int = 2, cpus: int | None = None, memory_mb: int | None = None):
        self.gpus = gpus
        self.cpus = cpus or os.cpu_count() or 1
        # Leave room for the test itself; slurmd need not see all of it (config_overrides).
        self.memory_mb = memory_mb or max(1000, int(_memory_mb() * 0.75))
        self.root: Path | None = None
        self.linked_system_conf = False
        self.processes: dict[str, subprocess.Popen] = {}
        self.env = dict(os.environ)

    # --- lifecycle --------------------------------------------------------------------------

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self, timeout: float = 60) -> None:
        """Write the config, start munged, slurmctld and slurmd; wait until the node is idle."""
        # Not under pytest's tmp_path: munged refuses a socket in a directory that others cannot
        # traverse, and pytest's are 0700. Short paths also keep the socket under 108 bytes.
        self.root = Path(tempfile.mkdtemp(prefix=PREFIX))
        self.root.chmod(0o755)
        for sub in ("munge", "state", "spool", "log", "dev", "etc"):
            (self.root / sub).mkdir()
        for index in range(self.gpus):
            # slurmd wants a character device per GPU; links to /dev/null pass (the recipe used
            # /dev/null itself, but N GPUs need N names for Slurm to number them).
            (self.root / "dev" / f"nvidia{index}").symlink_to("/dev/null")
        host = socket.gethostname().split(".")[0]
        fields = {
            "root": str(self.root),
            "host": host,
            "node": host,
            "ctld_port": _free_port(),
            "slurmd_port": _free_port(),
            "cpus": self.cpus,
            "memory_mb": self.memory_mb,
            "gpus": self.gpus,
            "last_gpu": self.gpus - 1,
        }
        etc = self.root / "etc"
        for name in ("slurm.conf", "gres.conf"):  # gres.conf must sit beside slurm.conf
            template = string.Template((HERE / f"{name}.template").read_text())
            (etc / name).write_text(template.substitute(fields))
        (self.root / "plugstack.conf").write_text("")  # no SPANK plugins (Debian's would be read)
        self.env["SLURM_CONF"] = str(etc / "slurm.conf")
        SYSTEM_CONF.parent.mkdir(parents=True, exist_ok=True)
        SYSTEM_CONF.symlink_to(etc / "slurm.conf")  # fails if a file is there: never overwrite one
        self.linked_system_conf = True

        munge = self.root / "munge"
        key = munge / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        self._spawn(
            "munged",
            "munged",
            "--foreground",
            f"--socket={munge / 'munge.socket'}",
            f"--key-file={key}",
            f"--pid-file={munge / 'munged.pid'}",
            f"--seed-file={munge / 'munged.seed'}",
        )
        self._wait_for(lambda: (munge / "munge.socket").exists(), timeout, "munged's socket")
        conf = self.env["SLURM_CONF"]
        self._spawn("slurmctld", "slurmctld", "-D", "-f", conf)
        self._wait_for(
            lambda: self.run("scontrol", "ping", check=False).returncode == 0, timeout, "slurmctld to answer"
        )
        self._spawn("slurmd", "slurmd", "-D", "-f", conf, "-N", host)
        self._wait_for(self._node_idle, timeout, f"node {host} to become idle")

    def stop(self) -> None:
        """Stop the daemons this object started (by PID, slurmd first), remove the link in /etc/slurm
        and delete the directory (kept if NOISYPRUNE_KEEP_SLURM is set)."""
        slurmctld = self.processes.get("slurmctld")
        if slurmctld is not None and slurmctld.poll() is None:
            # A job still running (an interrupted test) would outlive slurmd in its slurmstepd.
            self.run("scancel", f"--partition={self.partition}", check=False)
            deadline = time.monotonic() + 20
            while (
                time.monotonic() < deadline
                and self.run("squeue", "--noheader", "--states=RUNNING,COMPLETING", check=False).stdout.strip()
            ):
                time.sleep(0.5)
        for name in reversed(DAEMONS):
            process = self.processes.pop(name, None)
            if process is None or process.poll() is not None:
                continue
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self.linked_system_conf and SYSTEM_CONF.is_symlink():
            SYSTEM_CONF.unlink()
            self.linked_system_conf = False
        if self.root is not None and not os.environ.get("NOISYPRUNE_KEEP_SLURM"):
            shutil.rmtree(self.root, ignore_errors=True)

    # --- helpers ----------------------------------------------------------------------------

    def _spawn(self, name: str, *command: str) -> None:
        log = open(self.root / "log" / f"{name}.out", "wb")  # noqa: SIM115 -- lives as long as the daemon
        self.processes[name] = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
        )
        log.close()  # the child holds its own descriptor

    def _wait_for(self, ready, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            dead = [name for name, process in self.processes.items() if process.poll() is not None]
            if dead:
                raise RuntimeError(f"{', '.join(dead)} exited while waiting for {what}:\n{self.logs()}")
            if ready():
                return
            time.sleep(0.5)
        raise TimeoutError(f"timed out after {timeout} s waiting for {what}:\n{self.logs()}")

    def _node_idle(self) -> bool:
        result = self.run("sinfo", "--noheader", "--format=%t", check=False)
        return result.returncode == 0 and result.stdout.split() == ["idle"]

    def logs(self, tail: int = 40) -> str:
        """The last lines of every daemon's log, for failure messages."""
        if self.root is None:
            return ""
        parts = []
        for path in sorted((self.root / "log").glob("*")):
            lines = path.read_text(errors="replace").splitlines()[-tail:]
            parts.append(f"--- {path.name}\n" + "\n".join(lines))
        return "\n".join(parts)

    def run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run a Slurm client command against this cluster."""
        result = subprocess.run(command, capture_output=True, text=True, env=self.env, check=False)
        if check and result.returncode != 0:
            raise RuntimeError(f"{shlex.join(command)} failed ({result.returncode}): {result.stderr}")
        return result

    def jobs(self) -> list[dict[str, str]]:
        """Every job slurmctld still remembers (``MinJobAge`` keeps finished ones for an hour),
        as the ``Key=Value`` fields of ``scontrol show job --oneliner``."""
        output = self.run("scontrol", "--oneliner", "show", "job").stdout
        jobs = []
        for line in output.splitlines():
            if not line.strip() or line.startswith("No jobs"):
                continue
            fields = {}
            for token in line.split():
                key, sep, value = token.partition("=")
                if sep:
                    fields[key] = value
            jobs.append(fields)
        return jobs


if __name__ == "__main__":
    reason = unavailable_reason()
    if reason:
        raise SystemExit(f"cannot start a local Slurm cluster: {reason}")
    with LocalSlurm() as cluster:
        print(f"export SLURM_CONF={cluster.env['SLURM_CONF']}")
        print("cluster up; Ctrl-C stops it")
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
