"""Fields beside the genre that the app may write on request: mood and grouping (styles,
decades, vocals), under the names Picard/MusicBrainz use per tag family, so players and
taggers read them where they expect them; never into GENRE.

| field | ID3 (mp3, wav, aiff) | Vorbis (flac, ogg, opus) | MP4 (m4a) |
| --- | --- | --- | --- |
| mood | ``TMOO`` | ``MOOD`` | ``----:com.apple.iTunes:MOOD`` |
| grouping | ``TIT1`` | ``GROUPING`` | ``©grp`` |

:func:`.tag_write.write_genre` with ``field="mood"`` (or ``"grouping"``) writes one of
them through the same verified copy as a genre (every other tag, the genre included,
compared before and after), and :mod:`.writing` journals and undoes it the same way.
"""
from __future__ import annotations

import os

from mutagen.id3 import TIT1, TMOO
from mutagen.mp4 import MP4FreeForm

from genre_desktop.core.errors import GenreDesktopError
from genre_desktop.core.library.tags import TagError, family_of, genres_of, load_tags, open_regular

GENRE = "genre"
FIELDS = {
    "mood": {"id3": "TMOO", "vorbis": "mood", "mp4": "----:com.apple.iTunes:MOOD"},
    "grouping": {"id3": "TIT1", "vorbis": "grouping", "mp4": "\xa9grp"},
}
_ID3_FRAMES = {"TMOO": TMOO, "TIT1": TIT1}


class UnknownTagField(GenreDesktopError, ValueError):
    """A tag field the app does not write (only genre, mood and grouping)."""


def check_field(field: str) -> str:
    if field != GENRE and field not in FIELDS:
        raise UnknownTagField(f"no such tag field {field!r} (genre, {', '.join(FIELDS)})")
    return field


def key_of(family: str, field: str) -> str:
    """The field's key in a tag family (ID3 frame id, lower-case Vorbis name, MP4 atom)."""
    return FIELDS[field][family]


def values_of(audio, family: str, field: str) -> list[str]:
    """The field's values as the file stores them (a genre through :func:`.tags.genres_of`)."""
    if field == GENRE:
        return genres_of(audio, family)
    tags = audio.tags
    if tags is None:
        return []
    key = key_of(family, field)
    if family == "id3":
        frame = tags.get(key)
        values = list(frame.text) if frame is not None else []
    elif family == "vorbis":
        values = tags.get(key, [])
    else:
        values = [bytes(v).decode("utf-8", "replace") if isinstance(v, (bytes, MP4FreeForm)) else str(v)
                  for v in tags.get(key, [])]
    return [" ".join(str(v).split()) for v in values if str(v).strip()]


def set_values(audio, family: str, field: str, values: list[str]) -> None:
    """Replace the field's values (none: remove it); not for the genre."""
    if audio.tags is None:
        if not values:
            return
        audio.add_tags()
    tags, key = audio.tags, key_of(family, field)
    if family == "id3":
        tags.delall(key)
        if values:
            tags.add(_ID3_FRAMES[key](encoding=3, text=list(values)))
    elif family == "vorbis":
        if key in tags:
            del tags[key]
        if values:
            tags[key] = list(values)
    else:
        if key in tags:
            del tags[key]
        if values:
            tags[key] = [MP4FreeForm(v.encode("utf-8")) for v in values] if key.startswith("----") else list(values)


def is_field_key(key: str, family: str, field: str) -> bool:
    """Whether a tag key (as :func:`.tag_write.snapshot` meets it) belongs to ``field``."""
    want = key_of(family, field)
    if family == "id3":
        return key.startswith(want)
    return key.lower() == want.lower() if family == "vorbis" else key == want


def read_field(path: os.PathLike | str, field: str) -> list[str]:
    """A file's values of ``field``.

    Raises
    ------
    TagError
        Not a regular file, damaged where mutagen reads it, or of a kind without tags.
    """
    with open_regular(path) as handle:
        audio = load_tags(handle)
    family = family_of(audio) if audio is not None else None
    if family is None:
        return []
    return values_of(audio, family, check_field(field))


__all__ = ["FIELDS", "GENRE", "TagError", "check_field", "is_field_key", "read_field", "set_values", "values_of"]
