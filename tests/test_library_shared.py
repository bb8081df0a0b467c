"""The window and the command line share one library: opening it again in one process must
never drop SQLite's locks (on Linux, closing any descriptor of a file drops every POSIX
lock the process holds on it), or another program closing the library deletes the WAL
that the first connection still uses."""
from __future__ import annotations

import subprocess
import sys

from genre_desktop.core.library.database import LibraryDatabase


def test_a_second_open_in_one_process_keeps_the_first_connections_wal(tmp_path):
    path = tmp_path / "library.sqlite3"
    window = LibraryDatabase(path)  # the window's connection, kept open
    with window.transaction():
        for i in range(20):
            window.upsert_file(f"/music/{i}.ogg", size=i, mtime_ns=i, fingerprint=f"{i:032x}", duration=60.0)
    wal = tmp_path / "library.sqlite3-wal"
    assert wal.exists()
    worker = LibraryDatabase(path)  # a worker thread of the window opens it too, then closes
    worker.close()
    # another program (the command line) opens and closes the library
    subprocess.run([sys.executable, "-c", "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]);"
                    " c.execute('SELECT count(*) FROM files').fetchone(); c.close()", str(path)], check=True)
    assert wal.exists(), "the other program deleted the WAL the window still uses"
    assert len(window.rows(None)) == 20
    with window.transaction():
        window.upsert_file("/music/new.ogg", size=1, mtime_ns=1, fingerprint="f" * 32, duration=60.0)
    assert len(window.rows(None)) == 21
    window.close()
    with LibraryDatabase(path) as again:
        assert len(again.rows(None)) == 21


def test_the_library_tab_says_when_the_library_cannot_be_read(qtbot, tmp_path, monkeypatch):
    """Rows that cannot be read, and an undo that cannot look at the journal, are said in the
    status line (once), not left as blank rows and a button that does nothing."""
    import sqlite3

    from PySide6.QtCore import QSettings, Qt
    from PySide6.QtTest import QTest

    from genre_desktop.core.library import pages
    from genre_desktop.gui import library_actions as library_actions_module
    from genre_desktop.gui.library_view import LibraryView
    from genre_desktop.gui.settings import Settings

    path = tmp_path / "library.sqlite3"
    with LibraryDatabase(path) as db, db.transaction():
        for i in range(5):
            db.upsert_file(f"/music/{i}.ogg", size=i, mtime_ns=i, fingerprint=f"{i:032x}", duration=60.0)
    view = LibraryView(Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)), str(path))
    qtbot.addWidget(view)
    said = []
    view.message.connect(said.append)

    def broken(*args, **kwargs):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(pages, "rows_for_ids", broken)
    view.refresh()
    assert view.model.rowCount() == 5
    view.model._cache.clear()
    for row in range(view.model.rowCount()):
        view.model.data(view.model.index(row, 0), Qt.DisplayRole)
    assert len([s for s in said if "cannot be read" in s]) == 1, said

    monkeypatch.setattr(library_actions_module, "undoable_batches", broken)
    view.undo_button.setEnabled(True)
    view.undo_button.show()
    QTest.mouseClick(view.undo_button, Qt.LeftButton)
    assert any(s.startswith("Undo: the library cannot be read") for s in said), said
    view.close()
