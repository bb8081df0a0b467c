"""The review before a tag write: for each file, its genre tag now and what it would become.

:func:`propose` (a list) and :func:`iter_propose` (streamed from the database, album by
album with ``per_album``) say what each file's tag is and what it would become, and why
not when it would not change; :func:`review_order` lists disagreements first. The
person's :class:`.vocabulary.Vocabulary` says how labels are written and which names in
existing tags mean which label (so "Heavy Metal" agrees with ``metal``); with
``per_album`` every music track of an album of at least :data:`.albums.MIN_ALBUM_TRACKS`
analysed tracks gets the album's genre (:mod:`.albums`), and ``add`` puts the proposed
genre beside those a file has instead of replacing them. Writing is :mod:`.writing`.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Iterable, Iterator, Optional

from genre_desktop.core.engine.classify.verdicts import WORDS as VERDICT_WORDS
from genre_desktop.core.library.albums import (MIN_ALBUM_TRACKS, MUSIC_VERDICTS, AlbumModel, album_index, album_of_files, albums,
                     load_album, own_genre)
from genre_desktop.core.library.database import LibraryDatabase
from genre_desktop.core.library.tags import normalise_genres, same_genres
from genre_desktop.core.library.vocabulary import Vocabulary

log = logging.getLogger(__name__)

MIN_SHARE = 0.15  # a genre beyond the first is written only with at least this probability
ACTIONS = ("write", "same", "keep", "skip", "stale", "missing")


@dataclass
class TagOptions:
    """What to write.

    ``top_k``: how many genres (the first always; the others only with ≥ 15 %).
    ``separator``: None writes several genres as several values where the format allows
    (ID3v2.4, Vorbis, MP4); a text (``"; "``) joins them into one value.
    ``verdicts``: the verdicts that get a tag ("genre": confident only; add "unsure" for
    best guesses). ``overwrite``: replace a genre the file already has. ``add``: keep the
    genres a file has and add the proposed ones not among them. ``per_album``: one genre
    per album (albums of at least ``MIN_ALBUM_TRACKS`` analysed tracks; the others are
    exceptions, tagged track by track).
    """

    top_k: int = 1
    separator: Optional[str] = None
    verdicts: tuple = ("genre",)
    overwrite: bool = False
    add: bool = False
    per_album: bool = False


@dataclass
class Proposal:
    """One file's review line. ``action`` is one of :data:`ACTIONS`."""

    file_id: int
    path: str
    current: list
    proposed: list
    verdict: Optional[str]
    confidence: Optional[float]
    action: str
    why: str = ""
    agrees: Optional[bool] = None  # the genre tag it has names the proposed genre (None: no tag, no proposal)
    label: Optional[str] = None  # the proposed label (the album's with per_album)
    album_genre: Optional[str] = None  # its album's genre, when its album voted
    own: Optional[str] = None  # the track's own genre, when it is not its album's (an exception)


def proposed_genres(top: list, options: TagOptions, vocabulary: Optional[Vocabulary] = None) -> list[str]:
    """The genre values to write from a result's top list ``[[label, p], ...]`` (spelled
    by the vocabulary; labels outside its whitelist left out)."""
    vocabulary = vocabulary or Vocabulary(aliases={})
    chosen = [vocabulary.spell(label) for i, (label, p) in enumerate(top[:max(1, options.top_k)])
              if (i == 0 or p >= MIN_SHARE) and vocabulary.allowed(label)]
    if options.separator is not None and len(chosen) > 1:
        return [options.separator.join(chosen)]
    return chosen


def propose(db: LibraryDatabase, model_key: str, options: TagOptions,
            paths: Optional[Iterable[str]] = None, check_files: bool = True,
            vocabulary: Optional[Vocabulary] = None, album_model: Optional[AlbumModel] = None,
            rows: Optional[list] = None) -> list[Proposal]:
    """Review lines for every file of the library (or those of ``paths``).

    ``check_files`` looks at each file (gone? changed since its scan?); without it the
    lines come from the database alone (a quick preview; :func:`apply` checks anyway).
    ``vocabulary``: spellings, aliases and whitelist (default: the built-in ones).
    ``album_model``: the model's labels, hedges and calibration for ``per_album``.
    ``rows``: review these rows (with their albums' other tracks, for ``per_album``)
    instead of reading the whole library (the Library table's page on screen).
    """
    vocabulary = vocabulary or Vocabulary()
    wanted = {os.path.abspath(p) for p in paths} if paths is not None else None
    rows = db.rows(model_key) if rows is None else rows
    by_file = album_of_files(albums(db, model_key, album_model, rows)) if options.per_album else {}
    return [_proposal(row, by_file.get(row.id), options, vocabulary, check_files) for row in rows
            if wanted is None or os.path.abspath(row.path) in wanted]


def iter_propose(db: LibraryDatabase, model_key: str, options: TagOptions,
                 paths: Optional[Iterable[str]] = None, check_files: bool = True,
                 vocabulary: Optional[Vocabulary] = None,
                 album_model: Optional[AlbumModel] = None) -> Iterator[Proposal]:
    """:func:`propose`'s lines one at a time, rows streamed from the database (memory flat
    in the number of files; ``write-tags --dry-run``): by path, or with ``per_album``
    album by album (each album's rows read and voted when its turn comes)."""
    vocabulary = vocabulary or Vocabulary()
    wanted = {os.path.abspath(p) for p in paths} if paths is not None else None
    if not options.per_album:
        for row in db.iter_rows(model_key):
            if wanted is None or os.path.abspath(row.path) in wanted:
                yield _proposal(row, None, options, vocabulary, check_files)
        return
    for album in album_index(db, model_key):
        load_album(db, model_key, album, album_model)
        tracks, album.tracks = album.tracks, []  # the index keeps ids only: memory one album at a time
        for row in tracks:
            if wanted is None or os.path.abspath(row.path) in wanted:
                yield _proposal(row, album, options, vocabulary, check_files)


def _proposal(row, album, options: TagOptions, vocabulary: Vocabulary, check_files: bool) -> Proposal:
    """One file's review line (``album``: its voted album, or None)."""
    line = Proposal(row.id, row.path, list(row.genre_tag), [], row.verdict, row.confidence, "skip")
    line.album_genre = album.genre if album is not None else None
    top = None
    if _album_decides(album, row, options):
        top, line.why = album.top, f"the album's genre ({album.analysed} tracks)"
        line.own = own_genre(row) if own_genre(row) != album.genre else None
    elif row.verdict is None:
        line.why = row.error or "not analysed by this model"
    elif row.verdict not in options.verdicts:
        line.why = VERDICT_WORDS.get(row.verdict, row.verdict)
    else:
        top = row.top or [[row.genre, 1.0]]
        if album is not None and row.verdict in MUSIC_VERDICTS:
            line.why = _exception_why(album, options)
    if top:
        _judge(line, row, top, options, vocabulary, check_files)
    return line


def _album_decides(album, row, options: TagOptions) -> bool:
    """Whether ``row`` takes its album's genre (per_album, a music track, an album tag,
    enough analysed tracks, an album verdict the options write). A folder of tracks without
    an album tag is grouped for the album view but never made one genre: it is as often a
    folder of loose singles as an album."""
    return (album is not None and row.verdict in MUSIC_VERDICTS and album.genre is not None and bool(album.album)
            and album.analysed >= MIN_ALBUM_TRACKS and album.verdict in options.verdicts)


def _exception_why(album, options: TagOptions) -> str:
    """Why a track of an album is tagged on its own (an exception to one genre per album)."""
    if not album.album:
        return "album exception: no album tag (a folder of loose tracks)"
    if album.analysed < MIN_ALBUM_TRACKS:
        return f"album exception: its album has {album.analysed} analysed track{'s' if album.analysed != 1 else ''}"
    return f"album exception: its album is {VERDICT_WORDS.get(album.verdict or '', 'not voted')}"


def _judge(line: Proposal, row, top: list, options: TagOptions, vocabulary: Vocabulary, check_files: bool) -> None:
    """Fill a line's proposal and action from the genres ``top`` to write."""
    line.label = top[0][0]
    line.proposed = proposed_genres(top, options, vocabulary)
    line.agrees = vocabulary.agrees(line.current, line.label)
    note = f"; {line.why}" if line.why else ""
    if not line.proposed:
        line.why = f"{vocabulary.spell(line.label)} is not in your whitelist{note}"
        return
    try:
        stat = os.stat(row.path) if check_files else None
    except OSError:
        line.action, line.why = "missing", "the file is gone"
        return
    if stat is not None and (stat.st_size, stat.st_mtime_ns) != (row.size, row.mtime_ns):
        line.action, line.why = "stale", "changed since it was analysed: scan again"
    elif same_genres(line.current, line.proposed):
        line.action, line.why = "same", "already tagged so" + note
    elif options.add and line.current:
        have = normalise_genres(line.current)
        extra = [g for g in normalise_genres(line.proposed) if not vocabulary.has(have, g)]
        if not extra:
            line.action, line.why = "same", "already has it" + note
        else:
            merged = have + extra
            line.proposed = [options.separator.join(merged)] if options.separator is not None else merged
            line.action, line.why = "write", "added to the genres it has" + note
    elif line.current and not options.overwrite:
        line.action = "keep"
        line.why = ("your tag agrees" if line.agrees else "has a genre already (allow overwriting or adding)") + note
    else:
        line.action = "write"


def review_order(lines: Iterable[Proposal]) -> list[Proposal]:
    """Lines as the review lists them: tags that disagree with the proposal first, then
    album exceptions (tracks whose own genre is not their album's), then files to write,
    then the rest (stable within each)."""
    def rank(line: Proposal) -> int:
        if line.agrees is False:
            return 0
        if line.own is not None:
            return 1
        return 2 if line.action == "write" else 3
    return sorted(lines, key=rank)
