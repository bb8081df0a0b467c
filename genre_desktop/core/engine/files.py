"""Find the audio files in what a person drops, opens or names on the command line."""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Callable, Iterable, Iterator, Optional

from .audio_io import AUDIO_EXTENSIONS, AudioDecodeError, audio_info, is_audio_path

log = logging.getLogger(__name__)


def iter_audio_files(paths: Iterable[os.PathLike | str],
                     on_error: Optional[Callable[[Path, str], None]] = None) -> Iterator[Path]:
    """Expand files and folders (recursively, sorted) into audio file paths.

    Files given explicitly are yielded whatever their extension, so that a wrong file
    gets a clear decode error; inside folders only audio extensions are picked up.
    ``on_error(folder, reason)`` hears of each sub-folder that cannot be read (by default
    it is logged as a warning); the walk goes on.
    """
    def unreadable(exc: OSError) -> None:
        folder = Path(exc.filename) if exc.filename else Path("?")
        reason = "permission denied" if isinstance(exc, PermissionError) else (exc.strerror or str(exc))
        if on_error is not None:
            on_error(folder, f"folder cannot be read ({reason})")
        else:
            log.warning("skipped the folder %s: %s", folder, reason)

    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for root, dirs, files in os.walk(path, onerror=unreadable):
                dirs.sort()
                for name in sorted(files):
                    if Path(name).suffix.lower() in AUDIO_EXTENSIONS and not name.startswith("."):
                        yield Path(root) / name
        else:
            yield path


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
