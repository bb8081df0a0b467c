"""The model the window has chosen, read without Qt, so the CLI uses the same one.

The window keeps its choice as ``model/name`` in its settings file (``gui/settings.py``:
an INI file that ``QSettings`` writes in the user config folder). This reads that one key
from the file, undoing ``QSettings``' INI escapes, and never writes it.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Optional

from genre_desktop.core.paths import user_config_folder

log = logging.getLogger(__name__)

SETTINGS_FILE = "settings.ini"  # as gui/settings.py FILE_NAME
MAX_BYTES = 1 << 20  # a settings file is small: read no more
_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", '"': '"',
            "'": "'", "\\": "\\", "?": "?", ";": ";", ",": ","}


def settings_path() -> Path:
    return user_config_folder() / SETTINGS_FILE


def window_model_choice(path: Optional[Path] = None) -> Optional[str]:
    """The model name or folder chosen in the window (``model/name``), or None when it
    kept the bundled default (or there is no readable settings file)."""
    path = path or settings_path()
    try:
        with open(path, "rb") as f:
            text = f.read(MAX_BYTES).decode("utf-8", "replace")
    except OSError:
        return None
    value = ini_value(text, "model", "name")
    return value or None


def ini_value(text: str, section: str, key: str) -> Optional[str]:
    """One string value of a ``QSettings`` INI file (the last one wins, as in Qt)."""
    current, found = "General", None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1].strip()
            continue
        if current != section or "=" not in line or line.startswith((";", "#")):
            continue
        name, value = line.split("=", 1)
        if name.strip() == key:
            found = _unescape(value.strip())
    return found


def _unescape(value: str) -> Optional[str]:
    """``QSettings``' INI escapes undone (quotes, backslash escapes, ``\\xHHHH``, ``@@``)."""
    out, i, quoted = [], 0, False
    while i < len(value):
        c = value[i]
        if c == '"':
            quoted = not quoted
        elif c == "\\" and i + 1 < len(value):
            nxt = value[i + 1]
            hexa = re.match(r"x([0-9a-fA-F]{1,4})", value[i + 1:])
            if hexa:
                out.append(chr(int(hexa.group(1), 16)))
                i += 1 + len(hexa.group(0))
                continue
            out.append(_ESCAPES.get(nxt, nxt))
            i += 2
            continue
        elif c == "," and not quoted:
            return None  # a list, not a name
        else:
            out.append(c)
        i += 1
    text = "".join(out)
    if text.startswith("@@"):
        return text[1:]
    if text.startswith("@String(") and text.endswith(")"):
        return text[len("@String("):-1]
    if text.startswith("@"):
        return None  # @Invalid(), @ByteArray(...), ...: not a model name
    return text
