"""A warm job server for local runs: workflow jobs run in processes forked from one that has already
imported torch and the stages, instead of each paying the imports (2–4 s on a small CPU, more
than most jobs of a small sweep compute).

The Snakefile starts the server when Snakemake executes locally (``onstart``, through
:mod:`noisyprune.snakefile_hooks`) and stops it when
the run ends; the jobs inherit its address through ``NOISYPRUNE_JOB_SERVER``. A job's script calls
:func:`run_stage` (through :mod:`noisyprune.stages.adapter`), which hands the stage call to the
server: the server forks a child, the child takes over the job's stdout/stderr (passed over the Unix
socket), runs the stage exactly as the script would and exits with its status, which the job's
process then exits with. A job whose process is killed takes its child with it (the server sees the
connection close). Without a server
(cluster executors, a dry run, ``job_server: false``, or a server that is gone) :func:`run_stage`
runs the stage in the job's own process, as before.

Every stage seeds its own generators, so a forked child computes exactly what a fresh process
would. The server never runs a torch operation or touches CUDA, so the children may (fork-safety
of OpenMP and CUDA). This module imports nothing heavy: job scripts import it before deciding
where to run.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import pickle
import selectors
import signal
import socket
import struct
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from noisyprune.snakemake_internals import BENCHMARK_LOAD, BENCHMARK_UNKNOWN, BENCHMARK_USAGE

ENV = "NOISYPRUNE_JOB_SERVER"
# Modules the server imports before it accepts jobs: everything a stage needs that is slow to import;
# torch._dynamo (with sympy) is imported by the first optimiser step, torchvision by the first strong
# view: ~2 s each that every job would pay again. None of these starts a torch thread pool or CUDA.
PRELOAD = (
    "torch",
    "torch._dynamo",
    "torch.func",
    "torchvision.transforms.v2",
    "numpy",
    "pandas",
    "pyarrow.parquet",
    "scipy.sparse",
    "sklearn.datasets",
    "sklearn.mixture",
    "sklearn.linear_model",
    "sklearn.model_selection",
    "sklearn.metrics",
    "faiss",
    "cleanlab.filter",
    "noisyprune.stages.noise",
    "noisyprune.stages.warmup",
    "noisyprune.stages.extract",
    "noisyprune.stages.select",
    "noisyprune.stages.detect",
    "noisyprune.stages.retrain",
    "noisyprune.stages.aggregate",
    "noisyprune.stages.active",
    "noisyprune.stages.plot",
    "noisyprune.stages.adapter",  # every job's call_stage
    "noisyprune.pruners.registry",
    "noisyprune.training.learners.registry",
)
# Read by OpenMP, OpenBLAS, MKL, BLIS and macOS Accelerate when they load.
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)
READY_TIMEOUT_S = 120.0  # how long a job waits for a server that is still importing
# the socket's own folder in /tmp when the given folder's path is too long for a socket
TEMP_PREFIX = "noisyprune-jobserver-"
# The longest socket path (bytes) every platform binds: sun_path holds 108 bytes on Linux and 104 on
# macOS and the BSDs, one of them the terminating NUL.
SOCKET_PATH_LIMIT = 103
# pid_t is a signed 32-bit integer: at most 10 digits, in the name of the server's half-made socket.
PID_DIGITS = 10
# The folders start() tries, in order, for a socket whose path in the given folder is too long:
# the temporary directory ($TMPDIR), then /tmp (a $TMPDIR that is itself too deep).
TEMP_BASES = (None, "/tmp")
# Written next to the socket by stop_on_signals: the run is stopping, jobs must not start.
STOPPING = ".stopping"
# Finished jobs' own usage, in the folder given to start(), until patch_benchmarks() applies it.
JOURNAL = "usage.jsonl"


def plain(value: Any) -> Any:
    """``value`` with Snakemake's containers and path strings turned into plain dicts, lists and
    strings, so a job's arguments pickle without Snakemake on the other side."""
    if isinstance(value, str):
        return str(value)
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value


def run_stage(target: str, kwargs: Mapping[str, Any], log_path: str | None, threads: int = 1) -> None:
    """Run the stage function ``target`` (``"module:function"``) with ``kwargs``, its log going to
    ``log_path``, using at most ``threads`` CPU threads (the job's ``threads``): in a child of the
    job server when one serves this host, else in this process.
    With a server, this process exits with the child's status when that is not 0."""
    kwargs = plain(kwargs)  # the same arguments on either path
    threads = max(1, int(threads))
    address = server_address()
    if address is not None:
        status = _run_on_server(address, target, kwargs, log_path, threads)
        if status is not None:
            if status:
                sys.exit(status)
            return
    _call(target, kwargs, log_path, threads)


def _call(target: str, kwargs: Mapping[str, Any], log_path: str | None, threads: int = 1) -> None:
    from noisyprune.logs import setup_logging

    module, function = target.split(":")
    setup_logging(log_path)
    with thread_limit(threads):
        getattr(importlib.import_module(module), function)(**kwargs)


@contextlib.contextmanager
def thread_limit(threads: int) -> Iterator[None]:
    """Run the block with at most ``threads`` threads in torch and in every BLAS/OpenMP pool.

    The pools default to one thread per core. Jobs run side by side on the cores Snakemake shares
    out, and small BLAS calls on more threads than the job was given are slower, not faster:
    confident learning's 5-fold logistic regression takes 6.3 s with 2 OpenBLAS threads and 0.75 s
    with 1 on a 2-core machine. Libraries loaded inside the block read the environment variables;
    those already loaded (all of them in a server's child) are limited through threadpoolctl and
    torch's own setting. Everything is restored afterwards.
    """
    from threadpoolctl import threadpool_limits

    saved = {variable: os.environ.get(variable) for variable in THREAD_VARIABLES}
    os.environ.update({variable: str(threads) for variable in THREAD_VARIABLES})
    torch = sys.modules.get("torch")
    torch_threads = torch.get_num_threads() if torch is not None else None
    if torch is not None:
        torch.set_num_threads(threads)
    try:
        with threadpool_limits(limits=threads):
            yield
    finally:
        for variable, value in saved.items():
            if value is None:
                os.environ.pop(variable, None)
            else:
                os.environ[variable] = value
        if torch_threads is not None:
            torch.set_num_threads(torch_threads)


def server_address() -> str | None:
    """The socket path of the job server for this host, from ``NOISYPRUNE_JOB_SERVER``
    (``host:pid:path``), or ``None`` (unset, another host's, or its server is gone)."""
    value = os.environ.get(ENV)
    if not value:
        return None
    host, pid, path = value.split(":", 2)
    if host != socket.gethostname():
        return None
    if os.path.exists(path + STOPPING):
        # Snakemake got a signal and stopped the server: a job starting now must not run the
        # stage in its own process (the fallback below), which nothing would stop.
        raise SystemExit("noisyprune job server: the run is stopping on a signal; this job does not start")
    if not _alive(int(pid)):
        return None
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not os.path.exists(path):  # still importing: waiting beats importing it all here too
        if time.monotonic() > deadline or not _alive(int(pid)):
            return None
        time.sleep(0.05)
    return path


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs. A zombie (exited, not yet reaped by its parent: a server that
    died under a Snakemake that has not polled it) counts as gone, or its jobs would wait for it."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):  # no /proc (macOS): kill's answer stands
        return True


def _run_on_server(path: str, target: str, kwargs: dict, log_path: str | None, threads: int = 1) -> int | None:
    """Send the job to the server; its exit status, or ``None`` if the server could not take it."""
    payload = pickle.dumps(
        {"target": target, "kwargs": kwargs, "log": log_path, "cwd": os.getcwd(), "threads": threads}
    )
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.connect(path)
        sys.stdout.flush()
        sys.stderr.flush()
        socket.send_fds(connection, [struct.pack("!Q", len(payload))], [sys.stdout.fileno(), sys.stderr.fileno()])
        connection.sendall(payload)
    except OSError:
        connection.close()
        return None
    # From here the job runs in the server's child; if this process is killed, the connection
    # closes and the server kills the child.
    reply = _receive_exactly(connection, 4)
    connection.close()
    if reply is None:
        print("noisyprune job server: the server went away while running this job", file=sys.stderr)
        return 1
    return struct.unpack("!i", reply)[0]


def _receive_exactly(connection: socket.socket, size: int) -> bytes | None:
    chunks, remaining = [], size
    while remaining:
        chunk = connection.recv(remaining)
        if not chunk:
            return None
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


# ---- server side ----------------------------------------------------------------------------------


def serve(path: str, parent_pid: int, journal: str | None = None, preload: tuple[str, ...] = PRELOAD) -> None:
    """Import ``preload`` (:data:`PRELOAD`), then accept jobs on the Unix socket ``path`` until the process
    ``parent_pid`` (Snakemake) is gone or SIGTERM arrives; every running child is then killed.

    Single-threaded on purpose: forking from a process with other threads could copy a held lock.
    Each finished job's own resource usage is appended to ``journal`` (JSON lines, see
    :func:`patch_benchmarks`)."""
    # Before anything else: a SIGTERM that arrived between the socket's appearance and the handler
    # killed the server without its clean-up (socket and folder left behind).
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    for module in preload:
        # a job that needs a module that fails to import fails with the error itself; the others still gain
        with contextlib.suppress(ImportError):
            importlib.import_module(module)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    # The folder exists (start() made it); made again if an older version's clean-up took it.
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    temporary = half_made_socket(path, os.getpid())
    listener.bind(temporary)
    os.chmod(temporary, 0o600)
    listener.listen(64)
    os.replace(temporary, path)  # appears only once ready (jobs wait for it)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    children: dict[int, socket.socket] = {}  # child pid → the job's connection
    started: dict[int, tuple[float, str | None]] = {}  # child pid → (start time, the job's log path)
    try:
        while not stopping and _alive(parent_pid):
            for key, _ in selector.select(timeout=0.05):
                if key.fileobj is listener:
                    _accept(listener, selector, children, started)
                else:  # a job's connection closed: its process was killed
                    _abandon(key.fileobj, selector, children)
            _reap(selector, children, started, journal)
    finally:
        for pid in children:
            _kill_group(pid)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        if Path(path).parent.name.startswith(TEMP_PREFIX):  # the folder start() made for a long path
            with contextlib.suppress(OSError):
                os.rmdir(Path(path).parent)


def _accept(listener: socket.socket, selector: selectors.BaseSelector, children: dict, started: dict) -> None:
    connection, _ = listener.accept()
    try:
        header, fds, _, _ = socket.recv_fds(connection, 8, 2)
        size = struct.unpack("!Q", header)[0]
        payload = _receive_exactly(connection, size)
        request = pickle.loads(payload)
    except (OSError, struct.error, pickle.UnpicklingError, TypeError):
        connection.close()
        return
    server_pid = os.getpid()
    pid = os.fork()
    if pid == 0:
        _die_with(server_pid)
        # the child keeps only the job's own descriptors
        for key in list(selector.get_map().values()):
            key.fileobj.close()
        connection.close()
        _run_child(request, fds)  # never returns
    for fd in fds:
        os.close(fd)
    children[pid] = connection
    log = request.get("log")
    started[pid] = (time.time(), os.path.join(request["cwd"], log) if log else None)
    selector.register(connection, selectors.EVENT_READ, pid)


def _die_with(server_pid: int) -> None:
    """On Linux, have the kernel SIGKILL this child when the server dies, even by SIGKILL: a stage
    orphaned by a killed run would otherwise go on writing outputs that the rerun writes too."""
    if not sys.platform.startswith("linux"):
        return  # elsewhere a killed server's children run to their end
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != server_pid:  # the server died before the request above took effect
        os._exit(1)


def _run_child(request: dict, fds: list[int]) -> None:
    status = 1
    try:
        os.setpgid(0, 0)  # its own group, so killing the job kills any worker processes it starts
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.dup2(fds[0], 1)
        os.dup2(fds[1], 2)
        os.chdir(request["cwd"])
        _call(request["target"], request["kwargs"], request["log"], request.get("threads", 1))
        status = 0
    except SystemExit as exit_:
        status = exit_.code if isinstance(exit_.code, int) else 1
    except BaseException:  # the job's failure, reported as its own process would (setup_logging's excepthook)
        import logging

        # To the job's log and, at ERROR, to its stderr (before logging is set up: logging's last
        # resort, stderr); a traceback printed here as well showed twice on the console.
        logging.getLogger("noisyprune").error("job failed", exc_info=True)
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(status)


def _reap(selector: selectors.BaseSelector, children: dict, started: dict, journal: str | None = None) -> None:
    while children:
        try:
            pid, wait_status, usage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        start, log = started.pop(pid, (None, None))
        connection = children.pop(pid, None)
        if connection is None:
            continue
        selector.unregister(connection)
        code = os.waitstatus_to_exitcode(wait_status)
        if journal and log and code == 0:
            _record_usage(journal, log, time.time() - start, usage)
        with contextlib.suppress(OSError):  # a child killed by signal N reports 128 + N, as a shell does
            connection.sendall(struct.pack("!i", 128 - code if code < 0 else code))
        connection.close()


def _record_usage(journal: str, log: str, seconds: float, usage) -> None:
    """Append one finished job's own usage (the forked child's, from ``wait4``) to ``journal``."""
    record = {
        "log": log,
        "seconds": round(seconds, 4),
        # kB on Linux; includes the libraries the child shares with the server, as a fresh process holds them
        "max_rss_mb": round(usage.ru_maxrss / 1024, 2),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 4),
        "io_in_mb": round(usage.ru_inblock * 512 / 2**20, 2),
        "io_out_mb": round(usage.ru_oublock * 512 / 2**20, 2),
    }
    with contextlib.suppress(OSError), open(journal, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")


def _abandon(connection, selector: selectors.BaseSelector, children: dict) -> None:
    pid = next(pid for pid, conn in children.items() if conn is connection)
    _kill_group(pid)  # reaped (and its status dropped) by _reap once it has exited
    selector.unregister(connection)
    connection.close()
    children[pid] = None


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def start(directory: str | os.PathLike, preload: bool = True) -> tuple[Any, str]:
    """Start a server for this process (Snakemake's main process) with its socket in ``directory``
    (or in a folder of its own in /tmp, :func:`socket_path`); return the ``subprocess.Popen`` and
    the value to put in ``NOISYPRUNE_JOB_SERVER``. ``preload=False`` skips :data:`PRELOAD` (the
    tests' servers, which run small targets and start in a fraction of a second)."""
    import subprocess

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    remove_stale_sockets(directory)
    for base in _temp_bases():
        for folder in base.glob(f"{TEMP_PREFIX}*"):
            remove_stale_sockets(folder)
    path = socket_path(directory)
    journal = (directory / JOURNAL).resolve()
    command = [sys.executable, "-m", "noisyprune.jobserver", str(path), str(os.getpid()), str(journal)]
    process = subprocess.Popen([*command, *([] if preload else ["--no-preload"])], stdin=subprocess.DEVNULL)
    return process, f"{socket.gethostname()}:{process.pid}:{path}"


def half_made_socket(path: str | os.PathLike, server_pid: int) -> str:
    """The name the server binds first, beside ``path``; renamed to ``path`` once it listens."""
    return f"{path}.{server_pid}.tmp"


def socket_fits(path: str | os.PathLike) -> bool:
    """Whether every name the server binds for the socket ``path`` (the half-made socket, the
    longest, with any pid) fits an AF_UNIX address on every platform (:data:`SOCKET_PATH_LIMIT`
    bytes, in the file system's encoding)."""
    longest = half_made_socket(path, 10**PID_DIGITS - 1)
    return len(os.fsencode(longest)) <= SOCKET_PATH_LIMIT


def socket_path(directory: str | os.PathLike) -> Path:
    """The absolute socket path of this process's server: in ``directory`` when it fits
    (:func:`socket_fits`), else in a new folder of the temporary directory or, when that is too
    deep too, of /tmp, whose paths always fit. The new folder is named after this process, so
    other runs' clean-up leaves it alone while this one lives, also while it is still empty (the
    server is importing before it binds its socket there)."""
    path = Path(directory).resolve() / f"jobserver-{os.getpid()}.sock"
    if socket_fits(path):
        return path
    prefix = f"{TEMP_PREFIX}{os.getpid()}-"
    for base in _temp_bases():
        # mkdtemp adds 8 random characters to the prefix
        if base.is_dir() and socket_fits(base / f"{prefix}{'x' * 8}" / "jobserver.sock"):
            return Path(tempfile.mkdtemp(prefix=prefix, dir=base)) / "jobserver.sock"
    raise RuntimeError(f"noisyprune job server: no folder for a socket ({directory} and {TEMP_BASES} too deep)")


def _temp_bases() -> list[Path]:
    """The folders of :data:`TEMP_BASES`, resolved, each once."""
    bases = [Path(base or tempfile.gettempdir()).resolve() for base in TEMP_BASES]
    return list(dict.fromkeys(bases))


def remove_stale_sockets(directory: str | os.PathLike) -> list[Path]:
    """Remove the sockets (and half-made ``.tmp`` sockets) that servers of earlier runs left in
    ``directory`` when they were killed with SIGKILL; return the removed paths. A folder that
    :func:`start` made in /tmp for a long socket path is removed too once it is empty.

    A socket is stale when nothing accepts connections on it; a ``.tmp`` socket when the server
    whose pid it names is gone. A live server's socket is never touched."""
    directory = Path(directory)
    removed = []
    try:
        candidates = sorted(directory.glob("jobserver*.sock*"))
    except OSError:  # another user's folder
        return removed
    for path in candidates:
        if path.name.endswith(".tmp"):
            server_pid = path.name.rsplit(".", 2)[-2]
            stale = not (server_pid.isdigit() and _alive(int(server_pid)))
        else:
            stale = not _accepts_connections(path)
        if stale:
            with contextlib.suppress(FileNotFoundError, PermissionError):
                path.unlink()
                removed.append(path)
    # a folder start() made in /tmp: done with once its server's socket was stale, or its owner is gone
    if directory.name.startswith(TEMP_PREFIX) and (removed or not _owner_alive(directory)):
        with contextlib.suppress(OSError):  # not empty: a live server's, or not ours
            directory.rmdir()
    return removed


def _owner_alive(folder: Path) -> bool:
    """Whether the Snakemake process that made the /tmp socket folder ``folder`` (its pid is in the
    name) still runs. Folders of earlier versions have no pid: owned by nobody once an hour old."""
    owner = folder.name.removeprefix(TEMP_PREFIX).split("-", 1)[0]
    if owner.isdigit():
        return _alive(int(owner))
    try:
        return time.time() - folder.stat().st_mtime < 3600
    except OSError:
        return False


def _accepts_connections(path: Path) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except OSError:  # refused (no listener), not a socket, or gone
        return False
    finally:
        probe.close()
    return True


def patch_benchmarks(directory: str | os.PathLike) -> list[Path]:
    """Put each finished job's own usage into its ``benchmark:`` file; return the files patched.

    Snakemake measures a job by its process tree, and a job run through the server is a thin
    process (~25 MB, a fraction of a second of CPU) whose work happens in a child of the server.
    The server records each child's usage (``wait4``) in ``directory``'s journal; this replaces
    the benchmark file's ``max_rss``, ``cpu_time``, ``io_in``/``io_out`` and ``mean_load`` (MB, s,
    MB, %) with the child's, blanks ``max_vms``/``max_uss``/``max_pss`` (``NA``: not measured),
    and empties the journal. Called when a run ends and before the next one starts (a run
    stopped by a signal runs neither hook). A job's benchmark file is its log path with
    ``.log`` replaced by ``.benchmark.tsv``, as every rule here names them."""
    journal = Path(directory) / JOURNAL
    try:
        lines = journal.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    patched = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a line cut by a killed server
        benchmark = Path(str(record["log"]).removesuffix(".log") + ".benchmark.tsv")
        if _patch_benchmark(benchmark, record):
            patched.append(benchmark)
    with contextlib.suppress(OSError):
        journal.unlink()
    return patched


def _patch_benchmark(path: Path, record: dict) -> bool:
    try:
        header, *rows = path.read_text(encoding="utf-8").splitlines()
    except (OSError, ValueError):
        return False  # a failed job, or a rule without a benchmark file
    columns = header.split("\t")
    if len(rows) != 1 or not set(BENCHMARK_USAGE) <= set(columns):
        return False  # repeated benchmarks, or not Snakemake's format
    values = dict(zip(columns, rows[0].split("\t")))
    for column, key in BENCHMARK_USAGE.items():
        values[column] = f"{record[key]:.2f}"
    for column in BENCHMARK_UNKNOWN:
        if column in values:
            values[column] = "NA"
    if BENCHMARK_LOAD in values:
        values[BENCHMARK_LOAD] = f"{100 * record['cpu_seconds'] / max(record['seconds'], 1e-9):.2f}"
    temporary = path.with_suffix(".tsv.tmp")
    temporary.write_text(header + "\n" + "\t".join(values[c] for c in columns) + "\n", encoding="utf-8")
    os.replace(temporary, path)
    return True


def stop_on_signals(process, address: str) -> None:
    """In Snakemake's own process: on SIGINT (Ctrl-C) or SIGTERM, stop the server started by
    :func:`start` first, which kills every job it runs at once, then hand the signal on to the
    handler that was there (Snakemake's: it stops scheduling and waits for its jobs, now ended).

    Without this, a signal sent to Snakemake alone (``kill -INT``, a batch system's SIGTERM) left
    the forked stages running until they finished: Snakemake waits for local jobs, and the
    stages are children of the server, not of the job processes it would wait for. ``address``
    is the value :func:`start` returned; a marker beside its socket tells jobs that start after
    the signal not to run at all (:func:`server_address`)."""
    marker = Path(address.split(":", 2)[2] + STOPPING)

    def forward(previous):
        def handler(signum, frame):
            with contextlib.suppress(OSError):
                marker.touch()
            stop(process, timeout=5.0)
            if callable(previous):
                previous(signum, frame)
            elif previous == signal.SIG_DFL:
                signal.signal(signum, signal.SIG_DFL)
                os.kill(os.getpid(), signum)

        return handler

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, forward(signal.getsignal(signum)))


def stop(process, timeout: float = 10.0) -> None:
    """Stop a server started by :func:`start` (its running children are killed)."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except Exception:  # a server that does not stop in time is killed
        process.kill()


def main() -> None:
    """``python -m noisyprune.jobserver SOCKET PARENT_PID [JOURNAL] [--no-preload]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("socket")
    parser.add_argument("parent_pid", type=int)
    parser.add_argument("journal", nargs="?")
    parser.add_argument("--no-preload", action="store_true", help="import nothing before accepting jobs")
    args = parser.parse_args()
    serve(args.socket, args.parent_pid, args.journal, preload=() if args.no_preload else PRELOAD)


if __name__ == "__main__":
    main()
