"""The warm job server: jobs forked from it behave as their own processes would."""

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import TINY_CONFIG, load_yaml, run_snakemake

from noisyprune import jobserver

TESTS = Path(__file__).resolve().parent


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie has exited; only its parent has not collected it yet
    try:
        return "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):  # reaped between the two looks
        return False


def _wait_for(condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture
def server(tmp_path, monkeypatch):
    """A server owned by this test process, able to import tests/jobserver_targets.py; its jobs'
    consoles are quiet (NOISYPRUNE_VERBOSE unset, whatever the caller's environment)."""
    monkeypatch.delenv("NOISYPRUNE_VERBOSE", raising=False)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]))
    process, address = jobserver.start(tmp_path / "sock")
    yield process, address
    jobserver.stop(process)


def _job(address, target, kwargs, cwd, log=None, threads=1, **popen):
    """A job process that hands ``target(**kwargs)`` to the server, as a workflow script does."""
    code = (
        f"from noisyprune.jobserver import run_stage; run_stage({target!r}, {kwargs!r}, {log!r}, threads={threads!r})"
    )
    env = {
        **os.environ,
        jobserver.ENV: address,
        "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


def test_a_job_runs_in_a_forked_child_with_its_own_output_directory_and_log(server, tmp_path):
    process, address = server
    out = tmp_path / "out.txt"
    job = _job(
        address,
        "jobserver_targets:write",
        {"path": str(out), "text": "hello"},
        cwd=tmp_path,
        log=str(tmp_path / "logs" / "job.log"),
    )
    stdout, stderr = job.communicate(timeout=120)
    assert job.returncode == 0, stderr
    assert "out:hello" in stdout and "err:hello" in stderr  # the job's own stdout and stderr
    text, pid, cwd = out.read_text().split()
    assert text == "hello" and cwd == str(tmp_path)
    assert int(pid) not in (job.pid, process.pid)  # a child forked by the server
    assert (tmp_path / "logs" / "job.log").exists()


def test_a_failing_job_reports_its_traceback_and_fails(server, tmp_path):
    _, address = server
    job = _job(
        address,
        "jobserver_targets:fail",
        {"message": "dataset 'x': column 'label' missing"},
        cwd=tmp_path,
        log=str(tmp_path / "job.log"),
    )
    _, stderr = job.communicate(timeout=120)
    assert job.returncode == 1
    assert "ValueError: dataset 'x': column 'label' missing" in stderr
    assert "column 'label' missing" in (tmp_path / "job.log").read_text()  # where --show-failed-logs looks


def test_a_jobs_log_gets_every_record_and_its_console_warnings_and_errors_only(server, tmp_path):
    _, address = server
    log = tmp_path / "job.log"
    job = _job(address, "jobserver_targets:log_records", {"text": "hello"}, cwd=tmp_path, log=str(log))
    _, stderr = job.communicate(timeout=120)
    assert job.returncode == 0, stderr
    assert "WARNING noisyprune.test: warning:hello" in stderr and "info:hello" not in stderr
    text = log.read_text()
    assert "INFO noisyprune.test: info:hello" in text and "WARNING noisyprune.test: warning:hello" in text


@pytest.mark.parametrize(
    ("verbose", "with_log", "info_on_console"),
    [("", True, False), ("0", True, False), ("1", True, True), ("yes", True, True), ("", False, True)],
)
def test_noisyprune_verbose_or_a_job_without_log_puts_info_records_on_the_console(
    verbose, with_log, info_on_console, tmp_path, monkeypatch
):
    """In the job's own process (no server): INFO reaches stderr with NOISYPRUNE_VERBOSE, or when
    there is no log file to hold it."""
    monkeypatch.delenv(jobserver.ENV, raising=False)
    log = str(tmp_path / "job.log") if with_log else None
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); from noisyprune.jobserver import run_stage; "
        f"run_stage('jobserver_targets:log_records', {{'text': 'hi'}}, {log!r})"
    )
    env = {**os.environ, "NOISYPRUNE_VERBOSE": verbose}
    done = subprocess.run(
        [sys.executable, "-c", code, str(TESTS)], capture_output=True, text=True, env=env, timeout=120, check=True
    )
    assert ("INFO noisyprune.test: info:hi" in done.stderr) == info_on_console, done.stderr
    assert "WARNING noisyprune.test: warning:hi" in done.stderr
    if with_log:
        assert "INFO noisyprune.test: info:hi" in (tmp_path / "job.log").read_text()


def test_exit_status_passes_through(server, tmp_path):
    _, address = server
    job = _job(address, "jobserver_targets:exit_with", {"code": 3}, cwd=tmp_path)
    job.communicate(timeout=120)
    assert job.returncode == 3


def test_killing_a_job_kills_its_forked_child(server, tmp_path):
    _, address = server
    pid_file = tmp_path / "pid"
    job = _job(address, "jobserver_targets:sleep_forever", {"pid_file": str(pid_file)}, cwd=tmp_path)
    assert _wait_for(pid_file.exists, timeout=120), job.stderr.read() if job.poll() is not None else "no child started"
    child = int(pid_file.read_text())
    assert _alive(child)
    job.send_signal(signal.SIGKILL)
    job.wait(timeout=10)
    assert _wait_for(lambda: not _alive(child), timeout=10)


def test_the_server_and_its_children_end_when_snakemake_is_gone(tmp_path):
    """The server watches the process that started it (Snakemake): killed with SIGKILL, it runs no
    hooks, yet the server kills the running jobs and exits."""
    pid_file = tmp_path / "pid"
    owner = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import os, sys, time; from noisyprune import jobserver; "
            f"p, a = jobserver.start({str(tmp_path / 'sock')!r}); print(p.pid, a, flush=True); time.sleep(600)",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])},
    )
    server_pid, address = owner.stdout.readline().split()
    job = _job(address, "jobserver_targets:sleep_forever", {"pid_file": str(pid_file)}, cwd=tmp_path)
    assert _wait_for(pid_file.exists, timeout=120)
    child = int(pid_file.read_text())
    owner.send_signal(signal.SIGKILL)
    owner.wait()
    assert _wait_for(lambda: not _alive(int(server_pid)) and not _alive(child), timeout=15)
    job.wait(timeout=15)
    assert job.returncode != 0 and "server went away" in job.stderr.read()
    assert not list((tmp_path / "sock").glob("*.sock"))  # the socket is removed


@pytest.mark.parametrize("threads", [1, 3])  # 3: more than CI's 2 cores, so not the pools' default either
def test_a_job_uses_the_threads_it_was_given_in_torch_and_in_every_blas_pool(server, tmp_path, threads):
    """A forked job gets the job's ``threads``, not the server's pools sized to every core: small
    BLAS calls (scikit-learn in the select stage) on more threads than a job has run 8× slower."""
    _, address = server
    out = tmp_path / "threads.json"
    job = _job(address, "jobserver_targets:record_threads", {"path": str(out)}, cwd=tmp_path, threads=threads)
    _, stderr = job.communicate(timeout=120)
    assert job.returncode == 0, stderr
    assert json.loads(out.read_text()) == {"torch": threads, "pools": [threads]}


def test_without_a_server_the_job_also_uses_its_threads(tmp_path, monkeypatch):
    monkeypatch.delenv(jobserver.ENV, raising=False)
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); from noisyprune.jobserver import run_stage; "
        "run_stage('jobserver_targets:record_threads', {'path': sys.argv[2]}, None, threads=1)"
    )
    subprocess.run([sys.executable, "-c", code, str(TESTS), str(tmp_path / "t.json")], check=True, timeout=120)
    assert json.loads((tmp_path / "t.json").read_text()) == {"torch": 1, "pools": [1]}


def test_without_a_server_the_job_runs_in_its_own_process(tmp_path, monkeypatch):
    monkeypatch.delenv(jobserver.ENV, raising=False)
    assert jobserver.server_address() is None
    monkeypatch.setenv(jobserver.ENV, f"another-host:{os.getpid()}:/nonexistent.sock")
    assert jobserver.server_address() is None  # another host's server (a cluster job) is not used
    sys.path.insert(0, str(TESTS))
    try:
        jobserver.run_stage("jobserver_targets:write", {"path": str(tmp_path / "o"), "text": "x"}, None)
    finally:
        sys.path.remove(str(TESTS))
    assert int((tmp_path / "o").read_text().split()[1]) == os.getpid()


@pytest.mark.workflow
def test_jobs_compute_the_same_with_and_without_the_server(finished_run, tmp_path):
    """The tiny run (forked from the server) against plain processes, for one retrain's chain."""
    workdir, _ = finished_run
    config = load_yaml(TINY_CONFIG)
    config["job_server"] = False
    target = "results/digits/sym40/seed0/train/ce/prune4rel/f0.5/elr/metrics.json"
    run_snakemake(tmp_path, config, "--cores", "2", target)
    for artifact in (
        "results/digits/sym40/seed0/labels.parquet",
        "results/digits/sym40/seed0/select/ce/prune4rel/f0.5/subset.parquet",
        "results/digits/sym40/seed0/train/ce/prune4rel/f0.5/elr/relabels.parquet",
    ):
        assert (tmp_path / artifact).read_bytes() == (workdir / artifact).read_bytes(), artifact
    ours, theirs = (json.loads((root / target).read_text())["metrics"] for root in (tmp_path, workdir))
    assert ours == theirs
    history = [
        pd.read_parquet(root / target.replace("metrics.json", "history.parquet")) for root in (tmp_path, workdir)
    ]
    pd.testing.assert_frame_equal(*(frame.drop(columns=["epoch_seconds"]) for frame in history))
    assert not list((workdir / ".snakemake" / "noisyprune").glob("*.sock"))  # stopped with the run


def test_a_socket_folder_too_deep_for_a_socket_path_moves_to_tmp_and_is_removed_at_the_end(tmp_path):
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    process, address = jobserver.start(deep)
    socket_path = Path(address.split(":", 2)[2])
    try:
        assert socket_path.parent.name.startswith(jobserver.TEMP_PREFIX) and len(str(socket_path)) < 100
        assert _wait_for(socket_path.exists, timeout=120)
    finally:
        jobserver.stop(process)
    assert not socket_path.parent.exists()  # neither the socket nor its folder is left in /tmp


@pytest.fixture
def short_base():
    """A new folder directly in /tmp: working folders of exact path lengths are made under it
    (pytest's own tmp_path may already be longer than the lengths tested)."""
    base = Path(tempfile.mkdtemp(prefix="np", dir="/tmp")).resolve()
    yield base
    shutil.rmtree(base, ignore_errors=True)


def _folder_of_length(base: Path, length: int) -> Path:
    """A new folder under ``base`` whose absolute path is exactly ``length`` characters long (names
    of at most 100 characters, as deep as that takes)."""
    folder = base
    while len(str(folder)) < length:
        room = length - len(str(folder)) - 1  # after the separator
        folder = folder / ("w" * (room if room <= 100 else min(100, room - 2)))
    assert len(str(folder)) == length
    folder.mkdir(parents=True)
    return folder


# Working folders' absolute path lengths: every length from below the socket limit's boundary for
# any pid width (about 46-52 characters on Linux) past the 55-57 that crashed at every start (the
# old check measured the socket path without the ".<pid>.tmp" the server binds first), and deep ones.
WORKDIR_LENGTHS = [*range(42, 64), 80, 150, 300]


def test_the_boundary_lengths_straddle_the_socket_limit(short_base):
    """The lengths tested below put the socket in the working folder and in /tmp (so the boundary
    itself is among them), and every name the server binds fits an AF_UNIX address."""
    places = set()
    for length in WORKDIR_LENGTHS:
        state = _folder_of_length(short_base, length) / ".snakemake" / "noisyprune"
        path = jobserver.socket_path(state)
        assert jobserver.socket_fits(path)
        assert len(os.fsencode(jobserver.half_made_socket(path, 10**jobserver.PID_DIGITS - 1))) <= 103
        places.add(path.parent == state.resolve())
        if path.parent != state.resolve():
            path.parent.rmdir()
    assert places == {True, False}


@pytest.mark.parametrize("length", WORKDIR_LENGTHS)
def test_a_server_serves_jobs_whatever_the_working_folders_path_length(short_base, length, monkeypatch):
    """The server of a run in a working folder whose absolute path is ``length`` characters long
    binds its socket (in ``.snakemake/noisyprune``, or in /tmp when that path is too long for
    AF_UNIX) and runs a job; its socket and /tmp folder are gone after it stops."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]))
    workdir = _folder_of_length(short_base, length)
    process, address = jobserver.start(workdir / ".snakemake" / "noisyprune", preload=False)
    socket_path = Path(address.split(":", 2)[2])
    try:
        out = workdir / "out.txt"
        job = _job(address, "jobserver_targets:write", {"path": str(out), "text": "hi"}, cwd=workdir)
        _, stderr = job.communicate(timeout=120)
        assert job.returncode == 0 and "AF_UNIX" not in stderr, stderr
        text, pid, _ = out.read_text().split()
        assert text == "hi" and int(pid) != job.pid  # run by a forked child, not the fallback
        assert socket_path.exists() and process.poll() is None
    finally:
        jobserver.stop(process)
    assert not socket_path.exists()
    if socket_path.parent.name.startswith(jobserver.TEMP_PREFIX):
        assert not socket_path.parent.exists()


@pytest.mark.workflow
def test_a_run_in_a_working_folder_of_56_characters_uses_the_server_without_a_traceback(short_base):
    """The path length that crashed the server at every start (``AF_UNIX path too long``)."""
    workdir = _folder_of_length(short_base, 56)
    result = run_snakemake(workdir, load_yaml(TINY_CONFIG), "--cores", "1", "results/digits/sym40/seed0/labels.parquet")
    console = result.stdout + result.stderr
    assert "Traceback" not in console and "AF_UNIX" not in console, console[-3000:]
    assert (workdir / "results/digits/sym40/seed0/labels.parquet").is_file()


@pytest.mark.workflow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_to_snakemake_alone_stops_every_running_job_within_seconds(signum, tmp_path):
    """Ctrl-C (SIGINT) or a batch system's SIGTERM sent to Snakemake's process only: the forked
    stages (children of the job server, not of the jobs Snakemake waits for) end within seconds,
    and so does Snakemake."""
    import psutil
    from conftest import snakemake_command

    config = load_yaml(TINY_CONFIG)
    config["learners"]["ce"]["epochs"] = 100000  # a retrain that would run for hours
    config["sweep"].update(methods=["uniform"], learners=["ce"])
    (tmp_path / "config.yaml").write_text(json.dumps(config))
    process = subprocess.Popen(
        snakemake_command(tmp_path, tmp_path / "config.yaml", "--cores", "2"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # not the test's process group: only Snakemake gets the signal
    )
    logs = tmp_path / "results" / "digits" / "sym40" / "seed0" / "train"
    tree = []
    try:
        started = _wait_for(lambda: any("epoch 2:" in p.read_text() for p in logs.rglob("retrain.log")), timeout=240)
        assert started, process.communicate(timeout=60)[0][-3000:] if process.poll() is not None else "no retrain"
        tree = psutil.Process(process.pid).children(recursive=True)
        stages = [p for p in tree if _forked_stage(p, process.pid)]
        assert stages, "no forked stage found"
        process.send_signal(signum)
        _, alive = psutil.wait_procs(tree, timeout=15)
        assert not alive, [(p.pid, p.cmdline()) for p in alive]
        output, _ = process.communicate(timeout=30)
        assert process.returncode != 0
        assert any("ce epoch 2: lr" in p.read_text() for p in logs.rglob("retrain.log"))  # progress as it ran
        assert "retrain" in output
    finally:  # a failed test leaves no hours-long retrain behind
        for member in [psutil.Process(process.pid), *tree] if process.poll() is None else tree:
            with contextlib.suppress(psutil.NoSuchProcess):
                member.kill()


def _forked_stage(member, snakemake_pid: int) -> bool:
    """Whether a process of Snakemake's tree is a stage forked by the job server (a job process that
    has just ended may be a zombie or gone: not one)."""
    import psutil

    try:
        return "jobserver" in " ".join(member.cmdline()) and member.ppid() != snakemake_pid
    except (psutil.ZombieProcess, psutil.NoSuchProcess):
        return False


SNAKEMAKE_BENCHMARK = (
    "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
    "2.00\t0:00:02\t25.86\t30.44\t15.10\t16.62\t0.00\t0.00\t0.00\t0.20\n"
)


def test_a_jobs_own_memory_and_cpu_reach_its_benchmark_file(server, tmp_path):
    """Snakemake measures the thin job process (~25 MB, 0.2 s of CPU); the forked stage's own usage
    is journaled by the server and patched into the job's benchmark file."""
    _, address = server
    log = tmp_path / "results" / "retrain.log"
    job = _job(
        address,
        "jobserver_targets:allocate_and_spin",
        {"megabytes": 300, "cpu_seconds": 1.0},
        cwd=tmp_path,
        log=str(log.relative_to(tmp_path)),
    )
    _, stderr = job.communicate(timeout=120)
    assert job.returncode == 0, stderr
    benchmark = tmp_path / "results" / "retrain.benchmark.tsv"
    benchmark.write_text(SNAKEMAKE_BENCHMARK)  # what Snakemake writes once the job process ends
    assert jobserver.patch_benchmarks(tmp_path / "sock") == [benchmark]
    row = pd.read_csv(benchmark, sep="\t").iloc[0]
    assert row["max_rss"] >= 300 and row["cpu_time"] >= 0.9, row.to_dict()
    assert row["s"] == 2.0 and pd.isna(row["max_vms"])  # Snakemake's wall time kept; unmeasured blanked
    assert not (tmp_path / "sock" / jobserver.JOURNAL).exists()
    assert jobserver.patch_benchmarks(tmp_path / "sock") == []


@pytest.mark.workflow
def test_benchmark_files_of_a_local_run_report_the_stages_not_the_thin_job_processes(finished_run):
    workdir, _ = finished_run
    files = sorted((workdir / "results").rglob("*.benchmark.tsv"))
    assert {path.name for path in files} == {"warmup.benchmark.tsv", "select.benchmark.tsv", "retrain.benchmark.tsv"}
    for path in files:
        row = pd.read_csv(path, sep="\t").iloc[0]
        # a forked stage holds torch and the data (hundreds of MB); the thin job process ~25 MB
        assert row["max_rss"] > 150 and pd.isna(row["max_vms"]), (path, row.to_dict())
    assert not (workdir / ".snakemake" / "noisyprune" / jobserver.JOURNAL).exists()


def test_another_runs_clean_up_leaves_a_starting_servers_empty_folder_alone(tmp_path):
    """Two runs on one machine, both with socket paths too long for AF_UNIX: while one server is
    still importing, its /tmp folder is empty; the other run's start() must not take it (it did,
    and the first run's jobs then waited for a socket that could never appear)."""
    mine = tmp_path / f"{jobserver.TEMP_PREFIX}{os.getpid()}-abc"
    mine.mkdir()
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    gone = tmp_path / f"{jobserver.TEMP_PREFIX}{finished.pid}-def"
    gone.mkdir()
    jobserver.remove_stale_sockets(mine)
    jobserver.remove_stale_sockets(gone)
    assert mine.is_dir() and not gone.exists()


def test_a_zombie_server_counts_as_gone():
    """A server that died but was not reaped by Snakemake is not waited for."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    assert _wait_for(lambda: not jobserver._alive(process.pid), timeout=60)  # exited, still a zombie
    assert process.poll() == 0  # reaped only now
    assert jobserver._alive(os.getpid())
