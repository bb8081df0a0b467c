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
from typing import Iterable, Optional

from genre_desktop.core.errors import GenreDesktopError
from genre_desktop.core.safe_files import fault_point
from genre_desktop.core.tasks import ProgressCallback, StopCallback, check_stop, no_progress
from genre_desktop.core.library.analyse import audio_fingerprint
from genre_desktop.core.library.database import LibraryDatabase, path_text
from genre_desktop.core.library.tag_bytes import restore_bytes
from genre_desktop.core.library.tag_fields import GENRE, read_field
from genre_desktop.core.library.tag_file_copy import TEMP_SUFFIX, is_temp_name, remove_temp
from genre_desktop.core.library.tag_write import write_genre
from genre_desktop.core.library.tags import TagError, audio_digest, same_genres
from genre_desktop.core.library.review import Proposal, TagOptions
from genre_desktop.core.library.writer_lock import WriterBusy, undo_store, writer_lock

log = logging.getLogger(__name__)


class UndoRefused(GenreDesktopError, ValueError):
    """Nothing to undo, no such batch, a batch undone already or itself an undo."""


@dataclass
class WriteSummary:
    batch_id: Optional[int] = None
    written: int = 0
    unchanged: int = 0
    failed: list = field(default_factory=list)  # (path, reason)
    cancelled: bool = False


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
    return write_batch(db, proposals, model_key, asdict(options), options.overwrite, GENRE, progress, should_stop)


def write_batch(db: LibraryDatabase, proposals: Iterable[Proposal], model_key: Optional[str], batch_options: dict,
                overwrite: bool, tag_field: str = GENRE, progress: ProgressCallback = no_progress,
                should_stop: Optional[StopCallback] = None) -> WriteSummary:
    """The one write loop (genres by :func:`apply`, moods and styles by
    :func:`.moods.write_fields`): the proposals whose action is "write" into ``tag_field``,
    one journalled, undoable batch recorded with ``batch_options``; a file changed since it
    was analysed is skipped, and its existing values kept unless ``overwrite``."""
    todo = [p for p in proposals if p.action == "write"]
    with writer_lock(db):
        settle(db)
        summary = WriteSummary(batch_id=db.start_tag_batch(model_key, batch_options))
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
                                None if overwrite else line.current, fingerprint=row["fingerprint"],
                                tag_field=tag_field)
            if reason is None:
                summary.written += 1
            else:
                summary.failed.append((line.path, reason))
    done = "tagged" if tag_field == GENRE else f"given a {tag_field}"
    progress(1.0, f"{summary.written:,} files {done}, {len(summary.failed):,} failed")
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
    UndoRefused
        Nothing to undo, no such batch, or undone already (a ``ValueError`` too).
    """
    with writer_lock(db):
        settle(db)
        if batch_id is None:
            candidates = undoable_batches(db)
            if not candidates:
                raise UndoRefused("no tag writes to undo")
            batch_id = candidates[0]["id"]
        batch = db.tag_batch(batch_id)
        if batch is None:
            raise UndoRefused(f"no batch of tag writes numbered {batch_id}")
        if batch["undone_by"] is not None:
            raise UndoRefused(f"batch {batch_id} was undone already (by batch {batch['undone_by']})")
        if batch["undo_of"] is not None:
            raise UndoRefused(f"batch {batch_id} is itself an undo (of batch {batch['undo_of']})")
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
