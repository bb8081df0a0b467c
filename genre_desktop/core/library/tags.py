"""Read the tags of a person's music files: artist, title, album, genre(s), duration.

Three tag families cover the formats people keep: ID3 (mp3, wav, aiff: ``TCON``), Vorbis
comments (flac, ogg, opus: ``GENRE``) and MP4 atoms (m4a: ``©gen``); a WAV file's RIFF
``INFO`` list (``INAM``/``IART``/``IPRD``/``IGNR``) fills what its ID3 chunk lacks. Only
regular files are opened (a FIFO or a link to a device is refused in one line, never read),
with ``O_NONBLOCK`` so nothing can make the open wait. Writing a genre is
:mod:`.tag_write`; several genres in one value ("Rock; Pop", as ID3v2.3 must store them)
compare equal to the same genres as separate values (:func:`same_genres`).
"""
from __future__ import annotations

import io
import logging
import os
import struct
from dataclasses import dataclass, field
from typing import BinaryIO, Iterable, Optional

import mutagen
from mutagen.aiff import AIFF
from mutagen.apev2 import TEXT, APEv2
from mutagen.flac import FLAC
from mutagen.mp3 import MP3
from mutagen.mp4 import MP4
from mutagen.oggflac import OggFLAC
from mutagen.oggopus import OggOpus
from mutagen.oggspeex import OggSpeex
from mutagen.oggvorbis import OggVorbis
from mutagen.wave import WAVE

from genre_desktop.core import safe_files
from genre_desktop.core.digests import short_digest
from genre_desktop.core.engine.audio.decode import audio_info, iter_audio_blocks
from genre_desktop.core.errors import GenreDesktopError

log = logging.getLogger(__name__)

MULTI_VALUE_SEPARATOR = "; "  # how several genres share one value where a format needs it
_SPLIT_ON = (";", "\x00")  # what separates genres inside one value, whichever program wrote it
_ID3_TYPES = (MP3, WAVE, AIFF)
_VORBIS_TYPES = (FLAC, OggVorbis, OggOpus, OggFLAC, OggSpeex)
_ID3_FIELDS = {"artist": "TPE1", "title": "TIT2", "album": "TALB", "albumartist": "TPE2"}
_MP4_FIELDS = {"artist": "\xa9ART", "title": "\xa9nam", "album": "\xa9alb", "albumartist": "aART"}
_VORBIS_FIELDS = {"artist": "artist", "title": "title", "album": "album", "albumartist": "albumartist"}
_APE_FIELDS = {"artist": "Artist", "title": "Title", "album": "Album", "albumartist": "Album Artist"}
_TEXT_FIELDS = ("artist", "title", "album", "albumartist")
MP4_GENRE_KEYS = ("\xa9gen", "gnre")
_RIFF_INFO = {b"INAM": "title", b"IART": "artist", b"IPRD": "album", b"IGNR": "genre"}
_INFO_MAX = 64 * 1024  # bytes of a RIFF INFO list read at most
_INFO_CHUNKS_MAX = 256  # chunks looked at, at most, to find it


class TagError(GenreDesktopError):
    """A file's tags cannot be read or written; ``str(error)`` is one line for people."""


@dataclass
class FileTags:
    """What a file says about itself. Missing fields are None; ``genre`` may hold several."""

    artist: Optional[str] = None
    title: Optional[str] = None
    album: Optional[str] = None
    genre: list[str] = field(default_factory=list)
    albumartist: Optional[str] = None  # ID3 TPE2, Vorbis ALBUMARTIST, MP4 aART, APEv2 "Album Artist"
    duration: Optional[float] = None  # seconds, from the container
    family: Optional[str] = None  # "id3", "vorbis", "mp4", or None when it cannot hold tags


def normalise_genres(values: Iterable[str]) -> list[str]:
    """Genres as separate values, whatever form a format keeps them in: one value joined
    by ";" (ID3v2.3, some taggers) or NUL, or several values. Spaces are tidied."""
    out: list[str] = []
    for value in values or []:
        text = str(value)
        for sep in _SPLIT_ON[1:]:
            text = text.replace(sep, _SPLIT_ON[0])
        out.extend(" ".join(part.split()) for part in text.split(_SPLIT_ON[0]) if part.strip())
    return out


def same_genres(a: Iterable[str], b: Iterable[str]) -> bool:
    """Whether two genre tags say the same (the one comparison used by the review, the
    write's check, undo and recovery)."""
    return normalise_genres(a) == normalise_genres(b)


def open_regular(path: os.PathLike | str, writable: bool = False) -> BinaryIO:
    """:func:`safe_files.open_regular` (the one regular-file rule) with tag-writer errors.

    Raises
    ------
    TagError
        It is missing, unreadable, or not a regular file (a FIFO, a device, a folder).
    """
    try:
        return safe_files.open_regular(path, writable=writable)
    except safe_files.NotRegularFile as exc:
        raise TagError(f"{exc}; left alone") from None
    except OSError as exc:
        raise TagError(f"cannot be read ({exc.strerror or exc})") from None


def open_tags(path: os.PathLike | str):
    """mutagen's view of a regular file (None when it is no kind mutagen knows)."""
    with open_regular(path) as handle:
        return load_tags(handle)


def load_tags(handle: BinaryIO):
    """mutagen's view of an open file."""
    try:
        handle.seek(0)
        return mutagen.File(handle)
    except mutagen.MutagenError as exc:
        raise TagError(f"cannot read its tags ({' '.join(str(exc).split()) or type(exc).__name__})") from None
    except (OSError, ValueError, EOFError, IndexError, KeyError, TypeError, struct.error) as exc:
        raise TagError(f"cannot read its tags ({type(exc).__name__})") from None


def family_of(audio) -> Optional[str]:
    if isinstance(audio, _ID3_TYPES):
        return "id3"
    if isinstance(audio, _VORBIS_TYPES):
        return "vorbis"
    if isinstance(audio, MP4):
        return "mp4"
    return None


def _first(values) -> Optional[str]:
    for value in values or []:
        text = " ".join(str(value).split())
        if text:
            return text
    return None


def genres_of(audio, family: str) -> list[str]:
    """The genre values as the file stores them (several, or one joined)."""
    tags = audio.tags
    if tags is None:
        return []
    if family == "id3":
        frame = tags.get("TCON")
        values = frame.genres if frame is not None else []
    elif family == "vorbis":
        values = tags.get("genre", [])
    else:
        values = [v for key in MP4_GENRE_KEYS for v in tags.get(key, []) if isinstance(v, str)]
    return [" ".join(str(v).split()) for v in values if str(v).strip()]


def riff_info(handle: BinaryIO) -> dict:
    """A WAV file's RIFF ``INFO`` list as {"title", "artist", "album", "genre"} (bounded reads)."""
    handle.seek(0)
    head = handle.read(12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return {}
    out: dict = {}
    for _ in range(_INFO_CHUNKS_MAX):
        header = handle.read(8)
        if len(header) < 8:
            break
        kind, size = header[:4], struct.unpack("<I", header[4:])[0]
        if kind == b"LIST" and 4 <= size <= _INFO_MAX:
            body = handle.read(size)
            if body[:4] == b"INFO":
                pos = 4
                while pos + 8 <= len(body):
                    sub, length = body[pos:pos + 4], struct.unpack("<I", body[pos + 4:pos + 8])[0]
                    value = body[pos + 8:pos + 8 + length].split(b"\x00", 1)[0]
                    if sub in _RIFF_INFO and value.strip():
                        text = value.decode("utf-8", "replace") if _is_utf8(value) else value.decode("latin-1")
                        out[_RIFF_INFO[sub]] = " ".join(text.split())
                    pos += 8 + length + (length & 1)
            if size & 1:
                handle.seek(1, io.SEEK_CUR)
        else:
            handle.seek(size + (size & 1), io.SEEK_CUR)
    return out


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def read_tags(path: os.PathLike | str) -> FileTags:
    """Artist, title, album, genre(s) and duration of a file; empty for a file without tags.

    Raises
    ------
    TagError
        The file is not a regular file, or is damaged where mutagen reads it.
    """
    with open_regular(path) as handle:
        return tags_of(load_tags(handle), handle)


def tags_of(audio, handle: BinaryIO) -> FileTags:
    """:class:`FileTags` of a file mutagen loaded (``audio``, None for an unknown kind) from ``handle``."""
    info = riff_info(handle) if isinstance(audio, WAVE) else {}
    if audio is None:
        return FileTags()
    family = family_of(audio)
    duration = getattr(audio.info, "length", None)
    out = FileTags(duration=float(duration) if duration else None, family=family)
    tags = audio.tags
    if family is not None and tags is not None:
        for name in _TEXT_FIELDS:
            if family == "id3":
                frame = tags.get(_ID3_FIELDS[name])
                value = _first(frame.text) if frame is not None else None
            elif family == "vorbis":
                value = _first(tags.get(_VORBIS_FIELDS[name], []))
            else:
                value = _first(tags.get(_MP4_FIELDS[name], []))
            setattr(out, name, value)
        out.genre = genres_of(audio, family)
    elif isinstance(tags, APEv2):  # Monkey's Audio, WavPack, Musepack: read only (no genre written there)
        for name in _TEXT_FIELDS:
            item = tags.get(_APE_FIELDS[name])
            setattr(out, name, _first(item) if item is not None and getattr(item, "kind", None) == TEXT else None)
    for name in ("artist", "title", "album"):  # RIFF INFO fills what the ID3 chunk lacks
        if getattr(out, name) is None and info.get(name):
            setattr(out, name, info[name])
    if not out.genre and info.get("genre"):
        out.genre = [info["genre"]]
    return out


def new_audio_digest():
    """The hash object of :func:`audio_digest` (fed decoded samples; the library's fingerprint)."""
    return short_digest()


def audio_digest(path: os.PathLike | str, sample_rate: Optional[int] = None) -> str:
    """A digest of the decoded samples (mono float32, at ``sample_rate`` or the file's own
    rate): unchanged by tags or the file's name."""
    digest = new_audio_digest()
    for block in iter_audio_blocks(path, sample_rate or audio_info(path).sample_rate):
        digest.update(block.tobytes())
    return digest.hexdigest()
