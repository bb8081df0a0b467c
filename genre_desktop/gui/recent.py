"""File › Open recent: what was opened, remembered in the settings as absolute paths."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from PySide6.QtWidgets import QMenu

from genre_desktop.gui.settings import Settings

MAX_RECENT = 10


def recent_entries(paths: list[str]) -> list[str]:
    """The entries that opening ``paths`` adds: absolute paths; more than three at once are
    one entry, the folder that holds them, so that one drop of 91 files does not push
    everything else out."""
    absolute = [str(Path(p).expanduser().absolute()) for p in paths]
    if len(absolute) <= 3:
        return absolute
    if len({Path(p).anchor for p in absolute}) != 1:
        return absolute[:1]
    common = os.path.commonpath(absolute)
    return [str(Path(common).parent) if Path(common).is_file() else common]


class RecentMenu:
    """Keeps the menu and the ``paths/recent`` setting in step."""

    def __init__(self, menu: QMenu, settings: Settings, open_paths: Callable[[list[str]], object]):
        self.menu, self.settings, self.open_paths = menu, settings, open_paths
        self.refresh()

    def remember(self, paths: list[str]) -> None:
        new = recent_entries(paths)
        kept = [p for p in self.settings.get("paths/recent") if p not in new]
        self.settings.set("paths/recent", (new + kept)[:MAX_RECENT])
        self.refresh()

    def refresh(self) -> None:
        self.menu.clear()
        recent = self.settings.get("paths/recent")
        for p in recent:
            self.menu.addAction(p, lambda p=p: self.open_paths([p]))
        self.menu.setEnabled(bool(recent))
