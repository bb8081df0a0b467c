"""Genre names: how a label is cleaned, which spellings and aliases name one genre, and
how a label is spelled in a file's genre tag. Read wherever genres are matched or written
(training's labelled folders and scopes, the library's vocabulary and listings, the CLI)."""
from __future__ import annotations

import re

from genre_desktop.core.engine.models.names import is_control


def clean_label(text: str) -> str:
    """A genre label fit to print and store: control characters become spaces, runs of
    white space collapse, undecodable bytes of a file name (lone surrogates) become U+FFFD."""
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    text = "".join(" " if is_control(ch) else ch for ch in text)
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
