"""The one rule for names a person types that become paths or labels.

A model name becomes a folder under the user's models folder, so it is checked here, and
only here, before the CLI, the wizard or the Manage dialog touch the disk with it.
"""
from __future__ import annotations

import re
import unicodedata
from genre_desktop.core.errors import GenreDesktopError

#: suffixes the model store uses for its own folders; a model may not end in one
RESERVED_SUFFIXES = (".previous", ".partial", ".trash", ".swap", ".lock", ".tmp")
MAX_NAME_LENGTH = 64
_WINDOWS_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)),
                     *(f"lpt{i}" for i in range(10))}
_ALLOWED = re.compile(r"^[\w][\w .()+-]*$")


class InvalidName(GenreDesktopError, ValueError):
    """A name cannot be used; ``str(error)`` says why, in one line."""


def _has_control(text: str) -> bool:
    return any(unicodedata.category(ch).startswith("C") for ch in text)


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
    if _has_control(stripped):
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


def clean_label(text: str) -> str:
    """A genre label fit to print and store: control characters become spaces, runs of
    white space collapse, undecodable bytes of a file name (lone surrogates) become U+FFFD."""
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    text = "".join(" " if unicodedata.category(ch).startswith("C") else ch for ch in text)
    return " ".join(text.split())


#: other names people give the genres the bundled model knows (keys as ``genre_key`` gives them)
GENRE_ALIASES = {"electronica": "electronic", "electro": "electronic", "edm": "electronic",
                 "rap": "hiphop", "heavymetal": "metal", "rocknroll": "rock", "rockandroll": "rock",
                 "countrymusic": "country", "bebop": "jazz", "swing": "jazz", "classicalmusic": "classical"}


def genre_key(name: str) -> str:
    """``"Hip-Hop"``, ``"hip hop"`` and ``"hiphop"`` name one genre (any script's letters count)."""
    return re.sub(r"[\W_]", "", name.casefold())


def match_label(name: str, labels: list[str]) -> str | None:
    """The label of ``labels`` that the genre name ``name`` means, or None.

    Case, spaces, hyphens and punctuation are ignored; a few common aliases
    (:data:`GENRE_ALIASES`: "Electronica" means "electronic") count when no label matches
    exactly.
    """
    keys = {genre_key(label): label for label in labels}
    key = genre_key(name)
    if key in keys:
        return keys[key]
    alias = GENRE_ALIASES.get(key)
    return keys.get(alias) if alias else None


#: how a label is spelled in a file's genre tag when title case would get it wrong
_TAG_SPELLINGS = {"hiphop": "Hip-Hop", "rnb": "R&B", "edm": "EDM", "dnb": "Drum & Bass"}


def tag_spelling(label: str) -> str:
    """How a genre label is written into a file's tag: ``"hiphop"`` → ``"Hip-Hop"``,
    ``"rock"`` → ``"Rock"``; a label with capitals of its own (a user's "Drum & Bass",
    "IDM") is kept as it is."""
    label = clean_label(label)
    if label in _TAG_SPELLINGS:
        return _TAG_SPELLINGS[label]
    return label.title() if label == label.lower() else label
