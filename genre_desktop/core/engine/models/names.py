"""The one rule for model names, and the one rule for control characters in text.

A model name becomes a folder under the user's models folder, so it is checked here, and
only here, before the CLI, the wizard or the Manage dialog touch the disk with it. Genre
names (labels, aliases, tag spellings) are :mod:`.genre_names`'.
"""
from __future__ import annotations

import re
import unicodedata

from genre_desktop.core.errors import GenreDesktopError
from genre_desktop.core.safe_files import RESERVED_SUFFIXES

MAX_NAME_LENGTH = 64
_WINDOWS_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)),
                     *(f"lpt{i}" for i in range(10))}
_ALLOWED = re.compile(r"^[\w][\w .()+-]*$")


class InvalidName(GenreDesktopError, ValueError):
    """A name cannot be used; ``str(error)`` says why, in one line."""


def is_control(ch: str) -> bool:
    """Whether a character is a control, format, surrogate, private-use or unassigned one
    (Unicode category C): nothing a name or a label may hold."""
    return unicodedata.category(ch).startswith("C")


def has_control(text: str) -> bool:
    """Whether ``text`` holds any character :func:`is_control` refuses."""
    return any(is_control(ch) for ch in text)


def validate_model_name(name: object) -> str:
    """Return ``name`` stripped of surrounding spaces, or raise :class:`InvalidName`.

    Refused: empty names, path separators, ``.``/``..`` and names starting with a dot,
    control characters, reserved suffixes (``.previous``, ``.partial``, ...), names longer
    than 64 characters, and device names Windows reserves. Letters of any script, digits,
    spaces and ``_ - . ( ) +`` are fine.
    """
    if not isinstance(name, str):
        raise InvalidName("a model name must be text")
    stripped = name.strip()
    if not stripped:
        raise InvalidName("a model name cannot be empty")
    if has_control(stripped):
        raise InvalidName("a model name cannot hold control characters (new lines, tabs, ...)")
    if "/" in stripped or "\\" in stripped or "\0" in stripped:
        raise InvalidName(f"a model name cannot hold '/' or '\\' ({stripped!r})")
    if stripped.startswith("."):
        raise InvalidName(f"a model name cannot start with a dot ({stripped!r})")
    if len(stripped) > MAX_NAME_LENGTH:
        raise InvalidName(f"a model name can have at most {MAX_NAME_LENGTH} characters")
    lowered = stripped.casefold()
    for suffix in RESERVED_SUFFIXES:
        if lowered.endswith(suffix):
            raise InvalidName(f"a model name cannot end in {suffix!r}: the app uses it for backups")
    if lowered.split(".")[0] in _WINDOWS_RESERVED:
        raise InvalidName(f"a model name cannot be {stripped!r}: Windows reserves it for a device")
    if not _ALLOWED.match(stripped):
        raise InvalidName("use letters, digits, spaces and _ - . ( ) + in a model name")
    return stripped
