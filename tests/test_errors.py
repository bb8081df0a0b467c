"""One exception root: every error the package defines derives from GenreDesktopError, and
the command line says a refusal in one line (exit 2) while a bare built-in error is a bug
("internal error", exit 3)."""
import importlib
import inspect
import pkgutil

import pytest

import genre_desktop
from conftest import synth, write
from genre_desktop.core.errors import GenreDesktopError
from genre_desktop.core.library.database import LibraryDatabase


def _package_exceptions() -> dict[str, type]:
    """``{module.Class: class}`` for every Exception subclass a module of the package defines
    (the GUI's too: the tests run with QT_QPA_PLATFORM=offscreen)."""
    found = {}
    for info in pkgutil.walk_packages(genre_desktop.__path__, "genre_desktop."):
        if info.name.rsplit(".", 1)[-1] == "__main__":  # runs the program when imported
            continue
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, BaseException) and cls.__module__ == module.__name__:
                found[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return found


def test_every_exception_of_the_package_derives_from_the_root():
    found = _package_exceptions()
    for known in ("genre_desktop.core.errors.BundleError", "genre_desktop.core.engine.audio.decode.AudioDecodeError",
                  "genre_desktop.core.library.writing.UndoRefused", "genre_desktop.cli.common.UserError",
                  "genre_desktop.core.library.batch_dask.SchedulerAddressError",
                  "genre_desktop.core.training.scope.TrainingRefused"):
        assert known in found, f"the walk missed {known}"  # the walk reached every room
    strays = sorted(name for name, cls in found.items() if not issubclass(cls, GenreDesktopError))
    assert strays == [], f"not derived from GenreDesktopError: {strays}"


def test_refusals_stay_the_builtin_kinds_callers_catch():
    from genre_desktop.core.library.batch_dask import DaskMissing, SchedulerAddressError
    from genre_desktop.core.library.tag_fields import UnknownTagField, check_field

    for cls in (SchedulerAddressError, UnknownTagField):
        assert issubclass(cls, ValueError) and issubclass(cls, GenreDesktopError)
    assert issubclass(DaskMissing, RuntimeError)
    with pytest.raises(UnknownTagField, match="no such tag field 'colour'"):
        check_field("colour")


def _one_line_error(err: str, words: str) -> None:
    assert "Traceback" not in err, err
    assert err.count("\n") == 1 and err.startswith("error: ") and words in err, err


def test_nothing_to_undo_is_one_line_exit_2(tmp_path, run_cli):
    library = tmp_path / "lib.sqlite3"
    LibraryDatabase(library).close()  # a real, empty library
    _one_line_error(run_cli("library", "--library", library, "undo-tags", check_rc=2).stderr,
                    "no tag writes to undo")
    _one_line_error(run_cli("library", "--library", library, "undo-tags", "7", check_rc=2).stderr,
                    "no batch of tag writes numbered 7")


def test_user_mistakes_in_library_commands_are_one_line_exit_2(tmp_path, run_cli):
    library = tmp_path / "lib.sqlite3"
    LibraryDatabase(library).close()
    _one_line_error(run_cli("library", "--library", library, "forget", check_rc=2).stderr,
                    "name the files to forget")
    _one_line_error(run_cli("library", "--library", library, "scan", tmp_path / "nowhere", check_rc=2).stderr,
                    "no such file or folder")


def test_an_unsupported_scheduler_is_one_line_exit_2_from_the_real_program(tmp_path, tiny_model, run_cli_process):
    music = tmp_path / "music"
    write(music / "a.flac", synth("bass", 2.0))
    done = run_cli_process("library", "--library", tmp_path / "lib.sqlite3", "scan", music, "--model", tiny_model,
                           "--scheduler", "udp://x", check_rc=2)
    errors = [line for line in done.stderr.splitlines() if line.startswith("error")]
    assert errors == ["error: unsupported scheduler address 'udp://x': only tcp://HOST:PORT is supported"]
    assert "Traceback" not in done.stderr
    assert "%|" not in done.stderr, done.stderr  # refused before any progress bar is drawn
    assert not (tmp_path / "lib.sqlite3").exists()  # and before a library is made


def test_a_bare_valueerror_is_a_bug_exit_3(tmp_path, run_cli, monkeypatch):
    library = tmp_path / "lib.sqlite3"
    LibraryDatabase(library).close()

    def broken_undo(db, batch_id=None):
        raise ValueError("a bug, not a refusal")

    monkeypatch.setattr("genre_desktop.core.library.writing.undo", broken_undo)
    err = run_cli("library", "--library", library, "undo-tags", check_rc=3).stderr
    assert "internal error (ValueError: a bug, not a refusal)" in err and "Traceback" not in err


def test_an_export_into_a_missing_folder_names_the_file_asked_for(tmp_path, run_cli):
    from genre_desktop.core.library.database import LibraryDatabase

    db = tmp_path / "lib.sqlite3"
    LibraryDatabase(db).close()
    target = tmp_path / "no such folder" / "x.csv"
    result = run_cli("library", "--library", db, "export", target)
    assert result.returncode == 1
    assert str(target) in result.stderr and ".tmp" not in result.stderr, result.stderr
