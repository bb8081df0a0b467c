"""Open the library database for the window: interrupted tag writes settled, and a
temporary database for this session when the usual folder cannot be written."""
from __future__ import annotations

import logging
import sqlite3
import tempfile
from pathlib import Path
from typing import Optional

from ..core.library.database import LibraryDatabase, library_path
from ..core.library.writing import recover

log = logging.getLogger(__name__)


def open_library(db_path: Optional[str]) -> tuple[LibraryDatabase, list[str]]:
    """The library database and the lines to say about it (in the status bar)."""
    notices = []
    try:
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
