"""Find the audio files in what a person drops, opens or names on the command line."""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Callable, Iterable, Iterator, Optional

from genre_desktop.core.engine.audio.decode import AUDIO_EXTENSIONS, AudioDecodeError, audio_info, is_audio_path
from genre_desktop.core.safe_files import regular_file_problem

log = logging.getLogger(__name__)


def iter_audio_files(paths: Iterable[os.PathLike | str],
                     on_error: Optional[Callable[[Path, str], None]] = None) -> Iterator[Path]:
    """Expand files and folders (recursively, sorted) into audio file paths.

    Files given explicitly are yielded whatever their extension, so that a wrong file
    gets a clear decode error; inside folders only audio extensions are picked up, and
    only regular files: a FIFO, a device or a socket with an audio name (or a link to
    one) is skipped. Linked folders are followed, each real folder once (a link back up
    the tree is skipped). ``on_error(path, reason)`` hears of each folder that cannot be
    read and each file or link skipped, in one line (by default it is logged as a
    warning); the walk goes on.
    """
    def skipped(path: Path, reason: str) -> None:
        if on_error is not None:
            on_error(path, reason)
        else:
            log.warning("skipped %s: %s", path, reason)

    def unreadable(exc: OSError) -> None:
        reason = "permission denied" if isinstance(exc, PermissionError) else (exc.strerror or str(exc))
        skipped(Path(exc.filename) if exc.filename else Path("?"), f"folder cannot be read ({reason})")

    for raw in paths:
        path = Path(raw)
        if not path.is_dir():
            yield path
            continue
        seen: set[tuple[int, int]] = set()
        for root, dirs, files in os.walk(path, onerror=unreadable, followlinks=True):
            here = _identity(root)
            if here in seen:  # reached again through a link: its files are already listed
                skipped(Path(root), "a link to a folder already scanned (skipped)")
                dirs.clear()
                continue
            if here is not None:
                seen.add(here)
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(files):
                if Path(name).suffix.lower() in AUDIO_EXTENSIONS and not name.startswith("."):
                    candidate = Path(root) / name
                    reason = _not_regular(candidate)
                    if reason:
                        skipped(candidate, reason)
                    else:
                        yield candidate


def _identity(folder: str) -> Optional[tuple[int, int]]:
    try:
        info = os.stat(folder)
    except OSError:
        return None
    return info.st_dev, info.st_ino


def _not_regular(path: Path) -> Optional[str]:
    """Why a file found in a folder is skipped (a FIFO, a device...), or None. A link to
    nothing is kept: the decoder says "file not found" for it, as for a file gone since."""
    try:
        return regular_file_problem(path)
    except OSError:
        return None


def expand_paths(paths: Iterable[os.PathLike | str]) -> tuple[list[Path], list[tuple[str, str]]]:
    """What a person named (dropped, opened, typed) as audio files, and why the rest is not.

    The one rule for the window and the command line: a folder gives its audio files
    (recursively, sorted); a file with an audio extension is taken as it is (a damaged one
    gets its decode error later); a file with another extension is taken only if its header
    reads as audio.

    Returns
    -------
    files : list of Path, in the order named
    problems : list of (path as named, one-line reason)
    """
    files: list[Path] = []
    problems: list[tuple[str, str]] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            found = list(iter_audio_files([path], on_error=lambda f, r: problems.append((str(f), r))))
            if not found:
                problems.append((str(raw), "folder holds no audio files"))
            files.extend(found)
        elif not path.exists():
            problems.append((str(raw), "no such file or folder"))
        elif _not_regular(path):
            problems.append((str(raw), _not_regular(path)))
        elif is_audio_path(path) or _reads_as_audio(path):
            files.append(path)
        else:
            problems.append((str(raw), f"not an audio file ({path.suffix.lower() or 'no extension'})"))
    return files, problems


def _reads_as_audio(path: Path) -> bool:
    try:
        return audio_info(path).duration > 0
    except (AudioDecodeError, OSError):
        return False
