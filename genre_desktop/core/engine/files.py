"""Find the audio files in what a person drops, opens or names on the command line."""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Callable, Iterable, Iterator, Optional

from .audio_io import AUDIO_EXTENSIONS

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
