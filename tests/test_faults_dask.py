"""A library scan on Dask under faults: a silent scheduler, addresses this app cannot use, a
worker killed mid-scan (with and without a nanny to bring it back), the scheduler killed
mid-scan. Real sockets, a real LocalCluster and real `dask` processes on loopback, real
kills; every file ends with its own result, none with the cluster's loss as its error."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import TINY_LABELS, synth, write
from genre_desktop.core.library.model_ref import ModelRef
from genre_desktop.core.library.batch import BatchOptions, scan_library
from genre_desktop.core.library.database import LibraryDatabase

distributed = pytest.importorskip("distributed")
DASK = Path(sys.executable).with_name("dask")


@pytest.fixture
def music(tmp_path):
    """Twelve tracks (four per tiny genre) and one broken file."""
    root = tmp_path / "Music"
    for g, genre in enumerate(TINY_LABELS):
        for i in range(4):
            write(root / genre / f"{genre}_{i}.flac", synth(genre, 5.0, seed=70 + 4 * g + i))
    (root / "broken.mp3").write_bytes(b"\x00" * 5000)
    return root


def _every_file_has_its_own_result(db_path, ref, music):
    with LibraryDatabase(db_path) as db:
        rows = {Path(r.path).name: r for r in db.rows(ref.key)}
    assert len(rows) == 13
    errors = {name: r.error for name, r in rows.items() if r.error}
    assert list(errors) == ["broken.mp3"], errors
    assert all(r.verdict for name, r in rows.items() if name != "broken.mp3")
    again = scan_library([music], ref, db_path, BatchOptions(workers=1))
    assert (again.unchanged, again.queued) == (13, 0)


@pytest.fixture
def silent_listener():
    """A TCP listener that accepts connections and never says a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    accepted = []

    def accept():
        while True:
            try:
                accepted.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    yield f"tcp://127.0.0.1:{server.getsockname()[1]}", accepted
    server.close()
    for conn in accepted:
        conn.close()


def test_a_silent_scheduler_is_one_line_within_the_timeout(tmp_path, music, tiny_model, silent_listener,
                                                           run_cli_process):
    address, accepted = silent_listener
    # a real program: Dask's own log handlers write to the process's stderr
    done = run_cli_process("library", "--library", tmp_path / "l.sqlite3", "scan", music, "--model", tiny_model,
                           "--scheduler", address, env={"GENRE_DESKTOP_DASK_TIMEOUT": "2"}, timeout=120)
    assert done.returncode == 1, done.stderr
    assert f"the scheduler at {address} did not answer within 2 s" in done.stderr
    assert "Traceback" not in done.stderr
    assert [line for line in done.stderr.splitlines() if line.startswith("error")] == [
        f"error: the scheduler at {address} did not answer within 2 s"]
    assert accepted, "the listener was reached"


@pytest.mark.parametrize("address", ["ucx://127.0.0.1:8786", "tls://127.0.0.1:8786", "inproc://x/1",
                                     "tcp://127.0.0.1", "ws://h:1"])
def test_an_unsupported_scheduler_address_is_one_line(address, tmp_path, music, tiny_model):
    with pytest.raises(ValueError, match="unsupported scheduler address"):
        scan_library([music], ModelRef.of(tiny_model), tmp_path / "l.sqlite3", BatchOptions(scheduler=address))


def test_cli_says_which_scheduler_addresses_it_takes(tmp_path, music, tiny_model, run_cli):
    done = run_cli("library", "--library", tmp_path / "l.sqlite3", "scan", music, "--model", tiny_model,
                   "--scheduler", "ucx://127.0.0.1:8786")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert [line for line in done.stderr.splitlines() if line.startswith("error")] == [
        "error: unsupported scheduler address 'ucx://127.0.0.1:8786': only tcp://HOST:PORT is supported"]


class _KillAfter:
    """``on_record`` that SIGKILLs ``pid()`` once ``n`` files are committed."""

    def __init__(self, pid, n=2):
        self.pid, self.n, self.seen, self.killed = pid, n, 0, None

    def __call__(self, _path):
        self.seen += 1
        if self.seen == self.n:
            self.killed = self.pid()
            os.kill(self.killed, signal.SIGKILL)


@pytest.mark.slow
def test_the_only_worker_killed_mid_scan_loses_no_file(tmp_path, music, tiny_model):
    """LocalCluster with one worker process under a nanny: killed after two files, it comes
    back; the files it held (and the model sent to it) are sent again."""
    ref = ModelRef.of(tiny_model)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        nanny = next(iter(cluster.workers.values()))
        kill = _KillAfter(lambda: nanny.process.pid)
        summary = scan_library([music], ref, tmp_path / "l.sqlite3",
                               BatchOptions(scheduler=cluster.scheduler_address, connect_timeout=60),
                               on_record=kill)
    assert kill.killed is not None
    assert (summary.analysed, [Path(p).name for p, _ in summary.failed]) == (12, ["broken.mp3"])
    _every_file_has_its_own_result(tmp_path / "l.sqlite3", ref, music)


def _start(args, tmp_path, name):
    log = open(tmp_path / f"{name}.log", "wb")
    return subprocess.Popen([str(DASK), *args], stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path,
                            start_new_session=True)


@pytest.fixture
def cluster_processes(tmp_path):
    """A `dask scheduler` and one `dask worker --no-nanny` (one thread) as processes of their
    own: either can be killed for real."""
    if not DASK.is_file():
        pytest.skip("the dask command is not installed")
    info = tmp_path / "scheduler.json"
    scheduler = _start(["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                        "--scheduler-file", str(info)], tmp_path, "scheduler")
    procs = [scheduler]
    try:
        deadline = time.monotonic() + 60
        while not info.is_file() and time.monotonic() < deadline and scheduler.poll() is None:
            time.sleep(0.1)
        address = json.loads(info.read_text())["address"]
        worker = _start(["worker", address, "--no-nanny", "--nthreads", "1", "--nworkers", "1",
                         "--death-timeout", "30", "--no-dashboard"], tmp_path, "worker")
        procs.append(worker)
        with distributed.Client(address, timeout="30s", set_as_default=False) as client:
            client.wait_for_workers(1, timeout=60)
        yield address, scheduler, worker
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()


@pytest.mark.slow
def test_a_worker_that_never_comes_back_leaves_the_rest_to_local_processes(tmp_path, music, tiny_model,
                                                                           cluster_processes):
    address, _, worker = cluster_processes
    ref = ModelRef.of(tiny_model)
    kill = _KillAfter(lambda: worker.pid)
    summary = scan_library([music], ref, tmp_path / "l.sqlite3",
                           BatchOptions(scheduler=address, connect_timeout=3, workers=1), on_record=kill)
    assert kill.killed == worker.pid and worker.wait(timeout=30) == -signal.SIGKILL
    assert (summary.analysed, [Path(p).name for p, _ in summary.failed]) == (12, ["broken.mp3"])
    _every_file_has_its_own_result(tmp_path / "l.sqlite3", ref, music)


@pytest.mark.slow
def test_the_scheduler_killed_mid_scan_leaves_the_rest_to_local_processes(tmp_path, music, tiny_model,
                                                                          cluster_processes):
    address, scheduler, _ = cluster_processes
    ref = ModelRef.of(tiny_model)
    kill = _KillAfter(lambda: scheduler.pid)
    summary = scan_library([music], ref, tmp_path / "l.sqlite3",
                           BatchOptions(scheduler=address, connect_timeout=3, workers=1), on_record=kill)
    assert kill.killed == scheduler.pid and scheduler.wait(timeout=30) == -signal.SIGKILL
    assert (summary.analysed, [Path(p).name for p, _ in summary.failed]) == (12, ["broken.mp3"])
    _every_file_has_its_own_result(tmp_path / "l.sqlite3", ref, music)


def test_files_an_old_version_stored_as_lost_work_are_analysed_again(tmp_path, tiny_model):
    """Results earlier versions stored when the cluster lost a file's work ("lost
    dependencies", a killed worker, a closed connection) are not the file's: a plain rescan
    analyses those files again, and leaves a file's own error as it is."""
    from genre_desktop.core.library.batch import store_record

    ref = ModelRef.of(tiny_model)
    music = tmp_path / "music"
    errors = {"lost.flac": "analysis failed (FutureCancelledError: analyse_on_worker-1 cancelled for reason: "
                           "lost dependencies.)",
              "killed.flac": "analysis failed (KilledWorker: Attempted to run task on 4 different workers)",
              "closed.flac": "analysis failed (CommClosedError: in <TCP (closed)>: Stream is closed)",
              "own.flac": "analysis failed (ValueError: a worker's bug on this very file)"}
    with LibraryDatabase(tmp_path / "l.sqlite3") as db:
        for i, (name, error) in enumerate(errors.items()):
            path = write(music / name, synth("bass", 3.0, seed=i)).absolute()
            stat = path.stat()
            store_record(db, {"path": str(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
                              "result": {"error": error}}, ref)
    summary = scan_library([music], ref, tmp_path / "l.sqlite3", BatchOptions(workers=1))
    assert (summary.analysed, summary.unchanged, summary.failed) == (3, 1, [])
    with LibraryDatabase(tmp_path / "l.sqlite3") as db:
        rows = {Path(r.path).name: r for r in db.rows(ref.key)}
    assert {name: r.error for name, r in rows.items() if r.error} == {"own.flac": errors["own.flac"]}
    assert all(rows[name].verdict for name in ("lost.flac", "killed.flac", "closed.flac"))
