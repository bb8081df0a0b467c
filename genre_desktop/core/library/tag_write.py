"""Write a file's genre without damaging it.

:func:`write_genre` never edits the file in place: it copies it (through
:class:`.tag_file_copy.TempCopy`: a private, unpredictable name beside it), checks the
copy's audio against what the library analysed, writes the genre into the copy (ID3 and,
in an MP3, an APEv2 tag too, so players show one genre), re-reads it, checks that the
genre is what was asked, that every other tag is as it was (compared by digests, so a
200 MB cover costs one hash, not a text dump) and that the audio decodes to exactly the
same samples; it keeps what undo needs to put the original back byte for byte
(:mod:`.tag_bytes`), and only then renames the copy over the file. On any error the file
is left as it was.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import mutagen
from mutagen.apev2 import APETextValue, APEv2, error as APEError
from mutagen.id3 import TCON
from mutagen.mp3 import MP3

from genre_desktop.core.digests import short_digest
from genre_desktop.core.engine.audio.decode import AudioDecodeError
from genre_desktop.core.safe_files import fault_point
from genre_desktop.core.library.tag_bytes import record_changes
from genre_desktop.core.library.tag_fields import check_field, is_field_key, set_values, values_of
from genre_desktop.core.library.tag_file_copy import TempCopy, check_unlocked, check_writable
from genre_desktop.core.library.tags import (MP4_GENRE_KEYS, MULTI_VALUE_SEPARATOR, FileTags, TagError, audio_digest, family_of,
                   load_tags, normalise_genres, open_regular, tags_of)

log = logging.getLogger(__name__)

Keep = Callable[[dict, bytes], None]


def _feed(digest, value) -> None:
    """Feed a tag value into a digest: bytes as they are, containers item by item."""
    if isinstance(value, (bytes, bytearray)):
        digest.update(b"B%d:" % len(value))
        digest.update(value)
    elif isinstance(value, str):
        data = value.encode("utf-8", "surrogatepass")
        digest.update(b"S%d:" % len(data))
        digest.update(data)
    elif isinstance(value, (list, tuple)):
        digest.update(b"L%d[" % len(value))
        for item in value:
            _feed(digest, item)
        digest.update(b"]")
    elif isinstance(value, dict):
        _feed(digest, sorted(value.items(), key=lambda kv: str(kv[0])))
    elif isinstance(value, (int, float, type(None))):
        digest.update(repr(value).encode())
    else:
        try:
            fields = vars(value)  # an ID3 frame, an MP4 cover: its attributes one by one
        except TypeError:
            fields = None
        digest.update(type(value).__name__.encode())
        if fields:
            _feed(digest, fields)
        else:
            digest.update(repr(value).encode("utf-8", "backslashreplace"))


def _hash(value) -> str:
    digest = short_digest()
    _feed(digest, value)
    return digest.hexdigest()


def snapshot(audio, family: str, field: str = "genre") -> dict:
    """Every tag but ``field`` (the genre, or a :mod:`.tag_fields` field), as digests
    comparable before and after a write."""
    def written(key: str) -> bool:  # a key of the field being written
        if field != "genre":
            return is_field_key(key, family, field)
        if family == "id3":
            return key.startswith("TCON")
        return key.lower() == "genre" if family == "vorbis" else key in MP4_GENRE_KEYS

    out: dict = {}
    pictures = getattr(audio, "pictures", None)
    if pictures:
        out["pictures"] = [_hash((p.type, p.mime, p.desc, p.data)) for p in pictures]
    tags = audio.tags
    if tags is None:
        return out
    if family == "vorbis":
        for key, value in tags:
            if not written(key):
                out.setdefault(key.lower(), []).append(_hash(value))
    else:
        out.update({key: _hash(tags[key]) for key in tags.keys() if not written(key)})
    return out


def _ape(handle) -> Optional[APEv2]:
    try:
        handle.seek(0)
        return APEv2(handle)
    except (APEError, mutagen.MutagenError):
        return None


def _ape_other(ape: Optional[APEv2]) -> dict:
    if ape is None:
        return {}
    return {key.lower(): _hash((type(value).__name__, value.value)) for key, value in ape.items()
            if key.lower() != "genre"}


def _ape_genres(ape: Optional[APEv2]) -> list[str]:
    if ape is None:
        return []
    values: list[str] = []
    for key, value in ape.items():
        if key.lower() == "genre" and isinstance(value, APETextValue):
            values.extend(value)
    return normalise_genres(values)


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
        for key in MP4_GENRE_KEYS:
            if key in tags:
                del tags[key]
        if genres:
            tags["\xa9gen"] = list(genres)


def _save(audio, family: str, handle) -> None:
    handle.seek(0)
    if family == "id3":
        version = getattr(audio.tags, "version", (2, 4, 0)) if audio.tags is not None else (2, 4, 0)
        audio.save(handle, v2_version=3 if version[1] == 3 else 4)
    else:
        audio.save(handle)
    handle.flush()


def _set_ape_genres(handle, genres: list[str]) -> None:
    ape = _ape(handle)
    if ape is None:
        return
    for key in [k for k in ape.keys() if k.lower() == "genre"]:
        del ape[key]
    if genres:
        ape["Genre"] = list(genres)
    handle.seek(0)
    ape.save(handle)
    handle.flush()


def write_genre(path: os.PathLike | str, genres: list[str],
                audio_check: Optional[Callable[[Path], str]] = audio_digest, *,
                expect_audio: Optional[str] = None, named: Optional[Callable[[Path], None]] = None,
                keep: Optional[Keep] = None, field: str = "genre") -> FileTags:
    """Set a file's genre tag to ``genres`` (several values where the format allows;
    an empty list removes the tag), keeping everything else exactly as it was.

    Parameters
    ----------
    audio_check
        A digest of a file's audio; the copy's must be the same before and after the write.
    expect_audio
        What ``audio_check`` gave when the library analysed the file: a file whose audio
        differs now (replaced, with its size and time kept) is refused.
    named
        Told the private copy's path before it is created (for a journal).
    keep
        Given ``(facts, original bytes)`` (:func:`.tag_bytes.record_changes`) just before
        the rename, to store for an exact undo.
    field
        ``"genre"``, or a field of :mod:`.tag_fields` (``"mood"``, ``"grouping"``) to write
        ``genres`` into instead, the genre then kept as every other tag.

    A symbolic link is followed (its target is written); a file with other hard links, a
    read-only one (for root too) and one another program holds a lock on are refused.

    Raises
    ------
    TagError
        With a one-line reason; the file is as it was.
    """
    path = _writable_target(Path(path))
    with open_regular(path, writable=True) as original:
        st = os.fstat(original.fileno())
        check_unlocked(original)
        try:
            request = _Request(list(genres), audio_check, expect_audio, named, keep, check_field(field))
            return _write_through_copy(path, original, st, request)
        except TagError:
            raise
        except mutagen.MutagenError as exc:
            raise TagError(f"cannot write its tags ({' '.join(str(exc).split())})") from None
        except OSError as exc:
            raise TagError(f"cannot be written ({exc.strerror or exc})") from None
        except Exception as exc:  # a mutagen bug on an odd file: the file stays as it was
            log.exception("tag write failed for %s", path)
            raise TagError(f"cannot write its tags ({type(exc).__name__})") from None


@dataclass(frozen=True)
class _Request:
    """What :func:`write_genre` was asked (its parameters, the field checked)."""

    genres: list
    audio_check: Optional[Callable[[Path], str]]
    expect_audio: Optional[str]
    named: Optional[Callable[[Path], None]]
    keep: Optional[Keep]
    field: str


def _writable_target(path: Path) -> Path:
    """The file a write goes to (a link's target), refused early when it cannot be written."""
    if path.is_symlink():
        path = path.resolve()
    try:
        check_writable(path, os.stat(path))
    except FileNotFoundError:
        raise TagError("cannot be read (it is gone)") from None
    except OSError as exc:
        raise TagError(f"cannot be read ({exc.strerror or exc})") from None
    return path


def _values_to_write(audio, family: str, genres: list[str]) -> list[str]:
    """The values as they will be stored: spaces folded, empty ones dropped, and joined into
    one for ID3v2.3 (which has no multiple values)."""
    genres = [" ".join(g.split()) for g in genres if g.strip()]
    if len(genres) > 1 and family == "id3" and audio.tags is not None and audio.tags.version[1] == 3:
        genres = [MULTI_VALUE_SEPARATOR.join(genres)]
    return genres


def _audio_of(temp: Path, audio_check: Optional[Callable[[Path], str]]) -> Optional[str]:
    """``audio_check`` of the copy (None without one); a decode error is a :class:`TagError`."""
    if audio_check is None:
        return None
    try:
        return audio_check(temp)
    except AudioDecodeError as exc:
        raise TagError(f"its audio could not be checked ({exc})") from None


def _set_field(audio, family: str, handle, genres: list[str], field: str, ape_before) -> None:
    """Set the field on the loaded tags and save them into the copy (and its APEv2 tag)."""
    if field == "genre":
        _set_genres(audio, family, genres)  # the copy holds the same bytes as the file this was loaded from
    else:
        set_values(audio, family, field, genres)
    _save(audio, family, handle)
    if ape_before is not None:
        _set_ape_genres(handle, normalise_genres(genres))


def _check_written(copy: TempCopy, request: _Request, family: str, genres: list[str], before: dict, ape_before,
                   audio_before: Optional[str]):
    """Re-read the copy: the field as asked, every other tag (and the APEv2 tag) as it was,
    the same audio. Returns the re-read tags; raises :class:`TagError` otherwise."""
    field, audio_check = request.field, request.audio_check
    check = load_tags(copy.handle)
    if values_of(check, family, field) != genres:
        raise TagError(f"the {field} did not read back as written ({values_of(check, family, field)} != {genres})")
    if snapshot(check, family, field) != before:
        raise TagError(f"another tag changed while writing the {field}; the file was left alone")
    if ape_before is not None:
        ape_after = _ape(copy.handle)
        if _ape_other(ape_after) != _ape_other(ape_before) or _ape_genres(ape_after) != normalise_genres(genres):
            raise TagError("its APEv2 tag did not read back as written; the file was left alone")
    if audio_check is not None and _audio_of(copy.temp, audio_check) != audio_before:
        raise TagError("its audio would have changed; the file was left alone")
    return check


def _write_through_copy(path: Path, original, st, request: _Request) -> FileTags:
    """The write; returns the tags of what replaced the file (the copy, as re-read)."""
    audio = load_tags(original)
    family = family_of(audio) if audio is not None else None
    if family is None:
        raise TagError("this kind of file cannot hold a genre tag")
    field = request.field
    before = snapshot(audio, family, field)
    genres = _values_to_write(audio, family, request.genres)
    with TempCopy(path, request.named) as copy:
        copy.fill_from(original)
        ape_before = _ape(copy.handle) if isinstance(audio, MP3) and field == "genre" else None
        audio_before = _audio_of(copy.temp, request.audio_check)
        if request.expect_audio is not None and audio_before is not None and audio_before != request.expect_audio:
            raise TagError("changed since it was analysed (its audio is different now): scan again")
        _set_field(audio, family, copy.handle, genres, field, ape_before)
        fault_point("tag-after-save")
        check = _check_written(copy, request, family, genres, before, ape_before, audio_before)
        copy.keep_owner_and_mode(st, original)
        if request.keep is not None:
            request.keep(*record_changes(original, copy.handle, st))
        fault_point("tag-before-rename")
        result = tags_of(check, copy.handle)
        copy.replace(original, st)
    return result
