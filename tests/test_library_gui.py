"""The Library tab, offscreen: a real scan in worker processes, review, write, undo, export."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from conftest import TINY_LABELS, drop, synth, write
from genre_desktop.core.library.tags import read_tags


def _music(root: Path, per_genre: int = 2) -> list[Path]:
    return [write(root / genre / f"{genre}_{i}.flac", synth(genre, 5.0, seed=90 + 5 * g + i))
            for g, genre in enumerate(TINY_LABELS) for i in range(per_genre)]


def _scan(qtbot, view, folder) -> None:
    view.add_folder(str(folder))
    assert view.scan is not None and not view.progress.isHidden() and not view.cancel_button.isHidden()
    qtbot.waitUntil(lambda: view.scan is None, timeout=120000)


def test_scan_filter_write_undo_export(qtbot, window, tmp_path):
    view = window.library
    files = _music(tmp_path / "Music")
    _scan(qtbot, view, tmp_path / "Music")
    assert view.model.rowCount() == 6 and view.last_summary.analysed == 6
    assert view.counts.text().startswith("6 tracks")
    assert view.settings.get("library/folders") == [str(tmp_path / "Music")]

    view.search.setText("treble")
    assert view.proxy.rowCount() == 2
    view.search.clear()
    genres = [view.genre.itemData(i) for i in range(1, view.genre.count())]
    assert genres and set(genres) <= set(TINY_LABELS)
    view.genre.setCurrentIndex(1)
    assert 0 < view.proxy.rowCount() < 6 and all(r.genre == genres[0] for r in view.visible_rows())
    view.genre.setCurrentIndex(0)
    view.kind.setCurrentIndex(view.kind.findData("untagged"))
    assert view.proxy.rowCount() == 6

    dialog = view.review_tags()
    confident = [line for line in dialog.lines if line.action == "write"]
    assert confident and dialog.write_button.text() == f"Write {len(confident)} file{'s' if len(confident) > 1 else ''}"
    dialog.table.item(0, 0).setCheckState(Qt.Unchecked)  # un-tick one: it is not written
    skipped = dialog.table.item(0, 0).toolTip()
    with qtbot.waitSignal(dialog.written, timeout=30000):
        dialog.write()
    qtbot.waitUntil(lambda: dialog.task is None)
    tagged = [f for f in files if read_tags(f).genre]
    assert len(tagged) == len(confident) - 1 and not read_tags(skipped).genre
    assert "tagged (batch 1" in dialog.summary.text()
    dialog.reject()
    assert view.proxy.rowCount() == 6 - len(tagged)  # the "No genre tag" filter follows the writes

    view.undo_last(confirm=False)
    qtbot.waitUntil(lambda: view.side_task is None, timeout=30000)
    assert not any(read_tags(f).genre for f in files)

    view.kind.setCurrentIndex(0)
    lists = view.export_playlists(str(tmp_path / "lists"))
    assert lists and all(p.read_text().startswith("#EXTM3U") for p in lists)
    table = view.export_table(str(tmp_path / "library.json"))
    assert table.exists() and '"model_key"' in table.read_text()

    # a second scan finds nothing new; the Tracks tab opens a library row (full timeline)
    view.rescan()
    qtbot.waitUntil(lambda: view.scan is None, timeout=120000)
    assert view.last_summary.unchanged == 6 and view.last_summary.analysed == 0
    view.table.selectRow(0)
    with qtbot.waitSignal(window.verdict_ready, timeout=30000):
        view.open_selected()
    assert window.tabs.currentIndex() == 0 and len(window.table_model.rows) == 1


def test_cancel_keeps_what_was_analysed(qtbot, window, tmp_path):
    view = window.library
    _music(tmp_path / "Music", per_genre=4)
    view.add_folder(str(tmp_path / "Music"))
    qtbot.waitUntil(lambda: view.progress.value() > 0, timeout=120000)  # the first file is in
    view.cancel_scan()
    qtbot.waitUntil(lambda: view.scan is None, timeout=120000)
    done = view.last_summary.analysed if view.last_summary else sum(r.verdict is not None for r in view.model.rows)
    assert 1 <= done <= 12
    view.rescan()
    qtbot.waitUntil(lambda: view.scan is None, timeout=120000)
    assert view.last_summary.analysed == 12 - done and view.model.rowCount() == 12


def test_only_tracks_the_person_adds_join_the_library(qtbot, window, tmp_path):
    track = write(tmp_path / "dropped.ogg", synth("bass", 4.0))
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    text = tmp_path / "notes.mp3"
    text.write_text("not audio at all")
    with qtbot.waitSignals([window.verdict_ready, window.track_failed, window.track_failed], timeout=30000):
        drop(window, [track, empty, text])
    assert window.library.model.rows == []  # opening a file is not adding it
    for path in (empty, text, track):  # "Add to library" on each: only the analysed audio joins
        window.select_path(str(path))
        window.track_actions.add_to_library.trigger()
    rows = window.library.model.rows
    assert [Path(r.path).name for r in rows] == ["dropped.ogg"] and rows[0].verdict is not None
    assert "1 track added to the library" in window.statusBar().currentMessage()


def test_right_click_menu_and_remove(qtbot, window, tmp_path):
    view = window.library
    _music(tmp_path / "Music", per_genre=1)
    _scan(qtbot, view, tmp_path / "Music")
    view.table.selectRow(0)
    rect = view.table.visualRect(view.proxy.index(0, 0))
    menu = view.show_context_menu(rect.center())
    assert [a.text() for a in menu.actions() if a.text()][:3] == [
        "Open in the Tracks tab (full timeline)", "Re-analyse", "Write genre tags of these\u2026"]
    menu.close()
    view.remove_selected()
    assert view.model.rowCount() == 2


def test_a_library_that_cannot_be_kept_falls_back_and_says_so(qtbot, tmp_path, monkeypatch):
    from genre_desktop.gui.library_view import LibraryView
    from genre_desktop.gui.settings import app_settings

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the library's folder should be")
    monkeypatch.setenv("GENRE_DESKTOP_LIBRARY", str(blocker / "library.sqlite3"))
    view = LibraryView(app_settings())
    qtbot.addWidget(view)
    with qtbot.waitSignal(view.message, timeout=5000) as said:
        pass
    assert "cannot be kept" in said.args[0] and view.db.path.exists()
    view.shutdown()
