"""The window as a new user meets it: the review dialog, the dark theme's check boxes, drops
from a browser, a queue of many files, the library list's summary, search and sort, the
exports, the shortcuts and the plots."""
from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import numpy as np
import pytest
from mutagen.flac import FLAC
from PySide6.QtCore import QMimeData, QPointF, QRect, Qt, QUrl
from PySide6.QtGui import QColor, QDragEnterEvent, QDropEvent, QImage, QPainter
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QStyle, QStyleOptionViewItem

from conftest import TINY_LABELS, synth, write
from genre_desktop.gui.analysis import QueueProgress
from genre_desktop.gui.settings import app_settings
from genre_desktop.gui.tag_review import COLUMNS, NOTE_WORDS, TagReviewDialog
from test_gui_buttons import Answers, click


def tagged_flac(path: Path, kind: str, seed: int, **tags) -> Path:
    write(path, synth(kind, 4.0, seed=seed))
    audio = FLAC(str(path))
    for key, value in tags.items():
        audio[key] = value
    audio.save()
    return path


def scan(qtbot, window, monkeypatch, tmp_path, folder: Path) -> None:
    Answers(monkeypatch, tmp_path, folder, folder)
    window.tabs.setCurrentWidget(window.library)
    click(qtbot, window.library.add_button)
    qtbot.waitUntil(lambda: window.library.scan is None, timeout=120000)


def test_risky_tag_options_start_off_at_each_start():
    settings = app_settings()
    settings.set("library/overwrite", True)
    settings.set("library/top_k", 2)
    settings.set("library/separator", " / ")
    settings.sync()
    assert settings.get("library/overwrite") is True  # for the rest of this run
    again = app_settings()  # the next start
    assert again.get("library/overwrite") is False and again.get("library/top_k") == 1
    assert again.get("library/separator") == " / "  # a harmless choice is remembered


def test_review_dialog_says_what_happens_to_each_file(qtbot, window, tmp_path, monkeypatch):
    folder = tmp_path / "Music"
    for g, genre in enumerate(TINY_LABELS):
        tagged_flac(folder / f"{genre}.flac", genre, 60 + g, artist="Ann Artist", album="First Album")
    for i in range(2):  # already tagged: kept
        tagged_flac(folder / f"tagged_{i}.flac", "bass", 70 + i, genre="Jazz", artist="Bo", album="Old")
    scan(qtbot, window, monkeypatch, tmp_path, folder)
    click(qtbot, window.library.write_button)
    dialog = window.library.findChildren(TagReviewDialog)[-1]
    table = dialog.table
    assert [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())] == list(COLUMNS)
    rows = {table.item(r, 0).text(): [table.item(r, c).text() for c in range(table.columnCount())]
            for r in range(table.rowCount())}
    assert rows["tagged_0.flac"][1:6] == ["Bo", "Old", "Jazz", "", NOTE_WORDS["keep"]]  # nothing "will be"
    assert "2 have a genre (kept)" in dialog.summary.text()
    assert rows["bass.flac"][1:3] == ["Ann Artist", "First Album"]
    dialog.resize(900, 500)
    note_width = max(table.fontMetrics().horizontalAdvance(rows[name][5]) for name in rows)
    assert table.horizontalHeader().sectionSize(5) >= note_width  # the note is never elided
    to_write = [name for name, cells in rows.items() if cells[5].startswith(NOTE_WORDS["write"])]  # "· album exception" may follow
    assert to_write
    click(qtbot, dialog.write_button)
    qtbot.waitUntil(lambda: dialog.task is None, timeout=30000)
    after = {table.item(r, 0).text(): table.item(r, 5).text() for r in range(table.rowCount())}
    assert all(after[name] == NOTE_WORDS["written"] for name in to_write)  # the list keeps them
    assert "tagged (batch" in dialog.summary.text()
    dialog.reject()


def test_dark_theme_check_boxes_show_their_box(qtbot, window):
    def visible_pixels() -> int:
        palette = QApplication.palette()
        image = QImage(20, 20, QImage.Format_RGB32)
        image.fill(palette.color(palette.ColorRole.Base))
        option = QStyleOptionViewItem()
        option.rect, option.palette = QRect(3, 3, 13, 13), palette
        option.state = QStyle.State_Enabled | QStyle.State_Off
        painter = QPainter(image)
        QApplication.style().drawPrimitive(QStyle.PE_IndicatorItemViewItemCheck, option, painter)
        painter.end()
        base = palette.color(palette.ColorRole.Base).lightness()
        return sum(abs(QColor(image.pixel(x, y)).lightness() - base) > 40 for x in range(20) for y in range(20))

    try:
        window.set_theme("dark")
        assert visible_pixels() >= 20  # an unticked box has an edge a person can see
    finally:
        window.set_theme("system")


def test_a_drop_without_local_files_is_refused_politely(qtbot, window):
    mime = QMimeData()
    mime.setUrls([QUrl("https://example.org/song.mp3")])
    pos = QPointF(10, 10)
    enter = QDragEnterEvent(pos, Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    window.dragEnterEvent(enter)
    assert not enter.isAccepted()
    window.dropEvent(QDropEvent(pos, Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier))  # no IndexError
    assert "on this computer" in window.statusBar().currentMessage() and not window.table_model.rows


def test_queue_progress_counts_and_time_left():
    now = [0.0]
    progress = QueueProgress(clock=lambda: now[0])
    progress.add(500)
    assert progress.text() == "1 of 500"
    for _ in range(12):
        progress.one_done()
    now[0] = 72.0  # 6 s a file so far
    assert progress.text() == "13 of 500 \u00b7 about 49 min left"
    progress.drop(480)  # Cancel all dropped the queued ones
    assert progress.total == 20 and progress.fraction() == pytest.approx(12 / 20)


def test_a_queue_of_tracks_shows_its_count_selects_new_files_and_retries_cancelled(qtbot, window, tmp_path):
    long = write(tmp_path / "long.wav", synth("bass", 600.0), 16000)
    rest = [write(tmp_path / f"q{i}.wav", synth("bass", 3.0, seed=i), 16000) for i in range(3)]
    window.open_paths([str(long), *map(str, rest)])
    qtbot.waitUntil(lambda: window.table_model.rows[0].status == "analysing", timeout=20000)
    assert re.match(r"1 of 4\b", window.progress.format())
    late = write(tmp_path / "late.wav", synth("treble", 3.0), 16000)
    window.open_paths([str(late)])
    assert window.selected_path() == str(late)  # what was just opened is shown
    assert window.progress.format().startswith("1 of 5")
    click(qtbot, window.cancel_button)
    qtbot.waitUntil(lambda: not window.analysis_queue.busy, timeout=20000)
    actions = window.track_actions
    assert {r.status for r in window.table_model.rows} == {"cancelled"}
    assert actions.retry_cancelled.isEnabled() and actions.remove_cancelled.isEnabled()
    actions.retry_cancelled.trigger()
    assert {r.status for r in window.table_model.rows} <= {"queued", "analysing"}
    click(qtbot, window.cancel_button)
    qtbot.waitUntil(lambda: not window.analysis_queue.busy, timeout=20000)
    actions.remove_cancelled.trigger()
    assert window.table_model.rows == [] and not actions.retry_cancelled.isEnabled()


def test_library_summary_search_and_sort(qtbot, window, tmp_path, monkeypatch, tiny_model):
    folder = tmp_path / "Music"
    titles = ["Zebra", "Genève", "apple", "Élégie", "Elf"]
    for i, title in enumerate(titles):
        tagged_flac(folder / f"t{i}.flac", TINY_LABELS[i % 3], 80 + i, title=title)
    scan(qtbot, window, monkeypatch, tmp_path, folder)
    view = window.library
    assert view.counts.text().startswith("5 tracks")
    view.search.setText("geneve")
    assert [r.title for r in view.visible_rows()] == ["Genève"]
    assert view.counts.text().startswith("1 of 5 tracks")
    view.search.clear()
    view.table.sortByColumn(0, Qt.AscendingOrder)
    assert [r.title for r in view.visible_rows()] == ["apple", "Élégie", "Elf", "Genève", "Zebra"]
    other = tmp_path / "other-model"  # another model: no results yet, but the folder is there
    import shutil

    shutil.copytree(tiny_model, other)
    meta = json.loads((other / "model.json").read_text())
    meta["version"] = "0.0.2"
    (other / "model.json").write_text(json.dumps(meta))
    view.set_model(str(other))
    assert "add a folder" not in view.counts.text() and "Rescan" in view.counts.text()


def test_window_and_library_exports_agree(qtbot, window, tmp_path, monkeypatch):
    from genre_desktop.core.library.listing import write_table

    mixed = write(tmp_path / "mixed.wav", np.concatenate([synth("bass", 5.0), synth("treble", 5.0),
                                                          synth("noise", 5.0)]), 16000)
    clear = write(tmp_path / "clear.ogg", synth("treble", 5.0))
    with qtbot.waitSignals([window.verdict_ready, window.verdict_ready], timeout=60000):
        window.open_paths([str(mixed), str(clear)])
    window.track_actions.add_all_to_library.trigger()
    answers = Answers(monkeypatch, tmp_path, tmp_path, clear)
    [a for a in window.menuBar().actions()[0].menu().actions() if a.text().startswith("&Export")][0].trigger()
    ours = json.loads(answers.results.read_text())["tracks"]
    view = window.library
    core = json.loads(write_table(view.db.rows(view.ref.key), tmp_path / "core.json", view.ref.key,
                                  view.ref.name).read_text())["tracks"]
    strip = lambda records: sorted(({k: v for k, v in r.items() if k != "analysed_at"} for r in records),
                                   key=lambda r: r["path"])
    assert strip(ours) == strip(core)
    unsure = [r for r in ours if r["verdict"] == "unsure"]
    assert unsure, "the mixed track is not sure"


def test_shortcuts_and_help(qtbot, window):
    window.activateWindow()
    window.tabs.setCurrentIndex(0)
    window.table.setFocus()
    QTest.keyClick(window.table, Qt.Key_F, Qt.ControlModifier)
    assert window.tabs.currentWidget() is window.library and window.library.search.hasFocus()
    QTest.keyClick(window.library.search, Qt.Key_Tab, Qt.ControlModifier)
    assert window.tabs.currentIndex() == 0
    QTest.keyClick(window.table, Qt.Key_F1)
    dialog = window.help.dialog
    assert dialog is not None and dialog.isVisible()
    text = dialog.label.text()
    for keys in ("Ctrl+F", "F1", "Ctrl+Tab", "Ctrl+O", "Space"):
        assert keys in text, keys
    dialog.reject()
    window.help.about_model.trigger()
    text = window.help.dialog.label.text()
    assert "Genres it tells apart (3)" in text and "validation_track_accuracy" not in text
    window.help.dialog.reject()


def test_expected_decode_errors_log_one_line(qtbot, window, tmp_path, caplog):
    bad = tmp_path / "broken.ogg"
    bad.write_bytes(b"OggS" + bytes(300))
    with caplog.at_level(logging.WARNING), qtbot.waitSignal(window.track_failed, timeout=20000):
        window.open_paths([str(bad)])
    assert caplog.records and not [r for r in caplog.records if r.exc_info]


def test_plots_stay_on_the_track_and_errors_draw_no_axes(qtbot, window, tmp_path):
    track = write(tmp_path / "short.wav", synth("bass", 6.0), 16000)
    bad = tmp_path / "bad.mp3"
    bad.write_bytes(b"\xff\xfb" + bytes(200))
    with qtbot.waitSignal(window.verdict_ready, timeout=20000):
        window.open_paths([str(track)])
    window.select_path(str(track))
    plots = window.plots
    plots.spec.vb.scaleBy((20.0, 1.0))  # what a right-drag to the left does
    (x0, x1), _ = plots.spec.viewRange()
    assert x0 >= 0 and x1 <= 6.5
    with qtbot.waitSignal(window.track_failed, timeout=20000):
        window.open_paths([str(bad)])
    window.select_path(str(bad))
    assert plots.layout_widget.isHidden() and "could not be read" in plots.placeholder.text()


def test_a_pause_does_not_count_in_files_per_minute(tmp_path, tiny_model, monkeypatch):
    """The Library tab's "N files/min · about T left": 30 paused minutes (a clock that jumps
    while paused) must not slow the rate down."""
    import time as real_time
    import types

    from genre_desktop.core.library import batch
    from genre_desktop.core.library.model_ref import ModelRef

    for g, genre in enumerate(TINY_LABELS):
        write(tmp_path / "Music" / f"{genre}.flac", synth(genre, 3.0, seed=g))
    jumped = [0.0]
    calls = [0]

    def paused() -> bool:
        calls[0] += 1
        if calls[0] <= 3:  # the first three looks: paused, and half an hour goes by each
            jumped[0] += 600.0
            return True
        return False

    monkeypatch.setattr(batch, "time", types.SimpleNamespace(monotonic=lambda: real_time.monotonic() + jumped[0],
                                                             sleep=real_time.sleep))
    said = []
    batch.scan_library([tmp_path / "Music"], ModelRef.of(tiny_model), tmp_path / "lib.sqlite3",
                       batch.BatchOptions(workers=1), progress=lambda f, m: said.append(m), should_pause=paused)
    rates = [int(m.split(" files/min")[0].rsplit(" ", 1)[-1]) for m in said if "files/min" in m]
    assert jumped[0] == 1800.0 and rates
    assert min(rates) >= 1  # 3 files in 30 paused minutes would read "0 files/min"


def test_meter_and_play_button_draw_without_special_glyphs(qtbot, window):
    level = window.live.level
    assert not level.isTextVisible() and level.height() <= 16  # a bar, not a box of text
    button = window.play_button
    assert not button.icon().isNull() and button.text().isascii()  # no \u25b6 / \u23f8 glyphs
