"""A place on the desktop: the freedesktop menu entry, its icon, and "Open with Genre Desktop".

``genre-desktop-cli desktop-install`` (run by ``./run.sh`` set-up) writes, for this user only
(no root): ``$XDG_DATA_HOME/applications/genre-desktop.desktop`` (MIME types of the audio
formats the app opens, ``Exec`` pointing at this installation's ``genre-desktop``) and the
icon in the hicolor theme (SVG + PNG sizes), then refreshes the desktop database when the
tool for it is installed.
"""
from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Optional

from genre_desktop.core.paths import desktop_data_home
from genre_desktop.core.safe_files import atomic_write_bytes, atomic_write_text

log = logging.getLogger(__name__)
APP_ID = "genre-desktop"
PNG_SIZES = (16, 32, 48, 64, 128, 256)


def launcher() -> str:
    """This installation's ``genre-desktop`` executable (beside the running Python)."""
    beside = Path(sys.executable).parent / APP_ID
    return str(beside) if beside.exists() else (shutil.which(APP_ID) or APP_ID)


def _exec_line(program: str) -> str:
    """The desktop spec's quoting: a path with spaces or quotes goes in double quotes."""
    if any(c in program for c in ' \t"\'\\$`'):
        escaped = program.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$").replace("`", "\\`")
        program = f'"{escaped}"'
    return f"{program} %F"


def desktop_entry(program: Optional[str] = None) -> str:
    """The ``.desktop`` text with ``Exec`` set to ``program`` (default: :func:`launcher`)."""
    text = (resources.files("genre_desktop_resources") / f"{APP_ID}.desktop").read_text(encoding="utf-8")
    lines = [f"Exec={_exec_line(program or launcher())}" if line.startswith("Exec=") else line
             for line in text.splitlines()]
    return "\n".join(lines) + "\n"


def install(home: Optional[Path] = None, program: Optional[str] = None) -> list[Path]:
    """Write the menu entry and icons under ``home`` (default: :func:`~genre_desktop.core.paths.desktop_data_home`); returns them."""
    home = home or desktop_data_home()
    files = resources.files("genre_desktop_resources")
    written = []
    apps = home / "applications"
    apps.mkdir(parents=True, exist_ok=True)
    entry = apps / f"{APP_ID}.desktop"
    atomic_write_text(entry, desktop_entry(program))
    written.append(entry)
    targets = [(f"{APP_ID}.svg", home / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg")]
    targets += [(f"{APP_ID}-{n}.png", home / "icons" / "hicolor" / f"{n}x{n}" / "apps" / f"{APP_ID}.png")
                for n in PNG_SIZES]
    for name, target in targets:
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(target, (files / name).read_bytes())
        written.append(target)
    if shutil.which("update-desktop-database"):
        subprocess.run(["update-desktop-database", str(apps)], capture_output=True)
    return written


def icon_path() -> Path:
    """The app icon for the window (the 256-px PNG)."""
    return Path(str(resources.files("genre_desktop_resources") / f"{APP_ID}-256.png"))
