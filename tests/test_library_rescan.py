"""Rescans that see the library as it is (issue 27): files gone since the last scan are
missing (reported, left out of exports, playlists and tag writes, forgotten in one step,
un-marked when they come back); a file moved *and* retagged keeps its row and results.
Real files, a real SQLite library, real worker processes and the real CLI."""
from __future__ import annotations

import os
import sqlite3
import threading

import mutagen
import pytest

from conftest import TINY_LABELS, synth, write
from genre_desktop.core.library.model_ref import ModelRef
from genre_desktop.core.library.batch import BatchOptions, scan_library
from genre_desktop.core.library.database import LibraryDatabase
from genre_desktop.core.library.review import TagOptions, propose


@pytest.fixture
def music(tmp_path):
    root = tmp_path / "Music"
    for g, genre in enumerate(TINY_LABELS):
        for i in range(2):
            write(root / genre / f"{genre}_{i}.ogg", synth(genre, 5.0, seed=110 + 2 * g + i))
    return root


def _retag(path, title: str) -> None:
    """What Picard does to a file's bytes: new tags (longer than any padding), same audio."""
    audio = mutagen.File(path)
    audio["title"] = title
    audio["comment"] = "x" * 20000
    audio.save()


def test_a_rescan_reports_missing_files_and_every_command_leaves_them_out(tmp_path, music, tiny_model, run_cli):
    db = tmp_path / "lib.sqlite3"
    lib = ["library", "--library", db]
    scan = ["scan", music, "--model", tiny_model, "--workers", "1", "--no-progress"]
    run_cli(*lib, *scan, check_rc=0)
    gone = [music / "bass" / "bass_0.ogg", music / "noise" / "noise_1.ogg", music / "treble" / "treble_0.ogg"]
    kept_aside = tmp_path / "aside"
    kept_aside.mkdir()
    for path in gone:
        os.replace(path, kept_aside / path.name)

    out = run_cli(*lib, *scan, check_rc=0).stdout
    assert "3 files gone since the last scan" in out and "forget --missing" in out
    with LibraryDatabase(db) as opened:
        assert len(opened.rows(None)) == 6  # marked, not forgotten
        assert '"gone": 3' in opened.last_run()["counts"]
        lines = {os.path.basename(l.path): l for l in propose(opened, ModelRef.of(tiny_model).key,
                                                              TagOptions(overwrite=True, verdicts=("genre", "unsure")))}
    assert all(lines[p.name].action in ("missing", "skip") for p in gone)
    assert any(lines[p.name].action == "missing" and lines[p.name].why == "the file is gone" for p in gone)

    lists = run_cli(*lib, "playlists", tmp_path / "lists", "--model", tiny_model, check_rc=0)
    listed = "".join(open(p).read() for p in lists.stdout.split())
    assert not any(p.name in listed for p in gone) and "3 files gone" in lists.stderr
    run_cli(*lib, "export", tmp_path / "all.csv", "--model", tiny_model, check_rc=0)
    exported = (tmp_path / "all.csv").read_text()
    assert not any(p.name in exported for p in gone) and "bass_1.ogg" in exported

    # one comes back: no longer missing, nothing analysed again
    os.replace(kept_aside / gone[0].name, gone[0])
    back = run_cli(*lib, *scan, check_rc=0).stdout
    assert "2 files gone since the last scan" in back and "0 analysed" in back

    assert "2 files forgotten" in run_cli(*lib, "forget", "--missing", check_rc=0).stdout
    final = run_cli(*lib, *scan, check_rc=0).stdout
    assert "gone since" not in final and "4 audio files: 0 analysed" in final


def test_a_moved_and_retagged_file_keeps_its_row_and_results(tmp_path, music, tiny_model):
    ref = ModelRef.of(tiny_model)
    db = tmp_path / "lib.sqlite3"
    scan_library([music], ref, db, BatchOptions(workers=1))
    old = music / "treble" / "treble_1.ogg"
    with LibraryDatabase(db) as opened:
        before = opened.row(old, ref.key)
        n = len(opened.rows(ref.key))
    size = old.stat().st_size
    new = music / "Sorted" / "Artist - Title.ogg"
    new.parent.mkdir()
    os.replace(old, new)
    _retag(new, "Picard's title")
    assert new.stat().st_size != size

    summary = scan_library([music], ref, db, BatchOptions(workers=1))
    assert (summary.moved, summary.analysed, summary.gone) == (1, 0, 0)  # fingerprinted, network not run
    with LibraryDatabase(db) as opened:
        after = opened.row(new, ref.key)
        assert len(opened.rows(ref.key)) == n and opened.row(old, ref.key) is None
        assert after.id == before.id and after.analysed_at == before.analysed_at and after.timeline == before.timeline
        assert after.title == "Picard's title" and after.size == new.stat().st_size


def test_a_moved_file_whose_old_row_has_no_length_is_still_no_duplicate(tmp_path, music, tiny_model):
    """Without a length to pick it as a candidate, the file is analysed, and its
    fingerprint then finds the gone row, which follows the file (one row, its id kept)."""
    ref = ModelRef.of(tiny_model)
    db = tmp_path / "lib.sqlite3"
    scan_library([music], ref, db, BatchOptions(workers=1))
    old, new = music / "bass" / "bass_1.ogg", music / "bass" / "renamed.ogg"
    with LibraryDatabase(db) as opened:
        old_id = opened.file(old)["id"]
        opened.connection.execute("UPDATE files SET duration = NULL WHERE id = ?", (old_id,))
    os.replace(old, new)
    _retag(new, "renamed")
    summary = scan_library([music], ref, db, BatchOptions(workers=1))
    assert summary.gone == 0 and summary.analysed == 1
    with LibraryDatabase(db) as opened:
        assert opened.file(new)["id"] == old_id and opened.file(old) is None
        assert len(opened.rows(ref.key)) == 6


def test_scan_waits_only_as_long_as_told_for_a_locked_library(tmp_path, music, tiny_model):
    ref = ModelRef.of(tiny_model)
    db = tmp_path / "lib.sqlite3"
    scan_library([music / "bass"], ref, db, BatchOptions(workers=1))
    holder = sqlite3.connect(db, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # another program writing, for 8 s
    release = threading.Timer(8.0, holder.rollback)
    release.start()
    try:
        with pytest.raises((sqlite3.OperationalError, Exception), match="locked"):
            scan_library([music], ref, db, BatchOptions(workers=1, wait=0.5))
    finally:
        release.join()
        holder.close()
    assert scan_library([music], ref, db, BatchOptions(workers=1, wait=30)).analysed == 4


def test_history_names_and_counts_every_kind_of_batch(tmp_path, run_cli):
    """Genre batches (replace, add, per album), a mood batch and an undo: each line says
    what the batch wrote and its counts (a mood batch is not called "one genre")."""
    db_path = tmp_path / "lib.sqlite3"
    kinds = [{"top_k": 1, "verdicts": ["genre"], "overwrite": True},
             {"top_k": 1, "verdicts": ["genre"], "add": True, "per_album": True},
             {"field": "MOOD", "overwrite": False}]
    with LibraryDatabase(db_path) as db:
        for n, options in enumerate(kinds, start=2):
            batch = db.start_tag_batch("key", options)
            for i in range(n):
                db.mark_write(db.journal_write(batch, None, f"/m/{n}-{i}.ogg", [], ["X"]), "done")
        undo = db.start_tag_batch("key", {"undo": 3}, undo_of=3)
        for i in range(4):
            db.mark_write(db.journal_write(undo, None, f"/m/4-{i}.ogg", ["X"], []), "done")
        db.mark_undone(3, undo)
    lines = run_cli("library", "--library", db_path, "history", check_rc=0).stdout.splitlines()
    assert "undo of batch 3" in lines[0] and "4 put back, 0 left alone" in lines[0]
    assert "4 written, 0 failed" in lines[1] and "MOOD tags, keeping existing values" in lines[1]
    assert "genre" not in lines[1].split("\t")[-1] and "undone by batch 4" in lines[1]
    assert "3 written" in lines[2] and "adding to existing genres, one genre per album" in lines[2]
    assert "2 written" in lines[3] and "replacing genres" in lines[3]


def _synthetic_library(db_path, n: int) -> None:
    """``n`` rows with 60-slice timelines, written through the project's database code."""
    with LibraryDatabase(db_path) as db, db.transaction():
        for i in range(n):
            file_id = db.upsert_file(f"/nowhere/Artist {i % 50}/Album {i % 7}/{i:06d}.ogg", size=1000 + i,
                                     mtime_ns=i, fingerprint=f"16000:{i:032x}", duration=180.0,
                                     artist=f"Artist {i % 50}", album=f"Album {i % 7}", title=f"Track {i}")
            genre = TINY_LABELS[i % 3]
            db.save_result(file_id, "key", "tiny", {
                "verdict": "genre", "genre": genre, "confidence": 0.9,
                "top": [[genre, 0.9], [TINY_LABELS[(i + 1) % 3], 0.1]],
                "timeline": [[3.0 * s, genre, 0.9] for s in range(60)]})


def _peak(func) -> int:
    import tracemalloc

    tracemalloc.start()
    try:
        func()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("per_album", [False, True])
def test_write_tags_dry_run_streams_the_same_lines(tmp_path, per_album):
    """iter_propose (``write-tags --dry-run``) gives propose's lines, with memory flat in
    the number of rows: four times the rows, about the same peak, far below propose's."""
    from genre_desktop.core.library.review import iter_propose

    options = TagOptions(overwrite=True, per_album=per_album)
    small, large = tmp_path / "small.sqlite3", tmp_path / "large.sqlite3"
    _synthetic_library(small, 1000)
    _synthetic_library(large, 4000)
    with LibraryDatabase(small) as db:
        key = lambda l: (l.file_id, l.action, l.why, tuple(l.proposed), l.album_genre)
        assert sorted(map(key, iter_propose(db, "key", options))) == sorted(map(key, propose(db, "key", options)))
    peaks = {}
    for name, path in (("small", small), ("large", large)):
        with LibraryDatabase(path) as db:
            peaks[name] = _peak(lambda: sum(1 for _ in iter_propose(db, "key", options)))
            peaks[name + " list"] = _peak(lambda: propose(db, "key", options))
    assert peaks["large"] < 1.5 * peaks["small"] + 2_000_000, peaks
    assert peaks["large"] < peaks["large list"] / 3, peaks


def test_the_library_tab_offers_to_forget_the_missing_files(qtbot, tmp_path, music, tiny_model):
    from PySide6.QtCore import QSettings

    from genre_desktop.gui.library_view import LibraryView
    from genre_desktop.gui.settings import Settings

    ref = ModelRef.of(tiny_model)
    db_path = tmp_path / "lib.sqlite3"
    scan_library([music], ref, db_path, BatchOptions(workers=1))
    for path in (music / "bass" / "bass_0.ogg", music / "noise" / "noise_0.ogg"):
        path.unlink()
    summary = scan_library([music], ref, db_path, BatchOptions(workers=1))
    view = LibraryView(Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)), str(db_path))
    qtbot.addWidget(view)
    said: list = []
    view.message.connect(said.append)
    view.ref = ref
    view._on_scanned(summary)  # what the scan's task reports when it ends
    assert not view.forget_button.isHidden() and view.forget_button.text().startswith("2 missing")
    assert "2 files gone since the last scan" in said[-1]
    view.forget_button.click()
    assert view.forget_button.isHidden() and "2 missing files forgotten" in said[-1]
    with LibraryDatabase(db_path) as db:
        assert len(db.rows(ref.key)) == 4
    view.shutdown()
