"""Read the tags of a person's music files and write their genre without damaging them.

Three tag families cover the formats people keep: ID3 (mp3, wav, aiff: ``TCON``), Vorbis
comments (flac, ogg, opus: ``GENRE``) and MP4 atoms (m4a: ``©gen``). :func:`write_genre`
never edits the file in place: it writes a hidden copy next to it, re-reads the copy,
checks that the genre is what was asked, that every other tag is as it was and that the
audio decodes to exactly the same samples, and only then renames the copy over the file.
On any error the file is left as it was.
"""
from __future__ import annotations

import hashlib
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import mutagen
from mutagen.aiff import AIFF
from mutagen.flac import FLAC
from mutagen.id3 import ID3, TCON
from mutagen.mp3 import MP3
from mutagen.mp4 import MP4
from mutagen.oggflac import OggFLAC
from mutagen.oggopus import OggOpus
from mutagen.oggspeex import OggSpeex
from mutagen.oggvorbis import OggVorbis
from mutagen.wave import WAVE

from ..engine.audio_io import AudioDecodeError, audio_info, iter_audio_blocks
from ..engine.safe_files import fault_point, fsync_folder

log = logging.getLogger(__name__)

MULTI_VALUE_SEPARATOR = "; "  # how several genres share one value where a format needs it
TEMP_SUFFIX = ".genre-tmp"  # hidden copies are ".NAME.genre-tmp" beside the file
_ID3_TYPES = (MP3, WAVE, AIFF)
_VORBIS_TYPES = (FLAC, OggVorbis, OggOpus, OggFLAC, OggSpeex)
_ID3_FIELDS = {"artist": "TPE1", "title": "TIT2", "album": "TALB"}
_MP4_FIELDS = {"artist": "\xa9ART", "title": "\xa9nam", "album": "\xa9alb"}
_MP4_GENRE_KEYS = ("\xa9gen", "gnre")


class TagError(Exception):
    """A file's tags cannot be read or written; ``str(error)`` is one line for people."""


@dataclass
class FileTags:
    """What a file says about itself. Missing fields are None; ``genre`` may hold several."""

    artist: Optional[str] = None
    title: Optional[str] = None
    album: Optional[str] = None
    genre: list[str] = field(default_factory=list)
    duration: Optional[float] = None  # seconds, from the container
    family: Optional[str] = None  # "id3", "vorbis", "mp4", or None when it cannot hold tags


def _open(path: Path):
    try:
        audio = mutagen.File(os.fsencode(path) if os.name != "nt" else path)
    except mutagen.MutagenError as exc:
        raise TagError(f"cannot read its tags ({' '.join(str(exc).split()) or type(exc).__name__})") from None
    except (OSError, ValueError, EOFError, IndexError, KeyError, TypeError) as exc:
        raise TagError(f"cannot read its tags ({type(exc).__name__})") from None
    return audio


def _family(audio) -> Optional[str]:
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


def _genres(audio, family: str) -> list[str]:
    tags = audio.tags
    if tags is None:
        return []
    if family == "id3":
        frame = tags.get("TCON")
        values = frame.genres if frame is not None else []
    elif family == "vorbis":
        values = tags.get("genre", [])
    else:
        values = [v for key in _MP4_GENRE_KEYS for v in tags.get(key, []) if isinstance(v, str)]
    return [" ".join(str(v).split()) for v in values if str(v).strip()]


def read_tags(path: os.PathLike | str) -> FileTags:
    """Artist, title, album, genre(s) and duration of a file; empty for a file without tags.

    Raises
    ------
    TagError
        The file is damaged where mutagen reads it.
    """
    audio = _open(Path(path))
    if audio is None:
        return FileTags()
    family = _family(audio)
    duration = getattr(audio.info, "length", None)
    out = FileTags(duration=float(duration) if duration else None, family=family)
    tags = audio.tags
    if tags is None or family is None:
        return out
    for name in ("artist", "title", "album"):
        if family == "id3":
            frame = tags.get(_ID3_FIELDS[name])
            value = _first(frame.text) if frame is not None else None
        elif family == "vorbis":
            value = _first(tags.get(name, []))
        else:
            value = _first(tags.get(_MP4_FIELDS[name], []))
        setattr(out, name, value)
    out.genre = _genres(audio, family)
    return out


def _snapshot(audio, family: str) -> dict:
    """Every tag but the genre, comparable before and after a write."""
    tags = audio.tags
    if tags is None:
        return {}
    if family == "id3":
        return {key: repr(tags[key]) for key in tags.keys() if not key.startswith("TCON")}
    if family == "vorbis":
        out: dict = {}
        for key, value in tags:
            if key.lower() != "genre":
                out.setdefault(key.lower(), []).append(value)
        return out
    return {key: repr(value) for key, value in tags.items() if key not in _MP4_GENRE_KEYS}


def _set_genres(audio, family: str, genres: list[str]) -> None:
    if audio.tags is None:
        if not genres:
            return
        audio.add_tags()
    tags = audio.tags
    if family == "id3":
        tags.delall("TCON")
        if genres:
            tags.add(TCON(encoding=3, text=list(genres)))
    elif family == "vorbis":
        if "genre" in tags:
            del tags["genre"]
        if genres:
            tags["genre"] = list(genres)
    else:
        for key in _MP4_GENRE_KEYS:
            if key in tags:
                del tags[key]
        if genres:
            tags["\xa9gen"] = list(genres)


def _save(audio, family: str) -> None:
    if family == "id3":
        version = getattr(audio.tags, "version", (2, 4, 0)) if audio.tags is not None else (2, 4, 0)
        audio.save(v2_version=3 if version[1] == 3 else 4)
    else:
        audio.save()


def audio_digest(path: os.PathLike | str, sample_rate: Optional[int] = None) -> str:
    """A digest of the decoded samples (mono float32, at ``sample_rate`` or the file's own
    rate): unchanged by tags or the file's name."""
    digest = hashlib.blake2b(digest_size=16)
    for block in iter_audio_blocks(path, sample_rate or audio_info(path).sample_rate):
        digest.update(block.tobytes())
    return digest.hexdigest()


def temp_path(path: Path) -> Path:
    """The hidden copy a write goes through."""
    return path.with_name(f".{path.name}{TEMP_SUFFIX}")


def write_genre(path: os.PathLike | str, genres: list[str],
                audio_check: Optional[Callable[[Path], str]] = audio_digest) -> FileTags:
    """Set a file's genre tag to ``genres`` (several values where the format allows;
    an empty list removes the tag), keeping everything else exactly as it was.

    The write goes through a hidden copy beside the file (so it needs room for one copy):
    copy, write the tag, re-read it, compare every other tag and, with ``audio_check``
    (a function giving a digest of a file's audio), the decoded audio; then fsync and
    rename over the original. A symbolic link is followed (its target is written);
    a file with other hard links is refused, since replacing it would split the links.

    Returns
    -------
    FileTags
        The file's tags after the write.

    Raises
    ------
    TagError
        With a one-line reason; the file is as it was.
    """
    path = Path(path)
    if path.is_symlink():
        path = path.resolve()
    try:
        stat = path.stat()
    except OSError as exc:
        raise TagError(f"cannot be read ({exc.strerror or exc})") from None
    if stat.st_nlink > 1:
        raise TagError("has other hard links; writing would split them, so it was left alone")
    if not os.access(path.parent, os.W_OK) or not os.access(path, os.W_OK):
        raise TagError("is read-only (or its folder is)")
    audio = _open(path)
    family = _family(audio) if audio is not None else None
    if family is None:
        raise TagError("this kind of file cannot hold a genre tag")
    before = _snapshot(audio, family)
    genres = [" ".join(g.split()) for g in genres if g.strip()]
    if len(genres) > 1 and family == "id3" and audio.tags is not None and audio.tags.version[1] == 3:
        genres = [MULTI_VALUE_SEPARATOR.join(genres)]  # ID3v2.3 has no multiple values
    temp = temp_path(path)
    try:
        shutil.copy2(path, temp)
        copy = _open(temp)
        _set_genres(copy, family, genres)
        _save(copy, family)
        fault_point("tag-after-save")
        check = _open(temp)
        if _genres(check, family) != genres:
            raise TagError(f"the genre did not read back as written ({_genres(check, family)} != {genres})")
        if _snapshot(check, family) != before:
            raise TagError("another tag changed while writing the genre; the file was left alone")
        if audio_check is not None:
            try:
                same = audio_check(temp) == audio_check(path)
            except AudioDecodeError as exc:
                raise TagError(f"its audio could not be checked ({exc})") from None
            if not same:
                raise TagError("its audio would have changed; the file was left alone")
        with open(temp, "rb+") as handle:
            os.fsync(handle.fileno())
        fault_point("tag-before-rename")
        os.replace(temp, path)
        fsync_folder(path.parent)
    except TagError:
        temp.unlink(missing_ok=True)
        raise
    except mutagen.MutagenError as exc:
        temp.unlink(missing_ok=True)
        raise TagError(f"cannot write its tags ({' '.join(str(exc).split())})") from None
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise TagError(f"cannot be written ({exc.strerror or exc})") from None
    except Exception as exc:  # a mutagen bug on an odd file: the file stays as it was
        temp.unlink(missing_ok=True)
        log.exception("tag write failed for %s", path)
        raise TagError(f"cannot write its tags ({type(exc).__name__})") from None
    return read_tags(path)
