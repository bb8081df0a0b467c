"""The window meets a damaged library: it asks, and only a yes moves the file aside (kept)."""
from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox

from genre_desktop.core.library.database import LibraryDatabase
from genre_desktop.gui.library_open import open_library
from test_faults_database import damage, make_library


@pytest.mark.parametrize("answer", [QMessageBox.Yes, QMessageBox.No])
def test_a_damaged_library_is_moved_aside_only_when_the_person_says_yes(qtbot, tmp_path, monkeypatch, answer):
    db = make_library(tmp_path / "lib.sqlite3", files=400)
    damage(db)
    damaged = db.read_bytes()
    asked = []

    def question(*args, **kwargs):
        asked.append(args[2])
        return answer

    monkeypatch.setattr(QMessageBox, "question", staticmethod(question))
    from genre_desktop.gui.library_open import ask_repair
    lib, notices = open_library(str(db), ask_repair=ask_repair)
    try:
        assert len(asked) == 1 and "damaged" in asked[0]
        aside = [p for p in tmp_path.iterdir() if p.name.startswith("lib.sqlite3.damaged-")
                 and not p.name.endswith(("-wal", "-shm"))]
        if answer == QMessageBox.Yes:
            assert len(aside) == 1 and aside[0].read_bytes() == damaged
            assert Path(lib.path) == db and lib.rows(None) == []
            assert any("moved to" in n for n in notices)
        else:
            assert aside == [] and db.read_bytes() == damaged  # left exactly as it was
            assert Path(lib.path) != db and any("this session uses" in n for n in notices)
    finally:
        lib.close()


def test_the_library_tab_asks_through_a_real_message_box(qtbot, tmp_path, monkeypatch):
    from genre_desktop.gui.library_view import LibraryView
    from PySide6.QtCore import QSettings

    from genre_desktop.gui.settings import Settings

    db = make_library(tmp_path / "lib.sqlite3", files=400)
    damage(db)
    asked = []
    monkeypatch.setattr(QMessageBox, "question",
                        staticmethod(lambda *a, **k: asked.append(a[1]) or QMessageBox.Yes))
    view = LibraryView(Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)), str(db))
    qtbot.addWidget(view)
    assert asked == ["The library is damaged"]
    with LibraryDatabase(db) as fresh:
        assert fresh.rows(None) == []
    view.close()
