"""Expected errors in the window are one line without a traceback; bugs keep theirs.

A file that is not audio, a library with nothing to undo: the person reads one line (the
track's error row, the task's ``errored`` message) and the log holds one line at WARNING,
never a traceback. A bare built-in error is a bug: its traceback is logged.
"""
import logging


from genre_desktop.core.library.database import LibraryDatabase
from genre_desktop.gui.tasks import Task
from conftest import drop


def _no_traceback(caplog) -> None:
    assert "Traceback" not in caplog.text, caplog.text
    assert not [r for r in caplog.records if r.exc_info], caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


def test_a_corrupt_mp3_is_one_line_and_no_traceback(qtbot, window, tmp_path, caplog):
    bad = tmp_path / "not really.mp3"
    bad.write_bytes(b"ID3\x03\x00\x00\x00\x00\x00\x10" + bytes(range(256)) * 64)  # a tag header, then garbage
    caplog.set_level(logging.INFO)
    with qtbot.waitSignal(window.track_failed, timeout=30000) as blocker:
        drop(window, [bad])
    path, reason = blocker.args
    assert path == str(bad) and reason and "\n" not in reason
    row = window.table_model.rows[0]
    assert row.status == "error" and row.error == reason
    _no_traceback(caplog)
    said = [r for r in caplog.records if r.name == "genre_desktop.gui.tasks"]
    assert len(said) == 1 and said[0].levelno == logging.WARNING and "\n" not in said[0].getMessage()


def _undo_on(path):
    from genre_desktop.core.library.writing import undo

    with LibraryDatabase(path) as db:
        return undo(db)


def test_nothing_to_undo_is_said_without_a_traceback(qtbot, tmp_path, caplog):
    library = tmp_path / "lib.sqlite3"
    LibraryDatabase(library).close()  # a real, empty library
    caplog.set_level(logging.INFO)
    task = Task(_undo_on, library, name="undo", contract=False)
    with qtbot.waitSignal(task.errored, timeout=20000) as blocker:
        task.start()
    assert blocker.args == ["no tag writes to undo"]
    _no_traceback(caplog)


def _a_bug():
    return int("not a number")  # a bare ValueError: a bug, not a refusal


def test_a_bare_builtin_error_is_a_bug_and_keeps_its_traceback(qtbot, caplog):
    caplog.set_level(logging.INFO)
    task = Task(_a_bug, name="bug", contract=False)
    with qtbot.waitSignal(task.errored, timeout=20000) as blocker:
        task.start()
    assert "not a number" in blocker.args[0]
    bugs = [r for r in caplog.records if r.name == "genre_desktop.gui.tasks" and r.exc_info]
    assert len(bugs) == 1 and bugs[0].levelno == logging.ERROR and "Traceback" in caplog.text
