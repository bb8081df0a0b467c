"""Genre tags into a person's files: review first, journal every write, undo any batch.

:func:`propose` says, for each file, what its genre tag is and what it would become (and
why not, when it would not change). :func:`apply` writes the chosen proposals, each one
journalled in the library database *before* the file is touched (with the previous value)
and marked done after; :func:`undo` puts a batch's previous values back; :func:`recover`
settles writes a crash interrupted (only when their writer is dead). A file is written
only through :func:`.tag_write.write_genre` (a verified private copy renamed over it), by
one writer per library at a time (:func:`.writer_lock.writer_lock`). Genre lists are
compared with :func:`.tags.same_genres` ("Rock; Pop" in an ID3v2.3 file is ["Rock", "Pop"]).

The person's :class:`.vocabulary.Vocabulary` says how labels are written and which names
in existing tags mean which label (so "Heavy Metal" agrees with ``metal``); with
``per_album`` every music track of an album of at least :data:`.albums.MIN_ALBUM_TRACKS`
analysed tracks gets the album's genre (:mod:`.albums`), and ``add`` puts the proposed
genre beside those a file has instead of replacing them.
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Optional

from ..engine.safe_files import fault_point
from ..engine.verdict import VERDICT_WORDS
from ..engine.tasks import ProgressCallback, StopCallback, check_stop, no_progress
from .albums import (MIN_ALBUM_TRACKS, MUSIC_VERDICTS, AlbumModel, album_index, album_of_files, albums,
                     load_album, own_genre)
from .analyse import audio_fingerprint
from .database import LibraryDatabase, path_text
from .tag_bytes import restore_bytes
from .tag_fields import GENRE, read_field
from .tag_file_copy import TEMP_SUFFIX, is_temp_name, remove_temp
from .tag_write import write_genre
from .tags import TagError, audio_digest, normalise_genres, same_genres
from .vocabulary import Vocabulary
from .writer_lock import WriterBusy, undo_store, writer_lock

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


@dataclass
class WriteSummary:
    batch_id: Optional[int] = None
    written: int = 0
    unchanged: int = 0
    failed: list = field(default_factory=list)  # (path, reason)
    cancelled: bool = False


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
    """Whether ``row`` takes its album's genre (per_album, a music track, an album of
    enough analysed tracks whose verdict is one the options write)."""
    return (album is not None and row.verdict in MUSIC_VERDICTS and album.genre is not None
            and album.analysed >= MIN_ALBUM_TRACKS and album.verdict in options.verdicts)


def _exception_why(album, options: TagOptions) -> str:
    """Why a track of an album is tagged on its own (an exception to one genre per album)."""
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


def _write_one(db: LibraryDatabase, batch_id: int, file_id: Optional[int], path: str, new: list[str],
               expect_current: Optional[list] = None, fingerprint: Optional[str] = None,
               restore_of: Optional[int] = None, tag_field: str = GENRE) -> Optional[str]:
    """Journal, write, mark; returns None when written, else the reason.

    ``fingerprint``: the library's fingerprint of the file's audio (refused when it differs
    now). ``restore_of``: the journal entry being undone (its kept original bytes are put
    back when the file is still exactly as that write left it). ``tag_field``: the genre,
    or a field of :mod:`.tag_fields` (mood, grouping; the batch's options name it)."""
    try:
        current = read_field(path, tag_field)
    except TagError as exc:
        return str(exc)
    if expect_current is not None and not same_genres(current, expect_current):
        return f"its {tag_field} changed since ({'; '.join(current) or 'none'}); left alone"
    entry = db.journal_write(batch_id, file_id, path, current, new)

    def named(temp: Path) -> None:  # recorded before the copy exists: recovery finds exactly it
        db.mark_write(entry, "pending", json.dumps({"temp": temp.name, "pid": os.getpid()}))

    try:
        if restore_of is not None:
            after = _put_back(db, restore_of, path, new, named, tag_field)
        else:
            check, expect = audio_check_for(fingerprint)
            write_genre(path, new, check, expect_audio=expect, named=named,
                        keep=lambda facts, blob: undo_store(db).keep(entry, facts, blob), field=tag_field)
            after = read_field(path, tag_field)
    except TagError as exc:
        db.mark_write(entry, "failed", str(exc))
        undo_store(db).drop(entry)
        return str(exc)
    fault_point("tag-after-rename")
    _mark_done(db, entry, file_id, path, after, tag_field=tag_field)
    return None


def audio_check_for(fingerprint: Optional[str]):
    """(audio digest function, expected value) for a file with this library fingerprint
    (``"RATE:DIGEST"``); the plain digest and nothing expected when there is none."""
    rate, _, digest = (fingerprint or "").partition(":")
    if not rate.isdigit() or not digest:
        return audio_digest, None
    return (lambda p: audio_fingerprint(p, int(rate))), fingerprint


def _put_back(db: LibraryDatabase, entry_id: int, path: str, previous: list, named, tag_field: str = GENRE) -> list:
    """Undo one write: byte for byte (with its modification time) where its original bytes
    were kept and the file is exactly as written; else the previous genre values (and the
    file keeps any other change made since, with the time of this undo)."""
    store = undo_store(db)
    facts, blob = store.load(entry_id)
    if facts is not None and facts.get("regions"):
        try:
            restore_bytes(Path(path), facts, blob, named)
            genre = read_field(path, tag_field)
            if same_genres(genre, previous):
                return genre
            log.warning("%s: the restored bytes do not hold the previous genre; writing it", path)
        except TagError as exc:
            log.info("%s: not restored byte for byte (%s); restoring its genre", path, exc)
    # the file changed in other ways since (or nothing was kept): its time stays "now"
    write_genre(path, previous, named=named, field=tag_field)
    return read_field(path, tag_field)


def apply(db: LibraryDatabase, proposals: Iterable[Proposal], model_key: Optional[str], options: TagOptions,
          progress: ProgressCallback = no_progress, should_stop: Optional[StopCallback] = None) -> WriteSummary:
    """Write the proposals whose action is "write", as one undoable batch.

    Raises
    ------
    WriterBusy
        Another write or undo of this library is running.
    """
    todo = [p for p in proposals if p.action == "write"]
    with writer_lock(db):
        settle(db)
        summary = WriteSummary(batch_id=db.start_tag_batch(model_key, asdict(options)))
        for i, line in enumerate(todo):
            if should_stop is not None and should_stop():
                summary.cancelled = True
                break
            progress(i / max(len(todo), 1), f"Writing {i + 1:,} of {len(todo):,}: {Path(line.path).name}")
            row = db.file_by_id(line.file_id)
            try:
                stat = os.stat(line.path)
            except OSError as exc:
                summary.failed.append((line.path, f"cannot be read ({exc.strerror or exc})"))
                continue
            if row is None or (stat.st_size, stat.st_mtime_ns) != (row["size"], row["mtime_ns"]):
                summary.failed.append((line.path, "changed since it was analysed: scan again"))
                continue
            reason = _write_one(db, summary.batch_id, line.file_id, line.path, line.proposed,
                                None if options.overwrite else line.current, fingerprint=row["fingerprint"])
            if reason is None:
                summary.written += 1
            else:
                summary.failed.append((line.path, reason))
    progress(1.0, f"{summary.written:,} files tagged, {len(summary.failed):,} failed")
    return summary


def undoable_batches(db: LibraryDatabase) -> list:
    """Batches of writes that can be undone (wrote something, not undone, not an undo),
    newest first."""
    return [b for b in db.tag_batches() if b["undone_by"] is None and b["undo_of"] is None and b["written"]]


def _mark_done(db: LibraryDatabase, entry_id: int, file_id: Optional[int], path, genre: list,
               message: Optional[str] = None, tag_field: str = GENRE) -> None:
    """A journalled write happened: the file's row follows it (size, time, genre tag)."""
    stat = os.stat(path)
    with db.transaction():
        if file_id is not None:
            if tag_field != GENRE:  # the genre column stays as it was
                found = db.file_by_id(file_id)
                genre = json.loads(found["genre_tag"] or "[]") if found is not None else []
            db.update_after_write(file_id, stat.st_size, stat.st_mtime_ns, genre)
        db.mark_write(entry_id, "done", message)


def undo(db: LibraryDatabase, batch_id: Optional[int] = None, progress: ProgressCallback = no_progress,
         should_stop: Optional[StopCallback] = None) -> WriteSummary:
    """Put back what a batch replaced (the newest batch not undone by default): the file's
    original bytes and modification time where they were kept, else its previous genre.

    A file whose genre changed after the batch wrote it (by a person, another program or a
    later batch), or that cannot be reached now, is left alone and reported; the batch
    counts as undone only when every file of it is, and undoing it again retries the rest.

    Raises
    ------
    WriterBusy
        Another write or undo of this library is running (a batch still being written
        cannot be undone).
    ValueError
        Nothing to undo, no such batch, or undone already.
    """
    with writer_lock(db):
        settle(db)
        if batch_id is None:
            candidates = undoable_batches(db)
            if not candidates:
                raise ValueError("no tag writes to undo")
            batch_id = candidates[0]["id"]
        batch = db.tag_batch(batch_id)
        if batch is None:
            raise ValueError(f"no batch of tag writes numbered {batch_id}")
        if batch["undone_by"] is not None:
            raise ValueError(f"batch {batch_id} was undone already (by batch {batch['undone_by']})")
        if batch["undo_of"] is not None:
            raise ValueError(f"batch {batch_id} is itself an undo (of batch {batch['undo_of']})")
        entries = [e for e in db.journal(batch_id) if e["state"] == "done"]
        tag_field = batch_field(batch)
        summary = WriteSummary(batch_id=db.start_tag_batch(batch["model_key"], {"undo": batch_id, "field": tag_field},
                                                           undo_of=batch_id))
        for i, entry in enumerate(reversed(entries)):
            check_stop(should_stop)
            row = db.file_by_id(entry["file_id"]) if entry["file_id"] is not None else None
            path = path_text(row["path"]) if row is not None else path_text(entry["path"])
            progress(i / max(len(entries), 1), f"Undoing {i + 1:,} of {len(entries):,}: {Path(path).name}")
            previous, written = json.loads(entry["previous"]), json.loads(entry["new"])
            reason = _write_one(db, summary.batch_id, entry["file_id"], path, previous, expect_current=written,
                                restore_of=entry["id"], tag_field=tag_field)
            if reason is None:
                summary.written += 1
                db.mark_write(entry["id"], "undone")
                undo_store(db).drop(entry["id"])
            else:
                summary.failed.append((path, reason))
        if not any(e["state"] == "done" for e in db.journal(batch_id)):
            db.mark_undone(batch_id, summary.batch_id)
    left = f", {len(summary.failed):,} left alone (undo batch {batch_id} again to retry them)" if summary.failed else ""
    progress(1.0, f"{summary.written:,} files put back{left}")
    return summary


def recover(db: LibraryDatabase) -> list[str]:
    """Settle writes a crash interrupted (at start-up), unless a writer is running: its
    entries are its own. Returns one line per settled write."""
    try:
        with writer_lock(db):
            return settle(db)
    except WriterBusy as exc:
        log.info("interrupted tag writes not settled now: %s", exc)
        return []


def settle(db: LibraryDatabase) -> list[str]:
    """Settle pending journal entries; call it holding :func:`writer_lock` (their writer is
    dead). A write is done when the file holds the new genre, failed when it does not;
    the private copy the journal names goes."""
    lines = []
    for entry in db.pending_writes():
        path = Path(path_text(entry["path"]))
        temp = _recorded_temp(entry)
        if temp is None and entry["message"] is None:
            temp = f".{path.name}{TEMP_SUFFIX}"  # the one fixed name versions before 2026-12 used
        if temp:
            remove_temp(path.parent / temp)
        tag_field = batch_field(db.tag_batch(entry["batch_id"]))
        try:
            genre = read_field(path, tag_field)
        except (TagError, OSError, ValueError) as exc:
            db.mark_write(entry["id"], "failed", f"interrupted; cannot read it now ({exc})")
            lines.append(f"{path}: interrupted, unreadable now")
            continue
        if same_genres(genre, json.loads(entry["new"])):
            _mark_done(db, entry["id"], entry["file_id"], path, genre, "finished after an interruption",
                       tag_field=tag_field)
            _undo_finished(db, entry)
            lines.append(f"{path}: the interrupted write had finished")
        else:
            db.mark_write(entry["id"], "failed", "interrupted before the file was replaced; it is as it was")
            undo_store(db).drop(entry["id"])
            lines.append(f"{path}: the interrupted write had not happened; the file is as it was")
    return lines


def _undo_finished(db: LibraryDatabase, entry) -> None:
    """An interrupted undo that had put a file back: the write it undid is undone."""
    batch = db.tag_batch(entry["batch_id"])
    if batch is None or batch["undo_of"] is None:
        return
    undone = db.journal(batch["undo_of"])
    for original in undone:
        if original["state"] == "done" and original["path"] == entry["path"]:
            db.mark_write(original["id"], "undone")
            undo_store(db).drop(original["id"])
    if not any(e["state"] == "done" for e in db.journal(batch["undo_of"])):
        db.mark_undone(batch["undo_of"], batch["id"])


def batch_field(batch) -> str:
    """The tag field a batch wrote (its options' ``field``; the genre for batches of old)."""
    try:
        found = json.loads(batch["options"] or "{}").get("field") if batch is not None else None
    except (ValueError, AttributeError):
        found = None
    return found if isinstance(found, str) and found else GENRE


def _recorded_temp(entry) -> Optional[str]:
    try:
        temp = json.loads(entry["message"] or "{}").get("temp")
    except (ValueError, AttributeError):
        return None
    return temp if isinstance(temp, str) and "/" not in temp and is_temp_name(temp) else None
