"""One file of the library with its result for one model: :class:`FileRow`, its fields
declared once.

Each field of :class:`FileRow` names, in its declaration only, the table it is stored in
(``files`` or ``results``), how its stored value is read back (JSON text, path bytes), and
whether an export carries it (and how a CSV cell shows it). From that one declaration
come the ``SELECT`` list of the rows (:func:`select_rows`), the row built from what SQLite
returns (:func:`row_of`), the JSON record of an export (:func:`export_record`) and the CSV
columns and cells (:data:`CSV_COLUMNS`, :func:`csv_cells`), as beets declares its fields
once. The exports' keys come in the order the fields are declared.
"""
from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass, field, fields
from typing import Callable, Optional

FILES, RESULTS = "f", "r"  # the tables' aliases in the rows' SELECT


def path_key(path: os.PathLike | str) -> bytes:
    """The absolute path as stored (file-system bytes)."""
    return os.fsencode(os.path.abspath(os.fspath(path)))


def path_text(key: bytes) -> str:
    """A stored path back as the ``str`` the file system APIs take."""
    return os.fsdecode(key)


def display_path(key: bytes) -> str:
    """A stored path fit to show (undecodable bytes as U+FFFD)."""
    return key.decode("utf-8", "replace")


def shown(path: str) -> str:
    """A path as :func:`path_text` gave it, fit to show (undecodable bytes as U+FFFD)."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def loads(text: Optional[str]):
    """A stored JSON value (None when missing or not JSON)."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return None


def _tags(text: Optional[str]) -> list:
    return loads(text) or []


def _or_none(text: Optional[str]) -> Optional[str]:
    return text or None  # "" is stored for "read, and the file has none" (see the schema)


def _joined(values) -> str:
    return "; ".join(values or [])


def _percentages(top) -> str:
    return "; ".join(f"{g} {p:.0%}" for g, p in top or [])


def _column(table: str, *, load: Optional[Callable] = None, export=None, csv=None, **default):
    """One field's declaration: its ``table`` (:data:`FILES` or :data:`RESULTS`), ``load``
    (stored value -> field value; as it is when None), ``export`` (None: left out of
    exports; True: as it is; a callable: field value -> JSON value) and ``csv`` (None: no
    CSV column; True: the JSON value, "" for None; a callable: JSON value -> cell)."""
    return field(metadata={"table": table, "load": load, "export": export, "csv": csv}, **default)


@dataclass
class FileRow:
    """One file of the library, with its result for one model (None fields when not yet)."""

    id: int = _column(FILES)
    path: str = _column(FILES, load=path_text, export=shown, csv=True)
    artist: Optional[str] = _column(FILES, export=True, csv=True, default=None)
    title: Optional[str] = _column(FILES, export=True, csv=True, default=None)
    album: Optional[str] = _column(FILES, export=True, csv=True, default=None)
    albumartist: Optional[str] = _column(FILES, load=_or_none, default=None)  # schema 3
    genre_tag: list = _column(FILES, load=_tags, export=True, csv=_joined, default_factory=list)
    verdict: Optional[str] = _column(RESULTS, export=True, csv=True, default=None)
    genre: Optional[str] = _column(RESULTS, export=True, csv=True, default=None)
    confidence: Optional[float] = _column(RESULTS, export=True, csv=True, default=None)
    duration: Optional[float] = _column(FILES, export=True, csv=True, default=None)
    closest: Optional[str] = _column(RESULTS, export=True, csv=True, default=None)
    reason: Optional[str] = _column(RESULTS, export=True, csv=True, default=None)
    error: Optional[str] = _column(RESULTS, export=True, csv=True, default=None)
    analysed_at: Optional[str] = _column(RESULTS, export=True, csv=True, default=None)
    top: Optional[list] = _column(RESULTS, load=loads, export=True, csv=_percentages, default=None)
    #: the model's tags, [[tag, probability], ...]
    sounds_like: Optional[list] = _column(RESULTS, load=loads, export=True, default=None)
    #: [[start s, genre or None (silent), top probability], ...]
    timeline: Optional[list] = _column(RESULTS, load=loads, export=True, default=None)
    size: Optional[int] = _column(FILES, default=None)
    mtime_ns: Optional[int] = _column(FILES, default=None)
    fingerprint: Optional[str] = _column(FILES, default=None)
    changed_run: Optional[int] = _column(FILES, default=None)
    run_id: Optional[int] = _column(RESULTS, default=None)

    @property
    def display(self) -> str:
        return shown(self.path)

    @property
    def name(self) -> str:
        """Title and artist when the file is tagged, else the file name."""
        if self.title:
            return f"{self.artist} – {self.title}" if self.artist else self.title
        return os.path.basename(self.display)


_FIELDS = fields(FileRow)
#: every field's name, in the declared order
NAMES = tuple(f.name for f in _FIELDS)
#: the columns the library's ``files`` table holds (the rest are in ``results``)
FILE_COLUMNS = tuple(f.name for f in _FIELDS if f.metadata["table"] == FILES)
RESULT_COLUMNS = tuple(f.name for f in _FIELDS if f.metadata["table"] == RESULTS)
#: the fields stored as JSON text
JSON_COLUMNS = tuple(f.name for f in _FIELDS if f.metadata["load"] in (loads, _tags))
_LOADS = tuple((i, f.metadata["load"]) for i, f in enumerate(_FIELDS) if f.metadata["load"] is not None)
_EXPORTS = tuple((f.name, f.metadata["export"]) for f in _FIELDS if f.metadata["export"] is not None)
_CSV = tuple((f.name, f.metadata["csv"]) for f in _FIELDS if f.metadata["csv"] is not None)
#: the CSV columns of an export (before its "model" column), in the declared order
CSV_COLUMNS = tuple(name for name, _ in _CSV)


def select_rows(present: Optional[set] = None, names: tuple = NAMES) -> str:
    """Every file with its result for one model (the ``?``): the columns of ``names`` (all
    the fields, in their order, by default), each named as its field. A column of
    ``files`` not in ``present`` (a library of an older schema opened read-only) is read
    as NULL."""
    tables = {f.name: f.metadata["table"] for f in _FIELDS}
    cells = [f"NULL AS {name}" if tables[name] == FILES and present is not None and name not in present
             else f"{tables[name]}.{name} AS {name}" for name in names]
    return (f"SELECT {', '.join(cells)} FROM files {FILES} LEFT JOIN results {RESULTS}"
            f" ON {RESULTS}.file_id = {FILES}.id AND {RESULTS}.model_key = ?")


def row_of(row: sqlite3.Row | tuple) -> FileRow:
    """The :class:`FileRow` of one row of :func:`select_rows`."""
    values = list(row)
    for i, load in _LOADS:
        values[i] = load(values[i])
    return FileRow(*values)


def export_record(row: FileRow) -> dict:
    """The exported fields of ``row`` (JSON values), in the declared order."""
    return {name: (getattr(row, name) if out is True else out(getattr(row, name))) for name, out in _EXPORTS}


def csv_cells(record: dict) -> list:
    """The CSV cells of an :func:`export_record` (None as ""), in :data:`CSV_COLUMNS` order."""
    return [("" if record[name] is None else record[name]) if cell is True else cell(record[name])
            for name, cell in _CSV]
