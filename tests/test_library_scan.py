"""The library: a real SQLite file, real worker processes, a real Dask cluster on loopback."""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys

import pytest

from conftest import TINY_LABELS, synth, write
from genre_desktop.core.library.model_ref import ModelRef
from genre_desktop.core.library.analyse import analyse_path, audio_fingerprint
from genre_desktop.core.library.batch import BatchOptions, scan_library
from genre_desktop.core.library.database import LibraryDatabase
from genre_desktop.core.library.listing import filter_rows, genre_counts, write_playlists, write_table


@pytest.fixture
def music(tmp_path):
    """Nine tracks in nested folders (three per tiny genre) and one broken file."""
    root = tmp_path / "Music"
    for g, genre in enumerate(TINY_LABELS):
        for i in range(3):
            write(root / f"Artist {g}" / f"Album {i % 2}" / f"{genre}_{i}.flac", synth(genre, 5.0, seed=40 + 3 * g + i))
    (root / "broken.mp3").write_bytes(b"\x00" * 5000)
    return root


def test_a_scan_remembers_every_file_and_resumes(tmp_path, music, tiny_model):
    ref = ModelRef.of(tiny_model)
    db_path = tmp_path / "library.sqlite3"
    seen = []
    summary = scan_library([music], ref, db_path, BatchOptions(workers=2),
                           progress=lambda f, m: seen.append((f, m)))
    assert (summary.found, summary.analysed, len(summary.failed)) == (10, 9, 1)
    assert "broken.mp3" in summary.failed[0][0]
    assert seen[-1][0] == 1.0 and any("files/min" in m and "left" in m for _, m in seen)
    with LibraryDatabase(db_path) as db:
        rows = db.rows(ref.key)
        assert len(rows) == 10
        right = [r for r in rows if r.verdict and r.genre and os.path.basename(r.path).startswith(r.genre)]
        assert len(right) >= 8, [(r.path, r.verdict, r.genre) for r in rows]
        assert all(r.timeline and r.top and r.fingerprint for r in rows if r.verdict)
        assert sum(genre_counts(rows).values()) == 10

    again = scan_library([music], ref, db_path, BatchOptions(workers=1))
    assert (again.unchanged, again.analysed, again.queued) == (10, 0, 0)  # errors are not retried by default
    assert scan_library([music], ref, db_path, BatchOptions(workers=1, retry_errors=True)).queued == 1

    # a file re-encoded (new audio) is analysed again; a moved one keeps its results
    changed = music / "Artist 0" / "Album 0" / "bass_0.flac"
    write(changed, synth("treble", 5.0, seed=99))
    moved_from = music / "Artist 1" / "Album 1" / "treble_1.flac"
    moved_to = music / "Moved" / "treble_1 (copy).flac"
    moved_to.parent.mkdir()
    os.replace(moved_from, moved_to)
    third = scan_library([music], ref, db_path, BatchOptions(workers=1))
    assert (third.analysed, third.moved, third.unchanged) == (1, 1, 8)
    with LibraryDatabase(db_path) as db:
        moved = db.row(moved_to, ref.key)
        assert moved.verdict is not None and db.row(moved_from, ref.key) is None
        assert db.row(changed, ref.key).genre == "treble"
        last = db.last_run(ref.key)["id"]
        assert {os.path.basename(r.path) for r in filter_rows(db.rows(ref.key), "changed", last_run=last)} == {"bass_0.flac"}


RESUME_SCRIPT = """
import sys
from genre_desktop.core.library.model_ref import ModelRef
from genre_desktop.core.library.batch import BatchOptions, scan_library
if __name__ == "__main__":
    scan_library([sys.argv[1]], ModelRef.of(sys.argv[2]), sys.argv[3], BatchOptions(workers=1))
"""


def test_a_killed_scan_loses_only_the_files_in_flight(tmp_path, music, tiny_model):
    db_path = tmp_path / "library.sqlite3"
    script = tmp_path / "scan.py"
    script.write_text(RESUME_SCRIPT)
    proc = subprocess.run([sys.executable, str(script), str(music), str(tiny_model), str(db_path)],
                          env={**os.environ, "GENRE_DESKTOP_FAULT": "library-after-commit"},
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == -9, proc.stderr
    with LibraryDatabase(db_path) as db:  # the database survived the kill, with the first result
        assert len(db.rows(None)) == 1
        assert db.last_run()["state"] == "interrupted"  # the killed run is closed at the next start
    resumed = scan_library([music], ModelRef.of(tiny_model), db_path, BatchOptions(workers=1))
    assert (resumed.unchanged, resumed.queued) == (1, 9)


def test_two_models_never_mix(tmp_path, music, tiny_model):
    db_path = tmp_path / "library.sqlite3"
    ref = ModelRef.of(tiny_model)
    scan_library([music / "Artist 0"], ref, db_path, BatchOptions(workers=1))
    other = tmp_path / "retrained"
    shutil.copytree(tiny_model, other)
    meta = (other / "model.json").read_text().replace('"version": "0.0.1"', '"version": "0.0.2"')
    (other / "model.json").write_text(meta)
    ref2 = ModelRef.of(other)
    assert ref2.key != ref.key and ref2.name == ref.name  # same name, other files: another key
    with LibraryDatabase(db_path) as db:
        assert all(r.verdict is None for r in db.rows(ref2.key))
        assert all(r.verdict is not None for r in db.rows(ref.key))


def test_a_file_that_is_not_a_library_is_refused_and_never_moved(tmp_path):
    from genre_desktop.core.library.db_open import LibraryTooNew, NotALibrary

    path = tmp_path / "library.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(NotALibrary):
        LibraryDatabase(path)
    assert [p.name for p in tmp_path.iterdir()] == ["library.sqlite3"]  # moved nowhere (tests/test_faults_database.py)
    path.unlink()
    LibraryDatabase(path).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version=99")  # a newer app's library is not touched
    conn.close()
    with pytest.raises(LibraryTooNew):
        LibraryDatabase(path)


def test_worker_records_and_fingerprints(tmp_path, tiny_model):
    path = write(tmp_path / "a.ogg", synth("noise", 4.0))
    ref = ModelRef.of(tiny_model)
    record = analyse_path(str(path), ref)
    assert record["result"]["verdict"] and len(record["result"]["timeline"]) >= 1
    rate = int(record["fingerprint"].split(":")[0])
    assert audio_fingerprint(path, rate) == record["fingerprint"]
    assert analyse_path(str(path), ref, record["fingerprint"])["moved"] is True
    assert "error" in analyse_path(str(tmp_path / "gone.ogg"), ref)["result"]


def test_playlists_and_exports(tmp_path, music, tiny_model):
    db_path = tmp_path / "library.sqlite3"
    ref = ModelRef.of(tiny_model)
    scan_library([music], ref, db_path, BatchOptions(workers=1))
    with LibraryDatabase(db_path) as db:
        rows = db.rows(ref.key)
    lists = write_playlists(rows, tmp_path / "lists", ref.name)
    assert lists and all(p.suffix == ".m3u8" for p in lists)
    text = lists[0].read_text()
    assert text.startswith("#EXTM3U") and "#EXTINF:5," in text
    listed = [line for line in text.splitlines() if not line.startswith("#")]
    assert all(os.path.isabs(p) and os.path.exists(p) for p in listed)
    import csv
    import json

    table = list(csv.DictReader(open(write_table(rows, tmp_path / "t.csv", ref.key, ref.name))))
    assert len(table) == 10 and table[0]["model"] == ref.key
    data = json.loads(write_table(rows, tmp_path / "t.json", ref.key, ref.name).read_text())
    assert data["model_key"] == ref.key and len(data["tracks"]) == 10


@pytest.mark.slow
def test_the_same_batch_on_a_dask_cluster(tmp_path, music, tiny_model):
    distributed = pytest.importorskip("distributed")
    ref = ModelRef.of(tiny_model)
    local = scan_library([music], ref, tmp_path / "local.sqlite3", BatchOptions(workers=1))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        remote = scan_library([music], ref, tmp_path / "dask.sqlite3", BatchOptions(scheduler=cluster.scheduler_address))
    assert (remote.analysed, len(remote.failed)) == (local.analysed, len(local.failed)) == (9, 1)
    with LibraryDatabase(tmp_path / "local.sqlite3") as a, LibraryDatabase(tmp_path / "dask.sqlite3") as b:
        left = {r.path: (r.verdict, r.genre, r.confidence, r.fingerprint) for r in a.rows(ref.key)}
        right = {r.path: (r.verdict, r.genre, r.confidence, r.fingerprint) for r in b.rows(ref.key)}
    assert left == right


def test_an_unreachable_scheduler_is_one_line(tmp_path, music, tiny_model):
    pytest.importorskip("distributed")
    with pytest.raises(OSError, match="cannot reach the Dask scheduler"):
        scan_library([music], ModelRef.of(tiny_model), tmp_path / "l.sqlite3",
                     BatchOptions(scheduler="tcp://127.0.0.1:9", connect_timeout=2))


def test_a_file_that_kills_its_worker_fails_alone(tmp_path, music, tiny_model, monkeypatch):
    """A worker process that dies (a decoder crash, out of memory) is replaced; the file
    it was on is tried once more, then reported, and the rest of the batch is analysed."""
    monkeypatch.setenv("GENRE_DESKTOP_FAULT", "library-worker:treble_2.flac")
    summary = scan_library([music / "Artist 1"], ModelRef.of(tiny_model), tmp_path / "l.sqlite3",
                           BatchOptions(workers=1))
    assert summary.analysed == 2
    assert [(os.path.basename(p), "worker process" in r) for p, r in summary.failed] == [("treble_2.flac", True)]


def test_the_bundled_model_keeps_its_sounds_like_tags(tmp_path):
    from genre_desktop.core.engine.models.registry import resolve_model

    path = write(tmp_path / "x.flac", synth("bass", 6.0, sr=22050), 22050)
    ref = ModelRef.of(resolve_model(None))
    summary = scan_library([tmp_path], ref, tmp_path / "l.sqlite3", BatchOptions(workers=1))
    assert summary.analysed == 1
    with LibraryDatabase(tmp_path / "l.sqlite3") as db:
        row = db.row(path, ref.key)
    assert isinstance(row.sounds_like, list) and row.timeline and row.top
