"""Open the library database for the window: interrupted tag writes settled, and a
temporary database for this session when the usual folder cannot be written."""
from __future__ import annotations

import logging
import sqlite3
import tempfile
from pathlib import Path
from typing import Callable, Optional

from PySide6.QtWidgets import QMessageBox

from genre_desktop.core.library.database import LibraryDatabase, library_path, repair_library
from genre_desktop.core.library.db_open import LibraryDamaged
from genre_desktop.core.library.writing import recover

log = logging.getLogger(__name__)


def open_library(db_path: Optional[str],
                 ask_repair: Optional[Callable[[str], bool]] = None) -> tuple[LibraryDatabase, list[str]]:
    """The library database and the lines to say about it (in the status bar).

    A damaged library is moved aside (kept, with its ``-wal``/``-shm``) only when
    ``ask_repair(message)`` says yes; otherwise, and for every other failure (locked,
    read-only, disk full, newer), this session uses a temporary library and the user's
    file is left exactly as it is.
    """
    notices = []
    try:
        try:
            db = LibraryDatabase(db_path)
        except LibraryDamaged as exc:
            if ask_repair is None or not ask_repair(str(exc)):
                raise
            moved = repair_library(db_path)
            notices.append(f"The damaged library was moved to {moved}; a new, empty one was started.")
            db = LibraryDatabase(db_path)
    except (OSError, sqlite3.Error) as exc:
        fallback = Path(tempfile.mkdtemp(prefix="genre-desktop-library-")) / "library.sqlite3"
        notices.append(f"The library cannot be kept in {db_path or library_path()} ({exc}); "
                       f"this session uses {fallback}.")
        db = LibraryDatabase(fallback)
    if db.notice:
        notices.append(f"Library: {db.notice}.")
    settled = recover(db)
    if settled:
        notices.append(f"Library: {len(settled)} interrupted tag writes settled ({settled[0]}).")
    for text in notices:
        log.warning(text)
    return db, notices


def ask_repair(message: str) -> bool:
    """Ask whether to move a damaged library aside (it is kept) and start a new one."""
    return QMessageBox.question(
        None, "The library is damaged",
        f"{message}\n\nMove it aside (it is kept, with its journal, beside the new one) and start "
        "a new, empty library? No: this session uses a temporary library and the damaged "
        "file is left as it is.") == QMessageBox.Yes
