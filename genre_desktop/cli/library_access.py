"""What the ``library`` commands share: the library database of ``--library`` opened as the
command needs it, the model whose results they read, and the database's errors in one line."""
from __future__ import annotations

import sys


def library_model(args):
    """The :class:`~genre_desktop.core.library.model_ref.ModelRef` of ``--model`` (or the window's choice)."""
    from genre_desktop.cli.common import model_choice
    from genre_desktop.core.engine.models.registry import resolve_model
    from genre_desktop.core.library.model_ref import ModelRef

    return ModelRef.of(resolve_model(model_choice(args.model)))


def open_library(args, write: bool = True, create: bool = False):
    """The library named by ``--library``: read-only (``mode=ro``) for the commands that
    only read; for the others, interrupted tag writes settled first. Only ``create``
    (``scan``) makes a missing library; other commands say "no library at …"."""
    from genre_desktop.core.library.database import LibraryDatabase

    db = LibraryDatabase(args.library, readonly=not write, create=write and create, timeout=args.wait)
    if write:
        try:
            from genre_desktop.core.library.writing import recover

            for line in recover(db):
                print(f"recovered: {line}", file=sys.stderr)
        except BaseException:
            db.close()
            raise
    return db


def library_errors(func):
    """``func`` with the database's errors said in one line (locked, damaged, read-only,
    disk full, ...) instead of an internal error."""
    import functools
    import sqlite3

    @functools.wraps(func)
    def wrapper(args):
        from genre_desktop.core.paths import library_path
        from genre_desktop.core.library.db_open import library_error

        try:
            return func(args)
        except sqlite3.Error as exc:
            raise library_error(exc, args.library or library_path(), args.wait) from exc
    return wrapper
