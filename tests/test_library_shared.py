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
