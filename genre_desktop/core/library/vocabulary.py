"""Your vocabulary: how each model label is written, which names existing tags are read
through, and (optionally) which genres may be written at all.

One JSON file in the user's config folder (``vocabulary.json``, written atomically);
missing means the defaults. Tags a person already has become evidence: "Heavy Metal" in
a file agrees with the label ``metal`` (:meth:`Vocabulary.agrees`). Names are compared
by :func:`~genre_desktop.core.engine.models.genre_names.genre_key` ("Hip-Hop", "hip hop", "HipHop"
are one name).
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Iterable, Optional

from genre_desktop.core.engine.models.genre_names import clean_label, genre_key, tag_spelling
from genre_desktop.core.paths import user_config_folder
from genre_desktop.core.safe_files import FileTooLarge, NotRegularFile, atomic_write_text, open_regular
from genre_desktop.core.library.tags import normalise_genres
from genre_desktop.core.errors import GenreDesktopError

log = logging.getLogger(__name__)

FILE_NAME = "vocabulary.json"
VERSION = 1
MAX_BYTES = 1024 * 1024  # a vocabulary file larger than this is refused
MAX_ENTRIES = 10_000
MAX_NAME = 100  # characters of one name

#: names people give the bundled model's genres (those of :data:`genre_names.GENRE_ALIASES` among them)
DEFAULT_ALIASES = {
    "Heavy Metal": "metal", "Thrash Metal": "metal", "Death Metal": "metal", "Black Metal": "metal",
    "Hard Rock": "rock", "Classic Rock": "rock", "Alternative Rock": "rock", "Indie Rock": "rock",
    "Punk Rock": "rock", "Rock & Roll": "rock", "Rock and Roll": "rock",
    "Rap": "hiphop", "Hip Hop": "hiphop", "Gangsta Rap": "hiphop", "Trap": "hiphop",
    "Electronica": "electronic", "Electro": "electronic", "EDM": "electronic", "Techno": "electronic",
    "House": "electronic", "Trance": "electronic",
    "Classical Music": "classical", "Orchestral": "classical", "Baroque": "classical", "Opera": "classical",
    "Bebop": "jazz", "Swing": "jazz", "Smooth Jazz": "jazz", "Jazz Fusion": "jazz",
    "Delta Blues": "blues", "Chicago Blues": "blues",
    "Country Music": "country", "Bluegrass": "country",
    "Roots Reggae": "reggae", "Dancehall": "reggae", "Ska": "reggae", "Dub": "reggae",
    "Synthpop": "pop", "Dance Pop": "pop", "Nu Disco": "disco",
}


class VocabularyError(GenreDesktopError, ValueError):
    """The vocabulary file cannot be used; ``str(error)`` is one line for people."""


@dataclass
class Vocabulary:
    """The person's genre map.

    ``spellings``: label -> what is written into files (default :func:`tag_spelling`).
    ``aliases``: a name found in tags -> the label it means. ``whitelist``: labels that may
    be written (empty: all).
    """

    spellings: dict = field(default_factory=dict)
    aliases: dict = field(default_factory=lambda: dict(DEFAULT_ALIASES))
    whitelist: list = field(default_factory=list)

    def spell(self, label: str) -> str:
        """What ``label`` is written as."""
        return self.spellings.get(label) or tag_spelling(label)

    def allowed(self, label: str) -> bool:
        return not self.whitelist or genre_key(label) in {genre_key(w) for w in self.whitelist}

    @cached_property
    def _keys(self) -> dict:
        """name key -> label key, of the aliases and the spellings (built once; a changed
        vocabulary is a new object)."""
        own = {genre_key(alias): genre_key(label) for alias, label in self.aliases.items()}
        own.update({genre_key(text): genre_key(label) for label, text in self.spellings.items()})
        return own

    def key_of(self, name: str) -> str:
        """The label key a genre name (from a tag, or a spelling) is read as."""
        key = genre_key(name)
        return self._keys.get(key) or key

    def agrees(self, current: Iterable[str], label: Optional[str]) -> Optional[bool]:
        """Whether the genres a file has name ``label`` (read through the aliases); None
        when it has none, or there is no label."""
        names = normalise_genres(current)
        if not names or not label:
            return None
        want = genre_key(label)
        return any(self.key_of(name) == want for name in names)

    def has(self, current: Iterable[str], name: str) -> bool:
        """Whether ``name`` (a label or a spelling) is among ``current``'s genres."""
        want = self.key_of(name)
        return any(self.key_of(n) == want for n in normalise_genres(current))

    def to_json(self) -> dict:
        return {"version": VERSION, "spellings": dict(self.spellings), "aliases": dict(self.aliases),
                "whitelist": list(self.whitelist)}


def vocabulary_path() -> Path:
    return user_config_folder() / FILE_NAME


def _names(value, what: str) -> list[str]:
    if not isinstance(value, list) or len(value) > MAX_ENTRIES:
        raise VocabularyError(f"{what} must be a list of at most {MAX_ENTRIES:,} names")
    return [_name(v, what) for v in value]


def _name(value, what: str) -> str:
    if not isinstance(value, str):
        raise VocabularyError(f"{what} holds {type(value).__name__}, not a name")
    text = clean_label(value)
    if not text or len(text) > MAX_NAME:
        raise VocabularyError(f"{what} holds an empty name or one over {MAX_NAME} characters")
    return text


def _mapping(value, what: str) -> dict:
    if not isinstance(value, dict) or len(value) > MAX_ENTRIES:
        raise VocabularyError(f"{what} must be an object of at most {MAX_ENTRIES:,} names")
    return {_name(k, what): _name(v, what) for k, v in value.items()}


def from_json(data) -> Vocabulary:
    """A :class:`Vocabulary` from its JSON object (checked: names only, bounded)."""
    if not isinstance(data, dict):
        raise VocabularyError("not a vocabulary (a JSON object is expected)")
    version = data.get("version", VERSION)
    if not isinstance(version, int) or version > VERSION:
        raise VocabularyError(f"written by a newer version of the app (vocabulary version {version!r})")
    return Vocabulary(spellings=_mapping(data.get("spellings", {}), "spellings"),
                      aliases=_mapping(data.get("aliases", DEFAULT_ALIASES), "aliases"),
                      whitelist=_names(data.get("whitelist", []), "the whitelist"))


def load_vocabulary(path: os.PathLike | str | None = None) -> Vocabulary:
    """The person's vocabulary (the defaults when there is no file).

    Raises
    ------
    VocabularyError
        The file cannot be read, is not a regular file, too large, damaged or newer.
    """
    path = Path(path) if path is not None else vocabulary_path()
    if not os.path.lexists(path):
        return Vocabulary()
    try:
        with open_regular(path, MAX_BYTES) as handle:
            text = handle.read(MAX_BYTES + 1)
    except (NotRegularFile, FileTooLarge) as exc:
        raise VocabularyError(f"{path}: {exc}") from None
    except OSError as exc:
        raise VocabularyError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    try:
        data = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise VocabularyError(f"{path}: damaged (not JSON); the defaults are used until it is saved again") from None
    try:
        return from_json(data)
    except VocabularyError as exc:
        raise VocabularyError(f"{path}: {exc}") from None


def vocabulary_or_default(path: os.PathLike | str | None = None) -> tuple[Vocabulary, Optional[str]]:
    """(the vocabulary, None), or (the defaults, the one-line reason) when it cannot be used."""
    try:
        return load_vocabulary(path), None
    except VocabularyError as exc:
        log.warning("%s", exc)
        return Vocabulary(), str(exc)


def save_vocabulary(vocabulary: Vocabulary, path: os.PathLike | str | None = None) -> Path:
    """Write the vocabulary atomically (checked as it would be read back)."""
    path = Path(path) if path is not None else vocabulary_path()
    data = from_json(vocabulary.to_json()).to_json()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    return path
