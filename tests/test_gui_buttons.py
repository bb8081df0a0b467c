"""Every button and every menu action of the window, pressed once as a person would
(``QTest.mouseClick`` on the real button, ``QAction.trigger()`` on the real action), with
each dialog answered: nothing may raise, no status line may say a task stopped, and no
setting may hold a button's ``checked`` flag where a path belongs."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (QAbstractButton, QApplication, QCheckBox, QDialog, QDialogButtonBox, QFileDialog, QInputDialog, QLineEdit,
                               QMessageBox, QPushButton, QTabBar, QToolButton)

from conftest import TINY_LABELS, synth, write
from genre_desktop.core.library.tags import read_tags
from genre_desktop.gui.manage_models import ManageModelsDialog
from genre_desktop.gui.settings import OPTIONS
from genre_desktop.gui.tag_review import TagReviewDialog

BAD_WORDS = ("stopped:", "Traceback", "TypeError", "not bool", "expected str", "Exception")


def music(root: Path, per_genre: int = 2) -> list[Path]:
    return [write(root / "Artist" / genre / f"{genre}_{i}.flac", synth(genre, 4.0, seed=40 + 5 * g + i))
            for g, genre in enumerate(TINY_LABELS) for i in range(per_genre)]


class Answers:
    """Patched dialogs: a real folder or file for each file dialog, No to every question."""

    def __init__(self, monkeypatch, tmp_path: Path, folder: Path, track: Path):
        self.asked: list[str] = []
        self.folder, self.track = folder, track
        self.lists, self.table, self.results = tmp_path / "lists", tmp_path / "library.csv", tmp_path / "tracks.json"
        self.question = QMessageBox.No
        self.opened_urls: list = []

        def folder_dialog(parent, caption, *args, **kwargs):
            self.asked.append(caption)
            return str(self.lists) if "playlist" in caption.lower() else str(self.folder)

        def save_dialog(parent, caption, *args, **kwargs):
            self.asked.append(caption)
            return (str(self.table) if "library" in caption.lower() else str(self.results)), ""

        def open_dialog(parent, caption, *args, **kwargs):
            self.asked.append(caption)
            return [str(self.track)], ""

        def question(parent, title, text, *args, **kwargs):
            self.asked.append(title)
            return self.question

        def note(parent, title, text, *args, **kwargs):
            self.asked.append(f"{title}: {text}")
            return QMessageBox.Ok

        self.lists.mkdir()
        monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(folder_dialog))
        monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(save_dialog))
        monkeypatch.setattr(QFileDialog, "getOpenFileNames", staticmethod(open_dialog))
        monkeypatch.setattr(QMessageBox, "question", staticmethod(question))
        for name in ("warning", "information", "critical"):
            monkeypatch.setattr(QMessageBox, name, staticmethod(note))
        monkeypatch.setattr(QInputDialog, "getText", staticmethod(lambda *a, **k: ("", False)))
        monkeypatch.setattr("PySide6.QtGui.QDesktopServices.openUrl", staticmethod(self.opened_urls.append))


def close_dialogs() -> None:
    for widget in QApplication.topLevelWidgets():
        if isinstance(widget, QDialog) and widget.isVisible():
            widget.reject()


def buttons_of(widget) -> list:
    """The push and tool buttons a person can see in ``widget`` (not the tab bar's arrows
    nor a line edit's clear button)."""
    found = [b for b in widget.findChildren(QAbstractButton) if isinstance(b, (QPushButton, QToolButton))
             and not isinstance(b.parent(), (QTabBar, QLineEdit))]
    return found


def leaf_actions(window) -> list[tuple[str, str]]:
    """(menu, text) of every action in every menu, submenus included, and the window's own."""
    out = []

    def visit(title, actions):
        for act in actions:
            if act.isSeparator():
                continue
            if act.menu() is not None:
                visit(act.menu().title(), act.menu().actions())
            else:
                out.append((title, act.text()))

    for top in window.menuBar().actions():
        visit(top.menu().title(), top.menu().actions())
    visit("(window)", window.actions())
    return out


def find_action(window, title: str, text: str):
    for top in window.menuBar().actions():
        stack = [top.menu()]
        while stack:
            menu = stack.pop()
            for act in menu.actions():
                if act.menu() is not None:
                    stack.append(act.menu())
                elif menu.title() == title and act.text() == text:
                    return act
    for act in window.actions():
        if title == "(window)" and act.text() == text:
            return act
    return None


def click(qtbot, button) -> None:
    assert button.isVisible() and button.isEnabled(), button.text()
    if isinstance(button, QCheckBox):  # on its box (the row is wider than what it hits)
        QTest.mouseClick(button, Qt.LeftButton, pos=QPoint(8, button.height() // 2))
    else:
        QTest.mouseClick(button, Qt.LeftButton)


def test_every_button_and_action_works(qtbot, window, tmp_path, monkeypatch):
    folder = tmp_path / "Music"
    files = music(folder)
    extra = write(tmp_path / "single.ogg", synth("treble", 4.0, seed=7))
    answers = Answers(monkeypatch, tmp_path, folder, extra)
    said: list[str] = []
    window.statusBar().messageChanged.connect(lambda text: text and said.append(text))
    window.library.message.connect(said.append)
    raised: list = []
    monkeypatch.setattr(sys, "excepthook", lambda *exc: raised.append(exc))
    closer = QTimer()  # a modal dialog (Model › Manage my models) is answered by closing it
    closer.timeout.connect(lambda: isinstance(QApplication.activeModalWidget(), ManageModelsDialog)
                           and QApplication.activeModalWidget().reject())
    closer.start(200)
    clicked: set = set()

    def press(button) -> None:
        click(qtbot, button)
        clicked.add(id(button))

    view = window.library
    # ---------------------------------------------------------------- Library tab
    window.tabs.setCurrentWidget(view)
    press(view.add_button)
    assert view.scan is not None, said
    press(view.pause_button)  # pause, then resume
    assert view.pause_button.text() == "Resume"
    press(view.pause_button)
    qtbot.waitUntil(lambda: view.scan is None, timeout=120000)
    assert view.settings.get("library/folders") == [str(folder)] and view.model.rowCount() == 6
    press(view.rescan_button)
    press(view.cancel_button)
    qtbot.waitUntil(lambda: view.scan is None, timeout=120000)

    press(view.write_button)  # the review dialog
    dialog = view.findChildren(TagReviewDialog)[-1]
    qtbot.waitUntil(dialog.isVisible, timeout=5000)
    for box in (dialog.unsure, dialog.overwrite):  # tick and untick
        press(box)
        assert box.isChecked()
        press(box)
    for button in buttons_of(dialog):
        if button is dialog.write_button:
            press(button)
            qtbot.waitUntil(lambda: dialog.task is None, timeout=30000)
    assert "tagged (batch" in dialog.summary.text(), dialog.summary.text()
    press(dialog.buttons.button(QDialogButtonBox.Close))
    assert not dialog.isVisible()
    tagged = {str(f): read_tags(f).genre for f in files}
    assert any(tagged.values())

    press(view.undo_button)  # answered No: nothing is undone
    assert "Undo tag writes" in answers.asked and view.side_task is None
    assert {str(f): read_tags(f).genre for f in files} == tagged
    press(view.albums_button)  # the album view and the vocabulary dialog (issue 28)
    press(view.vocabulary_button)
    close_dialogs()
    press(view.playlists_button)
    assert list(answers.lists.glob("*.m3u8"))
    press(view.export_button)
    assert answers.table.is_file() and answers.table.read_text().startswith("path,")
    for button in buttons_of(view):
        assert id(button) in clicked or not button.isVisible(), f"Library button not pressed: {button.text()}"

    view.table.selectRow(0)
    menu = view.show_context_menu(view.table.visualRect(view.proxy.index(0, 0)).center())
    texts = [a.text() for a in menu.actions() if not a.isSeparator()]
    menu.close()
    for text in texts:
        window.tabs.setCurrentWidget(view)
        view.table.selectRow(0)
        menu = view.show_context_menu(view.table.visualRect(view.proxy.index(0, 0)).center())
        [a for a in menu.actions() if a.text() == text][0].trigger()
        menu.close()
        close_dialogs()
        qtbot.waitUntil(lambda: view.scan is None, timeout=120000)

    # ---------------------------------------------------------------- menus (Tracks tab first)
    window.tabs.setCurrentIndex(0)
    seen = leaf_actions(window)
    order = sorted(seen, key=lambda item: item[1] in ("&Quit", "&Clear list"))  # those two last
    for title, text in order:
        if text == "&Quit":
            continue
        act = find_action(window, title, text)
        if act is None or not act.isEnabled():
            continue
        if text.startswith("&Open files") or text.startswith("Open &folder"):
            with qtbot.waitSignal(window.verdict_ready, timeout=60000):
                act.trigger()
        else:
            act.trigger()
        close_dialogs()
        qtbot.waitUntil(lambda: view.scan is None, timeout=120000)
        if text.startswith("&Open files"):  # the Tracks tab's buttons, while a track is listed
            window.select_path(str(extra))
            qtbot.waitUntil(lambda: window.play_button.text() != "Loading\u2026", timeout=10000)
    assert answers.results.is_file() and '"tracks"' in answers.results.read_text()
    window.theme_actions["system"].trigger()

    # ---------------------------------------------------------------- Tracks tab buttons
    window.tabs.setCurrentIndex(0)
    long = write(tmp_path / "long.wav", synth("bass", 300.0), 16000)
    nxt = write(tmp_path / "next.wav", synth("bass", 300.0), 16000)
    window.open_paths([str(long), str(nxt), str(extra)])
    qtbot.waitUntil(lambda: window.skip_button.isEnabled() and window.analysis_queue.current_path == str(long), timeout=20000)
    press(window.skip_button)
    qtbot.waitUntil(lambda: window.analysis_queue.current_path == str(nxt), timeout=20000)
    press(window.cancel_button)
    qtbot.waitUntil(lambda: not window.analysis_queue.busy, timeout=20000)
    window.select_path(str(extra))
    if window.play_button.isEnabled():
        press(window.play_button)  # plays, or says why it cannot (no sound card here)
        qtbot.waitUntil(lambda: window.play_button.text() != "Loading\u2026", timeout=20000)
    else:
        clicked.add(id(window.play_button))
    tracks_tab = window.tabs.widget(0)
    for button in buttons_of(tracks_tab):
        assert id(button) in clicked or not button.isEnabled(), f"Tracks button not pressed: {button.text()}"

    # ---------------------------------------------------------------- Live tab
    window.tabs.setCurrentWidget(window.live)
    press(window.live.refresh_button)
    press(window.live.listen_button)  # listens, or says there is no input device
    qtbot.wait(300)
    if window.live.listening:
        press(window.live.listen_button)
        qtbot.waitUntil(lambda: not window.live.listening, timeout=10000)
    for button in buttons_of(window.live):
        assert id(button) in clicked, f"Live button not pressed: {button.text()}"

    closer.stop()
    # ---------------------------------------------------------------- what must hold
    assert not raised, raised
    assert not [line for line in said if any(word in line for word in BAD_WORDS)], said
    for key, option in OPTIONS.items():
        if option.type in (str, list):
            value = window.settings.get(key)
            values = value if isinstance(value, list) else [value]
            assert not {"True", "False"} & set(values), f"{key} = {value!r}"
    assert window.settings.get("library/playlists_folder") == str(answers.lists)
    assert len(seen) >= 20, seen
    find_action(window, "&File", "&Quit").trigger()
    assert not window.isVisible()


@pytest.mark.parametrize("answer", [QMessageBox.No, QMessageBox.Yes])
def test_undo_asks_first(qtbot, window, tmp_path, monkeypatch, answer):
    folder = tmp_path / "Music"
    files = music(folder, per_genre=1)
    answers = Answers(monkeypatch, tmp_path, folder, files[0])
    answers.question = answer
    view = window.library
    window.tabs.setCurrentWidget(view)
    click(qtbot, view.add_button)
    qtbot.waitUntil(lambda: view.scan is None and view.model.rowCount() == 3, timeout=120000)
    click(qtbot, view.write_button)
    dialog = view.findChildren(TagReviewDialog)[-1]
    with qtbot.waitSignal(dialog.written, timeout=30000):
        click(qtbot, dialog.write_button)
    qtbot.waitUntil(lambda: dialog.task is None, timeout=30000)
    dialog.reject()
    before = {str(f): read_tags(f).genre for f in files}
    assert any(before.values())
    click(qtbot, view.undo_button)
    assert answers.asked.count("Undo tag writes") == 1  # it asked first
    qtbot.waitUntil(lambda: view.side_task is None, timeout=30000)
    after = {str(f): read_tags(f).genre for f in files}
    if answer == QMessageBox.No:
        assert after == before
    else:
        assert not any(after.values())
