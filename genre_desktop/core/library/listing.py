"""The library as people look at it: filters, per-genre counts, playlists and exports.

One place for the rules the Library view and ``genre-desktop-cli library`` share.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os
import re
import sys
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Iterable, Iterator, Optional

from genre_desktop.core.engine.classify.verdicts import WORDS
from genre_desktop.core.engine.models.genre_names import tag_spelling
from genre_desktop.core.safe_files import atomic_write_text, atomic_writer
from genre_desktop.core.library.database import FileRow
from genre_desktop.core.library.file_row import CSV_COLUMNS, csv_cells, export_record

log = logging.getLogger(__name__)

#: the filters a person can pick, beside a genre
FILTERS = {"all": "All tracks", "unsure": WORDS["unsure"].capitalize(), "untagged": "No genre tag",
           "changed": "Changed in the last scan", "unanalysed": "Not analysed", "errors": "Could not be read"}


def matches(row: FileRow, kind: str = "all", genre: Optional[str] = None, text: str = "",
            last_run: Optional[int] = None) -> bool:
    """Whether ``row`` passes a filter (one of :data:`FILTERS`), a genre and a search text."""
    if genre is not None and row.genre != genre:
        return False
    if kind == "unsure" and row.verdict != "unsure":
        return False
    if kind == "untagged" and row.genre_tag:
        return False
    if kind == "changed" and (last_run is None or row.changed_run != last_run):
        return False
    if kind == "unanalysed" and (row.verdict is not None or row.error is not None):
        return False
    if kind == "errors" and row.error is None:
        return False
    if text:
        words = fold(text).split()
        hay = fold(" ".join(str(v) for v in (row.display, row.artist, row.title, row.album, row.genre,
                                              *row.genre_tag) if v))
        return all(w in hay for w in words)
    return True


def fold(text: str) -> str:
    """Text as a search or a sort compares it: case and accents ignored ("Genève" -> "geneve")."""
    if text.isascii():  # the same answer, at once (NFKD leaves ASCII as it is)
        return text.lower()
    return unicodedata.normalize("NFKD", text).translate(_combining()).casefold()


_COMBINING: dict = {}


def _combining() -> dict:
    """A ``str.translate`` table that drops every combining character (made once)."""
    if not _COMBINING:
        _COMBINING.update((c, None) for c in range(sys.maxunicode + 1) if unicodedata.combining(chr(c)))
    return _COMBINING


def filter_rows(rows: Iterable[FileRow], kind: str = "all", genre: Optional[str] = None, text: str = "",
                last_run: Optional[int] = None) -> list[FileRow]:
    return list(iter_filtered(rows, kind, genre, text, last_run))


def iter_filtered(rows: Iterable[FileRow], kind: str = "all", genre: Optional[str] = None, text: str = "",
                  last_run: Optional[int] = None) -> Iterator[FileRow]:
    """:func:`filter_rows` one row at a time (for streamed commands)."""
    return (row for row in rows if matches(row, kind, genre, text, last_run))


def present(rows: Iterable[FileRow], gone: Optional[list] = None) -> Iterator[FileRow]:
    """The rows whose file is still on the disk (exports and playlists leave the others
    out); the paths of the others are appended to ``gone``."""
    for row in rows:
        if os.path.lexists(row.path):
            yield row
        elif gone is not None:
            gone.append(row.display)


def genre_counts(rows: Iterable[FileRow]) -> Counter:
    """Tracks per confident genre, and per other verdict ("not sure", "not music", ...)."""
    counts: Counter = Counter()
    for row in rows:
        if row.verdict == "genre" and row.genre:
            counts[row.genre] += 1
        elif row.verdict:
            counts[f"({row.verdict})"] += 1
        elif row.error:
            counts["(error)"] += 1
    return counts


def _file_name(genre: str) -> str:
    name = re.sub(r"[^\w &+().-]", "_", tag_spelling(genre)).strip(" .") or "genre"
    return name[:64]


def playlist_names(genres: Iterable[str]) -> dict[str, str]:
    """A file name (without ``.m3u8``) for each genre, all different even on a file system
    that ignores case: a name shared by two genres once cleaned (``a:b`` and ``a?b``, two
    labels alike in their first 64 characters, ``.`` and ``..``) gets a short hash of its
    genre, so no playlist overwrites another."""
    genres = sorted(set(genres))
    base = {g: _file_name(g) for g in genres}
    seen = Counter(name.casefold() for name in base.values())
    names = {}
    for genre in genres:
        name = base[genre]
        if seen[name.casefold()] > 1:
            name = f"{name[:55]}-{_digest(genre)[:8]}"
        names[genre] = name
    taken = Counter(n.casefold() for n in names.values())
    for genre, name in names.items():  # a hashed name equal to another genre's own name
        if taken[name.casefold()] > 1:
            names[genre] = f"{base[genre][:23]}-{_digest(genre)}"
    return names


def _digest(genre: str) -> str:
    return hashlib.sha1(genre.encode("utf-8", "surrogatepass")).hexdigest()


def _m3u_line(text: str) -> str:
    """``text`` on one M3U line (a title from tags with a line break in it)."""
    return re.sub(r"[\r\n\x00-\x1f\x7f]+", " ", text)


def write_playlists(rows: Iterable[FileRow], folder: os.PathLike | str, model_name: str,
                    include_unsure: bool = False, skipped: Optional[list] = None) -> list[Path]:
    """One extended M3U playlist (UTF-8, ``.m3u8``) per genre, of absolute paths.

    Tracks with a confident verdict go in their genre's list (with ``include_unsure``,
    best guesses too). Existing playlists of the same name are replaced atomically. Every
    genre gets its own file (:func:`playlist_names`). A path with a line break in it would
    read as two entries (another file injected): it is left out, with a warning, and
    ``(path, why)`` appended to ``skipped`` when given.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    by_genre: dict[str, list[str]] = {}  # the entries' lines only: small beside the rows
    for row in rows:
        if row.genre and (row.verdict == "genre" or (include_unsure and row.verdict == "unsure")):
            if "\n" in row.display or "\r" in row.display:
                why = "its name has a line break, which a playlist cannot hold"
                log.warning("left out of the playlists: %r (%s)", row.display, why)
                if skipped is not None:
                    skipped.append((row.display, why))
                continue
            by_genre.setdefault(row.genre, []).extend(
                (_m3u_line(f"#EXTINF:{int(round(row.duration or -1))},{row.name}"), row.display))
    names = playlist_names(by_genre)
    written = []
    for genre, members in sorted(by_genre.items()):
        lines = ["#EXTM3U", _m3u_line(f"#PLAYLIST:{tag_spelling(genre)} ({model_name})"), *members]
        path = folder / f"{names[genre]}.m3u8"
        atomic_write_text(path, "\n".join(lines) + "\n")
        written.append(path)
    return written


def write_similar_playlist(seed: FileRow, rows: Iterable[FileRow], folder: os.PathLike | str,
                           skipped: Optional[list] = None) -> Path:
    """One M3U playlist ``like <seed's name>.m3u8`` of ``rows`` (the files most like
    ``seed``, best first: :func:`.similar.similar_rows`), written atomically; a path with a
    line break is left out as in :func:`write_playlists`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["#EXTM3U", _m3u_line(f"#PLAYLIST:More like {seed.name}")]
    for row in rows:
        if "\n" in row.display or "\r" in row.display:
            if skipped is not None:
                skipped.append((row.display, "its name has a line break, which a playlist cannot hold"))
            continue
        lines += [_m3u_line(f"#EXTINF:{int(round(row.duration or -1))},{row.name}"), row.display]
    path = folder / f"{_file_name('like ' + os.path.splitext(os.path.basename(seed.display))[0])}.m3u8"
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path


#: an export's CSV columns (before its "model"): the exported fields of :class:`.file_row.FileRow`
COLUMNS = CSV_COLUMNS


def track_record(row: FileRow) -> dict:
    """A row as an export and ``library show --json`` give it (:func:`.file_row.export_record`)."""
    return export_record(row)


#: what a spreadsheet takes for the start of a formula (or hides before one)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    """A CSV cell that a spreadsheet shows as text: text from tags and labels that starts
    like a formula (``=HYPERLINK(...)``, ``+``, ``-``, ``@``, a tab or CR) gets a leading
    ``'`` (formula injection); numbers pass as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def write_table(rows: Iterable[FileRow], path: os.PathLike | str, model_key: str, model_name: str) -> Path:
    """The rows as CSV or JSON (by the file's extension), with the model recorded; written
    as the rows come (memory flat in their number), replacing ``path`` atomically."""
    path = Path(path)
    with atomic_writer(path) as raw:
        out = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        try:
            if path.suffix.lower() == ".json":
                out.write(json.dumps({"model": model_name, "model_key": model_key})[:-1] + ', "tracks": [')
                for n, row in enumerate(rows):
                    out.write(("," if n else "") + "\n " + json.dumps(track_record(row)))
                out.write("\n]}\n")
            else:
                writer = csv.writer(out)
                writer.writerow([*COLUMNS, "model"])
                for row in rows:
                    writer.writerow([safe_cell(v) for v in (*csv_cells(track_record(row)), model_key)])
        finally:
            out.detach()  # flushed; atomic_writer syncs and closes the file itself
    return path
