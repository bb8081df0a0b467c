"""The library database under faults: locked by another program, read-only, on a full disk,
of a newer version, not a library at all, damaged. Only "damaged" may move it aside, and
only `library repair` does, with its -wal and -shm files beside it.

Real SQLite files, real second processes holding write transactions (Python and the
sqlite3 shell), real read-only and full file systems (a read-only bind mount and a small
tmpfs in a private mount namespace, ``unshare -rm``)."""
from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from genre_desktop.core.library import db_open
from genre_desktop.core.library.database import LibraryDatabase, repair_library
from genre_desktop.core.library.db_open import LibraryDamaged, LibraryLocked, LibraryTooNew, NoLibrary, NotALibrary


def make_library(path: Path, files: int = 3, batches: int = 1) -> Path:
    """A library with ``files`` rows and ``batches`` tag batches, closed cleanly."""
    with LibraryDatabase(path) as db:
        with db.transaction():
            for i in range(files):
                db.upsert_file(f"/music/{i:05d} a rather long file name to fill pages.ogg", size=1000 + i,
                               mtime_ns=i, fingerprint=f"{i:040x}", duration=60.0, artist="Artist", title=f"T{i}")
            for _ in range(batches):
                db.start_tag_batch("key", {"top_k": 1})
    return path


def names(folder: Path) -> list[str]:
    """The files in ``folder`` (lock files of tag writers aside)."""
    return sorted(p.name for p in folder.iterdir() if not p.name.endswith(".lock"))


HOLDER = r"""
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA wal_autocheckpoint=0")
conn.execute("INSERT INTO tag_batches (created_at, options) VALUES ('committed in the WAL', '{}')")
if sys.argv[2] == "hold":
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO tag_batches (created_at, options) VALUES ('never committed', '{}')")
print("ready", flush=True)
sys.stdin.read()
"""


def start_holder(db: Path, mode: str = "hold") -> subprocess.Popen:
    """A second Python process that committed one batch into the WAL and (``hold``) keeps a
    write transaction open until killed."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(db), mode], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    return proc


def start_shell_holder(db: Path) -> subprocess.Popen:
    """The sqlite3 shell in a write transaction (stdin kept open)."""
    proc = subprocess.Popen(["sqlite3", str(db)], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    proc.stdin.write("PRAGMA wal_autocheckpoint=0;\nINSERT INTO tag_batches (created_at, options) VALUES"
                     " ('committed in the WAL', '{}');\nBEGIN IMMEDIATE;\nINSERT INTO tag_batches (created_at)"
                     " VALUES ('never committed');\n")
    proc.stdin.flush()
    probe = sqlite3.connect(db, timeout=0, isolation_level=None)
    try:
        for _ in range(600):  # until the shell holds the write lock
            try:
                probe.execute("BEGIN IMMEDIATE")
                probe.execute("ROLLBACK")
            except sqlite3.OperationalError:
                return proc
            time.sleep(0.05)
    finally:
        probe.close()
    proc.kill()
    raise AssertionError("the sqlite3 shell never took the write lock")


def kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def batches_created(db: Path) -> list[str]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return [r[0] for r in conn.execute("SELECT created_at FROM tag_batches ORDER BY id")]
    finally:
        conn.close()


# --- locked

@pytest.mark.parametrize("holder", ["python", "sqlite3 shell"])
def test_a_locked_library_is_waited_for_said_locked_and_never_moved(holder, tmp_path, run_cli):
    if holder == "sqlite3 shell" and shutil.which("sqlite3") is None:
        pytest.skip("the sqlite3 shell is not installed")
    db = make_library(tmp_path / "lib.sqlite3")
    proc = start_holder(db) if holder == "python" else start_shell_holder(db)
    try:
        lib = ["library", "--library", db, "--wait", "0.5"]
        before = names(tmp_path)
        assert "lib.sqlite3-wal" in before
        out = run_cli(*lib, "forget", "/music/00000 a rather long file name to fill pages.ogg")
        assert out.returncode == 1, out.stderr
        assert "locked by another program" in out.stderr and "damaged" not in out.stderr, out.stderr
        assert out.stderr.count("\n") == 1 and "internal error" not in out.stderr
        assert names(tmp_path) == before  # nothing moved, the WAL kept
        assert "not damaged" in run_cli(*lib, "repair", check_rc=0).stdout
        assert names(tmp_path) == before
        # a command that only reads works while the other program writes
        history = run_cli(*lib, "history", check_rc=0)
        assert "committed in the WAL" in history.stdout and "never committed" not in history.stdout
    finally:
        kill(proc)
    assert "committed in the WAL" in batches_created(db)  # the other program's committed rows survive
    with LibraryDatabase(db) as again:
        assert again.file("/music/00000 a rather long file name to fill pages.ogg") is not None


def test_locked_through_the_python_api_is_its_own_error(tmp_path):
    db = make_library(tmp_path / "lib.sqlite3")
    proc = start_holder(db)
    try:
        with LibraryDatabase(db, timeout=0.2) as lib:  # opening a current library needs no write
            with pytest.raises(sqlite3.OperationalError) as caught:
                lib.remove_files(["/music/00000 a rather long file name to fill pages.ogg"])
            error = lib.error(caught.value)
            assert isinstance(error, LibraryLocked) and "locked by another program" in str(error)
        with LibraryDatabase(db, readonly=True, timeout=0.2) as lib:
            assert len(lib.rows(None)) == 3
    finally:
        kill(proc)


# --- read-only and full file systems (a private mount namespace)

def _namespaces_work() -> bool:
    if shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode == 0


needs_namespace = pytest.mark.skipif(not _namespaces_work(),
                                     reason="needs `unshare -rm` (user and mount namespaces) for a real "
                                            "read-only or full file system")


def in_namespace(mount: str, folder: Path, *command) -> subprocess.CompletedProcess:
    """``command`` with ``folder`` mounted read-only (``ro``) or as a 256 kB tmpfs (``tmpfs``)."""
    setup = {"ro": 'mount --bind -o ro "$1" "$1"', "tmpfs": 'mount -t tmpfs -o size=256k tmpfs "$1"'}[mount]
    return subprocess.run(["unshare", "-rm", "sh", "-c", f'{setup} && shift && exec "$@"', "sh", str(folder),
                           *map(str, command)], capture_output=True, text=True)


@needs_namespace
@pytest.mark.parametrize("wal", ["closed cleanly", "WAL left by a killed writer"])
def test_a_read_only_library_is_read_and_never_moved(wal, tmp_path, run_cli_process):
    folder = tmp_path / "ro"
    folder.mkdir()
    db = make_library(folder / "lib.sqlite3")
    if wal != "closed cleanly":
        kill(start_holder(db, mode="commit"))
        assert (folder / "lib.sqlite3-wal").stat().st_size > 0
    before = {name: (folder / name).read_bytes() for name in names(folder)}
    lib = run_cli_process.command("library", "--library", db)  # a real program, in the namespace
    history = in_namespace("ro", folder, *lib, "history")
    assert history.returncode == 0, history.stderr
    assert history.stdout.count("batch ") == (1 if wal == "closed cleanly" else 2)
    forget = in_namespace("ro", folder, *lib, "forget", "/music/00001 a rather long file name to fill pages.ogg")
    assert forget.returncode == 1 and "read-only" in forget.stderr and forget.stderr.count("\n") == 1, forget.stderr
    assert "damaged" not in forget.stderr
    assert {name: (folder / name).read_bytes() for name in names(folder)} == before


DISK_FULL_DRIVER = r"""
import json, os, shutil, subprocess, sys
mnt, source = sys.argv[1], sys.argv[2]
lib = os.path.join(mnt, "lib.sqlite3")
shutil.copy(source, lib)
fd = os.open(os.path.join(mnt, "filler"), os.O_WRONLY | os.O_CREAT)
try:
    while True:
        os.write(fd, b"\0" * 4096)
except OSError:
    pass
os.close(fd)
out = {"free": os.statvfs(mnt).f_bavail}
cli = [sys.executable, "-m", "genre_desktop.cli", "library"]
p = subprocess.run([*cli, "--library", lib, "forget", "/music/00001 a rather long file name to fill pages.ogg"],
                   capture_output=True, text=True)
out["forget"] = [p.returncode, p.stderr]
from genre_desktop.core.library.database import LibraryDatabase
try:  # a new library (what scan makes) on the full disk
    LibraryDatabase(os.path.join(mnt, "new", "lib.sqlite3")).close()
    out["new"] = [0, ""]
except Exception as exc:
    out["new"] = [1, f"{type(exc).__name__}: {exc}\n"]
out["files"] = sorted(os.listdir(mnt))
with open(lib, "rb") as a, open(source, "rb") as b:
    out["same"] = a.read() == b.read()
print(json.dumps(out))
"""


@needs_namespace
def test_a_full_disk_is_said_and_nothing_moves(tmp_path):
    import json

    db = make_library(tmp_path / "source.sqlite3", files=20)
    driver = tmp_path / "driver.py"
    driver.write_text(DISK_FULL_DRIVER)
    mnt = tmp_path / "small"
    mnt.mkdir()
    run = in_namespace("tmpfs", mnt, sys.executable, driver, mnt, db)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["free"] == 0
    for name in ("forget", "new"):
        rc, stderr = out[name]
        assert rc == 1 and "disk full" in stderr and stderr.count("\n") == 1, (name, stderr)
        assert "damaged" not in stderr and "internal error" not in stderr
    assert out["new"][1].startswith("LibraryDiskFull")
    assert not [f for f in out["files"] if "damaged" in f]
    assert "lib.sqlite3" in out["files"] and out["same"]  # the library is as it was


# --- newer version, not a library

def test_a_newer_library_is_refused_and_left_untouched(tmp_path, run_cli):
    db = make_library(tmp_path / "lib.sqlite3")
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA user_version=5")
    conn.close()
    before = db.read_bytes()
    for args in (["history"], ["forget", "/x"], ["repair"]):
        out = run_cli("library", "--library", db, *args)
        assert out.returncode == 1 and "newer version" in out.stderr and "schema 5" in out.stderr, out.stderr
        assert out.stderr.count("\n") == 1
    assert db.read_bytes() == before
    # a read-only look may leave SQLite's empty -wal and -shm beside it, nothing else
    assert set(names(tmp_path)) <= {"lib.sqlite3", "lib.sqlite3-wal", "lib.sqlite3-shm"}
    assert not (tmp_path / "lib.sqlite3-wal").exists() or (tmp_path / "lib.sqlite3-wal").stat().st_size == 0
    with pytest.raises(LibraryTooNew) as caught:
        LibraryDatabase(db)
    assert caught.value.needed == 5


def test_folders_songs_and_other_databases_are_refused_never_renamed(tmp_path, tiny_model, run_cli):
    music = tmp_path / "Music"
    (music / "Artist").mkdir(parents=True)
    song = music / "song.mp3"
    song.write_bytes(b"ID3\x03\x00" + bytes(range(256)) * 8)
    other = tmp_path / "places.sqlite"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE moz_places (id INTEGER PRIMARY KEY, url TEXT)")
    conn.execute("PRAGMA user_version=70")
    conn.commit()
    conn.close()
    fifo = tmp_path / "fifo.sqlite3"
    os.mkfifo(fifo)
    before = {p: p.read_bytes() for p in (song, other)}
    listing = sorted(str(p) for p in tmp_path.rglob("*"))
    for target, words in ((music, "is a folder"), (song, "not a library database"),
                          (other, "another program's database"), (fifo, "not a library database")):
        for args in (["show", "--model", tiny_model], ["forget", "/x"], ["repair"]):
            out = run_cli("library", "--library", target, *args)
            assert out.returncode == 2 and words in out.stderr and out.stderr.count("\n") == 1, (target, out.stderr)
    assert sorted(str(p) for p in tmp_path.rglob("*")) == listing
    assert {p: p.read_bytes() for p in before} == before
    with pytest.raises(NotALibrary):
        LibraryDatabase(music)


def test_a_missing_library_is_not_created_by_commands_that_only_read(tmp_path, tiny_model, run_cli):
    db = tmp_path / "nowhere" / "x.sqlite3"
    for args in (["show", "--model", tiny_model], ["history"], ["export", tmp_path / "t.csv", "--model", tiny_model],
                 ["repair"]):
        out = run_cli("library", "--library", db, *args)
        assert out.returncode == 2 and "no library at" in out.stderr and out.stderr.count("\n") == 1, out.stderr
    assert names(tmp_path) == []
    with pytest.raises(NoLibrary):
        LibraryDatabase(db, readonly=True)
    with LibraryDatabase(db) as lib:  # a command that writes (scan) makes it
        assert lib.rows(None) == []


# --- damaged

def damage(db: Path) -> None:
    """Garbage over whole pages in the middle of the file (the header stays)."""
    data = bytearray(db.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    assert len(data) >= 12 * page
    garbage = bytes((i * 151 + 17) % 256 for i in range(page))
    for n in range(3, 10):
        data[n * page:(n + 1) * page] = garbage
    db.write_bytes(bytes(data))


def test_garbage_in_the_pages_is_damaged_and_repair_keeps_it_and_its_wal(tmp_path, run_cli):
    db = make_library(tmp_path / "lib.sqlite3", files=400)
    kill(start_holder(db, mode="commit"))  # a committed row left in the WAL
    damage(db)
    wal = (tmp_path / "lib.sqlite3-wal").read_bytes()
    damaged = db.read_bytes()
    lib = ["library", "--library", db]
    for args in (["history"], ["forget", "/x"]):
        out = run_cli(*lib, *args)
        assert out.returncode == 1 and "is damaged" in out.stderr and "library repair" in out.stderr, out.stderr
        assert out.stderr.count("\n") == 1 and "internal error" not in out.stderr
    assert names(tmp_path) == ["lib.sqlite3", "lib.sqlite3-shm", "lib.sqlite3-wal"]
    with pytest.raises(LibraryDamaged) as caught:
        LibraryDatabase(db)
    assert "\n" not in str(caught.value)  # one line, for the window's status bar too

    repaired = run_cli(*lib, "repair", check_rc=0)
    assert "moved to" in repaired.stdout
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("lib.sqlite3.damaged-") and p.name[-4:] != "-wal"
             and p.name[-4:] != "-shm"]
    assert len(aside) == 1 and aside[0].read_bytes() == damaged
    assert Path(f"{aside[0]}-wal").read_bytes() == wal  # the WAL went with it, whole
    assert "no tags written yet" in run_cli(*lib, "history", check_rc=0).stderr  # a fresh library
    assert "not damaged" in run_cli(*lib, "repair", check_rc=0).stdout  # a sound one is left alone
    assert len([p for p in tmp_path.iterdir() if ".damaged-" in p.name]) == 3  # the library, its -wal and -shm


def test_damage_found_after_opening_is_said_as_damaged(tmp_path, monkeypatch):
    db = make_library(tmp_path / "lib.sqlite3", files=400)
    damage(db)
    monkeypatch.setattr(db_open, "QUICK_CHECK_MAX_BYTES", 0)  # as for a library too big to check at opening
    with LibraryDatabase(db) as lib:
        with pytest.raises(sqlite3.DatabaseError) as caught:
            lib.rows(None)
        assert isinstance(lib.error(caught.value), LibraryDamaged)
    assert repair_library(db) is not None and not db.exists()


# --- a scan run killed with kill -9

RUNNER = r"""
import sys, time
from genre_desktop.core.library.database import LibraryDatabase
db = LibraryDatabase(sys.argv[1])
print(db.start_run("key", "model", ["/music"]), flush=True)
sys.stdin.read()
"""


def test_a_killed_run_is_closed_at_the_next_start_and_a_live_one_is_not(tmp_path):
    db = make_library(tmp_path / "lib.sqlite3")
    killed = subprocess.Popen([sys.executable, "-c", RUNNER, str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    killed_id = int(killed.stdout.readline())
    alive = subprocess.Popen([sys.executable, "-c", RUNNER, str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True)
    alive_id = int(alive.stdout.readline())
    try:
        kill(killed)
        with LibraryDatabase(db) as lib:  # the next start
            states = {r["id"]: r["state"] for r in lib._conn.execute("SELECT id, state FROM runs")}
            assert states == {killed_id: "interrupted", alive_id: "running"}
            own = lib.start_run("key", "model", [])
            assert lib.close_stale_runs() == []  # its own run, held, is alive
            lib.finish_run(own, "finished", {})
        assert not (tmp_path / f"lib.sqlite3.run-{killed_id}.lock").exists()
        assert not (tmp_path / f"lib.sqlite3.run-{own}.lock").exists()
    finally:
        kill(alive)
    with LibraryDatabase(db) as lib:
        assert lib.last_run()["state"] == "finished"
        assert {r["state"] for r in lib._conn.execute("SELECT state FROM runs")} == {"interrupted", "finished"}


HOT_JOURNAL = r"""
import os, signal, sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA journal_mode=DELETE")
conn.execute("PRAGMA cache_size=2")  # the change spills into the file before any commit
conn.execute("BEGIN")
conn.execute("UPDATE files SET title = 'half written ' || title")
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_writer_killed_mid_transaction_in_rollback_mode_is_rolled_back_not_called_read_only(tmp_path, run_cli):
    db = make_library(tmp_path / "lib.sqlite3", files=400)
    proc = subprocess.run([sys.executable, "-c", HOT_JOURNAL, str(db)])
    assert proc.returncode == -9 and (tmp_path / "lib.sqlite3-journal").exists()
    out = run_cli("library", "--library", db, "history")
    assert out.returncode == 0 and "batch 1" in out.stdout, out.stderr
    with LibraryDatabase(db) as lib:
        assert not any(r.title.startswith("half written") for r in lib.rows(None))


def test_a_library_whose_header_is_gone_can_be_repaired_but_a_song_never_is(tmp_path, run_cli, run_cli_process):
    db = make_library(tmp_path / "lib.sqlite3", files=50)
    data = bytearray(db.read_bytes())
    data[:100] = b"\x00" * 100  # the header overwritten
    db.write_bytes(bytes(data))
    # a program that has not opened the library before (this process has: make_library)
    out = run_cli_process("library", "--library", db, "history")
    assert out.returncode == 2 and "not an SQLite file" in out.stderr and "library repair" in out.stderr
    assert "moved to" in run_cli("library", "--library", db, "repair", check_rc=0).stdout
    (aside,) = [p for p in tmp_path.iterdir() if ".damaged-" in p.name]
    assert aside.read_bytes() == bytes(data)
    song = tmp_path / "song.mp3"
    song.write_bytes(b"\x00" * 4096)
    refused = run_cli("library", "--library", song, "repair")
    assert refused.returncode == 2 and "library repair" not in refused.stderr and song.read_bytes() == b"\x00" * 4096
