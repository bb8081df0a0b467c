"""QSettings stored as an INI file in the user data folder (``GENRE_DESKTOP_DATA`` for tests)."""
from __future__ import annotations

from PySide6.QtCore import QSettings

from ..core.engine.registry import user_data_folder


def app_settings() -> QSettings:
    path = user_data_folder() / "settings.ini"
    path.parent.mkdir(parents=True, exist_ok=True)
    return QSettings(str(path), QSettings.IniFormat)
