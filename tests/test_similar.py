""""More like this": embeddings kept per (file, model), ``library similar`` and the
``--similar-to`` playlist, on real audio files scanned into a real SQLite library."""
from __future__ import annotations

import json
import shutil
import sqlite3

import numpy as np
import pytest

from conftest import TINY_LABELS, synth, write
from genre_desktop.core.library.model_ref import ModelRef
from genre_desktop.core.library.database import LibraryDatabase
from genre_desktop.core.library.similar import SimilarError, SimilarityIndex, similar_to


@pytest.fixture(scope="module")
def scanned(tmp_path_factory, tiny_model, run_cli):
    """Two tracks of each synthetic genre, a byte copy of one under another name, scanned."""
    root = tmp_path_factory.mktemp("similar")
    music = root / "Music"
    for g, genre in enumerate(TINY_LABELS):
        for i in range(2):
            write(music / genre / f"{genre}_{i}.ogg", synth(genre, 5.0, seed=300 + 2 * g + i))
    shutil.copyfile(music / "bass" / "bass_0.ogg", music / "zz copy of bass.ogg")
    db = root / "lib.sqlite3"
    run_cli("library", "--library", db, "scan", music, "--model", tiny_model, "--workers", "1", "--no-progress",
            check_rc=0)
    return music, db


def _similar(run_cli, db, tiny_model, *args):
    out = run_cli("library", "--library", db, "similar", *args, "--model", tiny_model, check_rc=0).stdout
    return [json.loads(line) for line in out.splitlines()]


def test_similar_excludes_the_file_and_ranks_its_copy_first(scanned, tiny_model, run_cli):
    music, db = scanned
    seed = music / "bass" / "bass_0.ogg"
    found = _similar(run_cli, db, tiny_model, seed, "--top", "4", "--json")
    assert len(found) == 4
    assert set(found[0]) == {"path", "similarity"}
    assert str(seed) not in [f["path"] for f in found]
    assert found[0]["path"] == str(music / "zz copy of bass.ogg")
    assert found[0]["similarity"] == pytest.approx(1.0, abs=1e-3)
    sims = [f["similarity"] for f in found]
    assert sims == sorted(sims, reverse=True) and sims[0] > sims[-1]
    # the other bass track sounds more like it than any noise track
    ranked = [f["path"] for f in _similar(run_cli, db, tiny_model, seed, "--top", "6", "--json")]
    assert ranked.index(str(music / "bass" / "bass_1.ogg")) < min(
        ranked.index(str(music / "noise" / f"noise_{i}.ogg")) for i in range(2))
    text = run_cli("library", "--library", db, "similar", seed, "--model", tiny_model, check_rc=0).stdout
    assert len(text.splitlines()) == 6  # every other file, at most --top 10


def test_the_index_in_memory_agrees_with_the_streamed_answer(scanned, tiny_model):
    music, db = scanned
    ref = ModelRef.of(tiny_model)
    with LibraryDatabase(db, readonly=True) as lib:
        index = SimilarityIndex(lib, ref.key)
        assert len(index) == 7
        for path in (music / "treble" / "treble_1.ogg", music / "zz copy of bass.ogg"):
            assert index.similar_to(path, 3) == similar_to(lib, path, ref.key, 3)
        assert index.similar_to(music / "zz copy of bass.ogg", 1)[0].path == str(music / "bass" / "bass_0.ogg")


def test_similar_playlist(scanned, tiny_model, tmp_path, run_cli):
    music, db = scanned
    out = run_cli("library", "--library", db, "playlists", tmp_path / "lists", "--similar-to",
                  music / "treble" / "treble_0.ogg", "--top", "3", "--model", tiny_model, check_rc=0).stdout.split("\n")
    playlist = tmp_path / "lists" / out[0].split("/")[-1]
    lines = playlist.read_text("utf-8").splitlines()
    assert lines[0] == "#EXTM3U" and "More like" in lines[1]
    entries = [line for line in lines if not line.startswith("#")]
    assert len(entries) == 3 and entries[0] == str(music / "treble" / "treble_1.ogg")
    assert str(music / "treble" / "treble_0.ogg") not in entries


def test_questions_without_an_answer_are_one_line(scanned, tiny_model, tmp_path, run_cli):
    music, db = scanned
    stray = write(tmp_path / "stray.ogg", synth("bass", 3.0, seed=1))
    proc = run_cli("library", "--library", db, "similar", stray, "--model", tiny_model)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "not in the library" in proc.stderr


def test_an_old_library_opens_and_asks_for_a_rescan(scanned, tiny_model, tmp_path, run_cli):
    """A schema-1 library (no vectors table): read-only it says 'rescan to enable'; opened
    writable it gains the table, and the next scan analyses its files again."""
    music, db = scanned
    old = tmp_path / "old.sqlite3"
    shutil.copyfile(db, old)
    conn = sqlite3.connect(old)
    conn.executescript("DROP TABLE vectors; DROP TABLE model_tags; PRAGMA user_version=1;")
    conn.close()
    seed = music / "bass" / "bass_0.ogg"
    proc = run_cli("library", "--library", old, "similar", seed, "--model", tiny_model)
    assert proc.returncode == 2 and "rescan to enable" in proc.stderr, proc.stderr
    shown = run_cli("library", "--library", old, "show", "--model", tiny_model, "--json", check_rc=0).stdout
    assert len(shown.splitlines()) == 7  # the old results still read
    scan = run_cli("library", "--library", old, "scan", music, "--model", tiny_model, "--workers", "1",
                   "--no-progress", check_rc=0)
    assert "7 analysed" in scan.stdout
    assert _similar(run_cli, db, tiny_model, seed, "--json", "--top", "1")[0]["path"] == str(music / "zz copy of bass.ogg")
    again = run_cli("library", "--library", old, "scan", music, "--model", tiny_model, "--no-progress", check_rc=0)
    assert "0 analysed" in again.stdout


def test_vectors_are_unit_length_and_cleared_on_error(scanned, tiny_model):
    music, db = scanned
    ref = ModelRef.of(tiny_model)
    with LibraryDatabase(db) as lib:
        row = lib.row(music / "noise" / "noise_0.ogg", ref.key)
        blob = lib.connection.execute("SELECT embedding FROM vectors WHERE file_id = ?", (row.id,)).fetchone()[0]
        vec = np.frombuffer(blob, "<f4").astype(np.float32)
        assert vec.size > 8 and abs(np.linalg.norm(vec) - 1) < 1e-5
        with lib.transaction():
            lib.save_result(row.id, ref.key, ref.name, {"error": "cannot be read"})
        with pytest.raises(SimilarError, match="could not be analysed"):
            similar_to(lib, row.path, ref.key)
        assert lib.connection.execute("SELECT COUNT(*) FROM vectors WHERE file_id = ?", (row.id,)).fetchone()[0] == 0


def test_more_like_this_in_the_library_tab(qtbot, scanned, tiny_model, tmp_path):
    """The right-click action opens the list: the copy first at 1.000, the file itself
    absent, the track's sound line shown, and the list saved as a playlist."""
    from PySide6.QtCore import Qt

    from genre_desktop.gui.library_view import LibraryView
    from genre_desktop.gui.settings import app_settings

    music, db = scanned
    copy = tmp_path / "lib.sqlite3"
    shutil.copyfile(db, copy)
    view = LibraryView(app_settings(), str(copy))
    qtbot.addWidget(view)
    view.set_model(str(tiny_model))
    view.table.selectRow(0)
    menu = view.show_context_menu(view.table.visualRect(view.proxy.index(0, 0)).center())
    assert "More like this\u2026" in [a.text() for a in menu.actions()]
    menu.close()
    seed = str(music / "bass" / "bass_0.ogg")
    dialog = view.more_like_this(seed)
    qtbot.addWidget(dialog)
    paths = [dialog.table.item(r, 1).data(Qt.UserRole) for r in range(dialog.table.rowCount())]
    assert paths[0] == str(music / "zz copy of bass.ogg") and seed not in paths
    assert len(paths) >= 5  # every other analysed file (an earlier test may have failed one)
    assert dialog.table.cellWidget(0, 0).format() == "1.000"
    assert dialog.sounds.text()  # the tiny model has no tags: says none is above its threshold
    saved = dialog.save_playlist(str(tmp_path / "lists"))
    assert saved is not None and str(music / "zz copy of bass.ogg") in saved.read_text("utf-8")
    dialog.close()
    view.shutdown()


def test_recordings_that_are_not_music_are_never_more_like_this(scanned, tiny_model, tmp_path, run_cli):
    """A track the model called "not music" (a speech recording) is left out of the answers,
    and asking for tracks like it says why (the trial found speech among a metal track's)."""
    music, db = scanned
    copy = tmp_path / "lib.sqlite3"
    with sqlite3.connect(db) as src, sqlite3.connect(copy) as dst:
        src.backup(dst)
    speech = music / "treble" / "treble_1.ogg"
    asked = music / "bass" / "bass_0.ogg"
    before = [f["path"] for f in _similar(run_cli, copy, tiny_model, asked, "--top", "20", "--json")]
    assert str(speech) in before
    with LibraryDatabase(copy) as lib, lib.transaction():
        lib.connection.execute("UPDATE results SET verdict = 'not_music', error = NULL WHERE file_id = "
                               "(SELECT id FROM files WHERE path = ?)", (bytes(str(speech), "utf-8"),))
    found = [f["path"] for f in _similar(run_cli, copy, tiny_model, asked, "--top", "20", "--json")]
    assert str(speech) not in found and set(found) == set(before) - {str(speech)}
    out = run_cli("library", "--library", copy, "similar", speech, "--model", tiny_model)
    assert out.returncode != 0 and "not music" in out.stderr
