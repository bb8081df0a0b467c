"""The main window, offscreen, with real drag-and-drop events and a real worker thread."""
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt

from conftest import drop, synth, write


def test_drop_tracks_and_see_verdicts(qtbot, window, tmp_path):
    a = write(tmp_path / "low.flac", synth("bass", 10.0, seed=1), 16000)
    b = write(tmp_path / "high.ogg", synth("treble", 10.0, seed=2), 16000)
    with qtbot.waitSignals([window.verdict_ready, window.verdict_ready], timeout=30000):
        drop(window, [a, b])
    rows = {Path(r.path).name: r for r in window.table_model.rows}
    assert rows["low.flac"].result.genre == "bass"
    assert rows["high.ogg"].result.genre == "treble"
    qtbot.waitUntil(lambda: window.verdict.genre.text() in ("Bass", "Treble"), timeout=5000)
    assert window.plots.cells.image is not None and window.plots.image.image is not None
    assert window.table_model.data(window.table_model.index(0, 2)).endswith("%")


def test_corrupt_file_gets_an_error_row(qtbot, window, tmp_path):
    bad = tmp_path / "broken.mp3"
    bad.write_bytes(b"\xff\xfb" + bytes(range(256)) * 8)
    with qtbot.waitSignal(window.track_failed, timeout=20000) as blocker:
        drop(window, [bad])
    assert blocker.args[0] == str(bad)
    row = window.table_model.rows[0]
    assert row.status == "error" and row.error
    assert "error" in window.table_model.data(window.table_model.index(0, 3))


def test_unsupported_drop_is_polite(qtbot, window, tmp_path):
    pdf = tmp_path / "paper.pdf"
    pdf.write_bytes(b"%PDF-1.4")
    empty = tmp_path / "empty_folder"
    empty.mkdir()
    drop(window, [pdf, empty])
    assert not window.table_model.rows
    message = window.statusBar().currentMessage()
    assert "paper.pdf: not an audio file (.pdf)" in message and "holds no audio" in message


def test_cancel_a_long_analysis(qtbot, window, tmp_path):
    long = write(tmp_path / "long.wav", synth("bass", 600.0), 16000)
    queued = write(tmp_path / "next.wav", synth("bass", 5.0), 16000)
    window.open_paths([str(long), str(queued)])
    qtbot.waitUntil(lambda: window.table_model.rows[0].status == "analysing", timeout=10000)
    window.cancel_button.click()
    qtbot.waitUntil(lambda: window.table_model.rows[0].status == "cancelled", timeout=5000)
    assert window.table_model.rows[1].status == "cancelled"
    qtbot.waitUntil(lambda: not window.cancel_button.isEnabled(), timeout=5000)


def test_switch_model_and_persist(qtbot, window, tiny_model, tmp_path):
    from genre_desktop.core.engine.models.bundle import load_bundle, save_bundle

    bundle = load_bundle(tiny_model)
    other = save_bundle(tmp_path / "other", bundle.network, {**bundle.meta, "name": "other"})
    with qtbot.waitSignal(window.model_ready, timeout=20000) as blocker:
        window.switch_model(str(other))
    assert blocker.args[0].name == "other"
    assert window.settings.get("model/name") == str(other)


def test_uncertain_state_is_explicit(qtbot, window, tmp_path):
    mixed = np.concatenate([synth("bass", 5.0), synth("treble", 5.0), synth("noise", 5.0)])
    path = write(tmp_path / "mixed.wav", mixed, 16000)
    with qtbot.waitSignal(window.verdict_ready, timeout=20000) as blocker:
        window.open_paths([str(path)])
    assert blocker.args[1].uncertain
    qtbot.waitUntil(lambda: window.verdict.genre.text().startswith("Not sure"), timeout=5000)


def test_export(qtbot, window, tmp_path):
    path = write(tmp_path / "x.wav", synth("noise", 4.0), 16000)
    with qtbot.waitSignal(window.verdict_ready, timeout=20000):
        window.open_paths([str(path)])
    out = tmp_path / "out.csv"
    assert window.table_model.export(out, window.library.ref) == 1
    assert "noise" in out.read_text()
    assert window.table_model.export(tmp_path / "out.json", window.library.ref) == 1


def test_space_toggles_playback(qtbot, window, tmp_path, monkeypatch):
    """Space, through the window's own wiring (shortcut, action, window), asks the player to
    play the selected track; only the player itself is replaced."""
    path = write(tmp_path / "x.wav", synth("bass", 3.0), 16000)
    with qtbot.waitSignal(window.verdict_ready, timeout=20000):
        window.open_paths([str(path)])
    window.select_path(str(path))
    calls = []
    monkeypatch.setattr(window.playback, "toggle", calls.append)
    window.table.setFocus()
    qtbot.keyClick(window.table, Qt.Key_Space)
    assert calls == [str(path)]


def test_a_cancelled_file_can_be_analysed_again(qtbot, window, tmp_path):
    long = write(tmp_path / "long.wav", synth("bass", 600.0), 16000)
    window.open_paths([str(long)])
    qtbot.waitUntil(lambda: window.table_model.rows[0].status == "analysing", timeout=10000)
    window.cancel_button.click()
    qtbot.waitUntil(lambda: window.table_model.rows[0].status == "cancelled", timeout=5000)
    window.select_path(str(long))
    assert "open the file again" in window.verdict.genre.text()
    short = write(tmp_path / "long.wav", synth("bass", 5.0), 16000)  # the same file, now short
    with qtbot.waitSignal(window.verdict_ready, timeout=30000):
        assert window.open_paths([str(short)]) == 1
    assert window.table_model.rows[0].status == "done" and len(window.table_model.rows) == 1


def test_open_recent_keeps_absolute_paths_and_is_not_flooded(qtbot, window, tmp_path, monkeypatch):
    folder = tmp_path / "album"
    files = [write(folder / f"t{i}.wav", synth("bass", 1.0, seed=i), 16000) for i in range(6)]
    monkeypatch.chdir(tmp_path)
    window.open_paths(["album/t0.wav"])
    assert window.settings.get("paths/recent")[0] == str(files[0])
    window.open_paths([str(f) for f in files])
    recent = window.settings.get("paths/recent")
    assert recent[0] == str(folder) and len(recent) == 2


def test_csv_export_names_no_genre_for_silence(qtbot, window, tmp_path):
    silence = write(tmp_path / "silence.wav", np.zeros(16000 * 8, np.float32), 16000)
    with qtbot.waitSignal(window.verdict_ready, timeout=30000):
        window.open_paths([str(silence)])
    target = tmp_path / "out.csv"
    window.table_model.export(target, window.library.ref)
    import csv

    row = list(csv.DictReader(target.open()))[0]  # the CLI's columns: no genre, the verdict says why
    assert row["genre"] == "" and row["verdict"] == "silence"


def test_track_menu_and_right_click(qtbot, window, tmp_path, monkeypatch):
    """Delete removes the row, Ctrl+R analyses it again, the path can be copied and revealed;
    right-click offers the same actions."""
    from PySide6.QtGui import QDesktopServices, QGuiApplication

    a = write(tmp_path / "a.wav", synth("bass", 4.0), 16000)
    b = write(tmp_path / "b.wav", synth("treble", 4.0), 16000)
    with qtbot.waitSignals([window.verdict_ready, window.verdict_ready], timeout=30000):
        window.open_paths([str(a), str(b)])
    actions = window.track_actions
    assert actions.remove.shortcut().toString() == "Del" and actions.reanalyse.shortcut().toString() == "Ctrl+R"
    window.select_path(str(a))
    actions.copy_path.trigger()
    assert QGuiApplication.clipboard().text() == str(a)
    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url.toLocalFile()))
    actions.reveal.trigger()
    assert opened == [str(tmp_path)]
    with qtbot.waitSignal(window.verdict_ready, timeout=30000) as blocker:
        actions.reanalyse.trigger()
    assert blocker.args[0] == str(a)
    row_pos = window.table.visualRect(window.proxy.mapFromSource(window.table_model.index(0, 0))).center()
    menu = actions.show_context_menu(row_pos)
    assert [act.text() for act in menu.actions()] == [act.text() for act in actions.all()]
    menu.close()
    window.select_path(str(b))
    actions.remove.trigger()
    assert [r.path for r in window.table_model.rows] == [str(a)]


def test_empty_plots_have_sensible_axes(qtbot):
    """At launch: seconds from 0 (not -400 ms, no "(x0.001)"), distinct frequency ticks."""
    from genre_desktop.gui.track_view import TrackPlots

    plots = TrackPlots()
    qtbot.addWidget(plots)
    plots.resize(700, 400)
    plots.show()
    (x0, x1), (y0, y1) = plots.spec.viewRange()
    assert (x0, x1) == (0, TrackPlots.EMPTY_SECONDS) and y0 == 0 and y1 == plots.config.n_mels
    axis = plots.spec_axis
    ticks = axis.tickValues(y0, y1, 300)[0][1]  # the major ticks
    labels = axis.tickStrings(ticks, 1.0, 10)
    assert len(set(labels)) == len(labels) > 2
    assert plots.spec.getAxis("bottom").autoSIPrefix is False


def test_the_verdict_panel_names_its_track(qtbot, window, tmp_path):
    track = write(tmp_path / "A very long file name of a track, live at some venue (2001 remaster).ogg",
                  synth("bass", 4.0))
    with qtbot.waitSignal(window.verdict_ready, timeout=30000):
        drop(window, [track])
    qtbot.waitUntil(lambda: window.verdict.track.text() == track.name, timeout=5000)
    assert window.verdict.track.toolTip() == str(track)


def test_the_list_keeps_the_order_tracks_were_opened_in(qtbot, window, tmp_path):
    names = ["b.ogg", "c.ogg", "a.ogg"]
    paths = [write(tmp_path / n, synth("bass", 3.0, seed=i)) for i, n in enumerate(names)]
    window.open_paths([str(p) for p in paths])
    shown = [window.proxy.index(r, 0).data() for r in range(window.proxy.rowCount())]
    assert shown == names and window.table.horizontalHeader().sortIndicatorSection() == -1
    window.table.sortByColumn(0, Qt.AscendingOrder)  # a click on the header still sorts
    assert [window.proxy.index(r, 0).data() for r in range(3)] == sorted(names)
    qtbot.waitUntil(lambda: not window.analysis_queue.busy, timeout=30000)


def test_skip_stops_one_file_and_the_queue_goes_on(qtbot, window, tmp_path):
    long = write(tmp_path / "long.wav", synth("bass", 600.0), 16000)
    queued = write(tmp_path / "next.wav", synth("bass", 5.0), 16000)
    window.open_paths([str(long), str(queued)])
    qtbot.waitUntil(lambda: window.table_model.rows[0].status == "analysing", timeout=10000)
    with qtbot.waitSignal(window.verdict_ready, timeout=30000):
        window.skip_button.click()
    assert [r.status for r in window.table_model.rows] == ["cancelled", "done"]
    assert window.cancel_button.text() == "Cancel all"


def test_view_theme_reaches_the_plots_and_is_remembered(qtbot, window):
    from PySide6.QtGui import QPalette
    from PySide6.QtWidgets import QApplication

    def lightness(widget) -> int:
        return widget.backgroundBrush().color().lightness()

    try:
        window.set_theme("dark")
        assert QApplication.palette().color(QPalette.Window).lightness() < 128
        assert lightness(window.plots.layout_widget) < 128 and lightness(window.live.plots) < 128
        axis_text = window.plots.spec.getAxis("bottom").textPen().color().lightness()
        assert axis_text > 160  # readable on the dark plot
        assert window.settings.get("view/theme") == "dark" and window.theme_actions["dark"].isChecked()
        window.set_theme("light")
        assert lightness(window.plots.layout_widget) > 200
    finally:
        window.set_theme("system")
