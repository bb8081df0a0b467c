"""The window's settings, each declared once: key, type, default and what it is for.

Stored as an INI file in the user config folder (``core.paths.user_config_folder``;
under ``GENRE_DESKTOP_DATA`` for tests). A value that a hand-edited or older file holds in
the wrong type reads as the default; writing a key that is not declared here is a bug and
raises ``KeyError``.
"""
from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

from genre_desktop.core.engine.classify.verdicts import WORDS
from genre_desktop.core.paths import user_config_folder, user_data_folder

log = logging.getLogger(__name__)
FILE_NAME = "settings.ini"


@dataclass(frozen=True)
class Option:
    key: str
    type: type
    default: Any
    doc: str
    session: bool = False  # kept for this run of the app only: back to the default at each start


OPTIONS: dict[str, Option] = {o.key: o for o in (
    Option("window/geometry", QByteArray, None, "the main window's size and place"),
    Option("model/name", str, "", "the chosen model: an installed model's name, or a folder "
                                  "chosen by path; empty for the bundled default"),
    Option("paths/last_folder", str, "", "where the last file dialog was"),
    Option("paths/recent", list, [], "recently opened files and folders, newest first"),
    Option("live/device", str, "", "the input device to listen to (empty: the system's)"),
    Option("live/record", bool, False, "keep a WAV of each listening session"),
    Option("live/hop_seconds", float, 1.0, "seconds between live predictions"),
    Option("wizard/last_folder", str, "", "the library folder the training wizard last used"),
    Option("view/theme", str, "system", "colours: system (follow the desktop), light or dark"),
    Option("library/folders", list, [], "the folders added to the library (rescanned by Rescan)"),
    # the risky tag-writing choices start from the safe default at each start (never stored)
    Option("library/top_k", int, 1, "genres written into a file's tag (1 to 3)", session=True),
    Option("library/separator", str, "", "joins several genres into one tag value (empty: separate values)"),
    Option("library/include_unsure", bool, False, f"also tag '{WORDS['unsure']}' tracks with their best guess"),
    Option("library/overwrite", bool, False, "replace a genre a file already has", session=True),
    Option("library/add", bool, False, "add the genre to those a file already has", session=True),
    Option("library/per_album", bool, True, "one genre per album (album-tagged, 3 or more analysed tracks)"),
    Option("library/playlists_folder", str, "", "where per-genre playlists were last exported"),
)}


class Settings:
    """Typed access to the declared :data:`OPTIONS` over a QSettings store."""

    def __init__(self, store: QSettings):
        self.store = store
        self.session: dict[str, Any] = {}  # the values of the ``session`` options

    def get(self, key: str) -> Any:
        option = OPTIONS[key]
        raw = self.session.get(key, option.default) if option.session else self.store.value(key, option.default)
        if raw is None or option.type is QByteArray:
            return raw if raw is None or isinstance(raw, QByteArray) else option.default
        try:
            if option.type is bool:
                return raw if isinstance(raw, bool) else str(raw).strip().lower() in ("true", "1", "yes")
            if option.type is list:
                return [str(x) for x in raw] if isinstance(raw, (list, tuple)) else [str(raw)]
            return option.type(raw)
        except (TypeError, ValueError):
            log.warning("setting %s holds %r, not a %s: using %r", key, raw, option.type.__name__, option.default)
            return option.default

    def start_folder(self, key: str = "paths/last_folder") -> str:
        """Where a file dialog opens: the folder ``key`` remembers, else the person's Music
        folder, else their home (never the folder the app happened to start in)."""
        from pathlib import Path

        import platformdirs

        remembered = self.get(key)
        if remembered and Path(remembered).is_dir():
            return remembered
        music = Path(platformdirs.user_music_dir())
        return str(music if music.is_dir() else Path.home())

    def set(self, key: str, value: Any) -> None:
        option = OPTIONS[key]
        if isinstance(value, bool) and option.type is not bool or \
                option.type is list and value is not None and any(isinstance(v, bool) for v in value):
            # a button's clicked(bool) that reached a slot expecting a path: a bug, never stored
            raise TypeError(f"setting {key} takes a {option.type.__name__}, not {value!r}")
        if value is not None and not isinstance(value, option.type):
            value = option.type(value)
        if option.session:
            self.session[key] = value
        else:
            self.store.setValue(key, value)

    def sync(self) -> None:
        self.store.sync()


def app_settings() -> Settings:
    """The app's settings file (created on first write). A settings file left in the data
    folder by older versions is moved to the config folder once."""
    folder = user_config_folder()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / FILE_NAME
    old = user_data_folder() / FILE_NAME
    if not path.exists() and old.is_file() and old != path:
        try:
            shutil.move(str(old), str(path))
        except OSError as exc:
            log.warning("could not move the old settings file %s: %s", old, exc)
    return Settings(QSettings(str(path), QSettings.IniFormat))
