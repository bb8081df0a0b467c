"""Albums: tracks grouped by their album, one genre voted over all of their slices.

A track whose tags name an album and an album artist belongs to that artist's album of
that name, wherever it lies (a compilation of many track artists under one album artist
is one album; so is an album split into CD1/CD2 folders). A track with an album tag but
no album artist belongs to the album of that name within its folder (two "Greatest Hits"
in two folders are two albums; a compilation's many artists stay one album); a track
without an album tag belongs to its folder. An album's artist is its album artist, else
the artist most of its tracks name ("Various artists" when none has most).

The album's genre is :func:`~genre_desktop.core.engine.classify.verdict.vote` over the audible
slices of its music tracks (as the scans stored them: each slice's top genre and its
probability), calibrated and hedged exactly as one track is
(:func:`~genre_desktop.core.engine.classify.verdict.hedge`): "not sure" when the slices split. A
track whose own genre is not the album's is flagged as disagreeing.
"""
from __future__ import annotations

import json
import logging
import os
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Iterator, Optional

import numpy as np

from genre_desktop.core.engine.classify.calibration import apply_temperature, temperature_for
from genre_desktop.core.engine.models.bundle_meta import Calibration
from genre_desktop.core.engine.classify.verdict import HEDGE_DEFAULTS, hedge, vote
from genre_desktop.core.engine.classify.verdicts import GENRE_VERDICTS
from genre_desktop.core.library.database import FileRow, LibraryDatabase
from genre_desktop.core.library.tags import TagError, read_tags

log = logging.getLogger(__name__)

MIN_ALBUM_TRACKS = 3  # analysed tracks an album needs before one genre is written for all
MUSIC_VERDICTS = GENRE_VERDICTS  # ("genre", "unsure"): tracks whose slices vote for their album
VARIOUS = "Various artists"
MIN_LABELS = 10  # labels assumed when the model's are not known (the spread of a slice's rest)


@dataclass
class AlbumModel:
    """What the album vote needs of the model: its labels (for each slice's spread), hedge
    rules and calibration (its ``model.json``); defaults when it is not at hand."""

    labels: list = field(default_factory=list)
    rules: dict = field(default_factory=lambda: dict(HEDGE_DEFAULTS))
    calibration: Calibration = field(default_factory=Calibration)

    @classmethod
    def of_folder(cls, folder: os.PathLike | str) -> "AlbumModel":
        """From a bundle folder's ``model.json`` (defaults for what it lacks or cannot give)."""
        from genre_desktop.core.engine.models.bundle import read_meta
        from genre_desktop.core.errors import BundleError

        try:
            meta = read_meta(Path(folder))
        except (BundleError, OSError, ValueError):
            return cls()
        labels = [str(x) for x in meta.get("labels", []) if isinstance(x, str)]
        rules = meta.get("thresholds") if isinstance(meta.get("thresholds"), dict) else {}
        return cls(labels=labels, rules={**HEDGE_DEFAULTS, **rules},
                   calibration=Calibration.from_dict(meta.get("calibration", {})))


@dataclass
class Album:
    """One album and its vote. ``genre`` is the best label (None when nothing voted);
    ``verdict`` "genre" or "unsure" (or None); ``disagreeing``: paths of music tracks whose
    own genre is not the album's."""

    key: tuple
    artist: Optional[str]
    album: Optional[str]
    folder: str
    tracks: list = field(default_factory=list)  # FileRow, by path (empty in an :func:`album_index`)
    file_ids: list = field(default_factory=list)
    genre: Optional[str] = None
    verdict: Optional[str] = None
    confidence: Optional[float] = None
    agreement: Optional[float] = None
    top: list = field(default_factory=list)  # [[label, p], ...] best first
    analysed: int = 0  # music tracks that voted
    disagreeing: list = field(default_factory=list)

    @property
    def title(self) -> str:
        return self.album or os.path.basename(self.folder.rstrip(os.sep)) or self.folder

    @property
    def by_folder(self) -> bool:
        """Whether its tracks were grouped by their folder alone (none names an album)."""
        return not self.key[2]

    def record(self) -> dict:
        """The fixed JSON line of ``library show --albums --json``; a group of tracks
        without an album tag adds its ``folder`` (its artist and album are null)."""
        out = {"artist": self.artist, "album": self.album, "genre": self.genre, "verdict": self.verdict,
               "confidence": None if self.confidence is None else round(self.confidence, 4),
               "tracks": len(self.tracks or self.file_ids), "disagreeing": list(self.disagreeing)}
        if self.by_folder:
            out["folder"] = self.folder
        return out


@lru_cache(maxsize=1 << 16)  # album names repeat on every track
def _folded(text: Optional[str]) -> str:
    return " ".join(text.split()).casefold() if text and text.strip() else ""


def grouping(folder, album: Optional[str], albumartist: Optional[str]) -> tuple:
    """The album key of a track in ``folder`` (str or bytes): ("", album artist, album)
    folded when it names both; (folder, "", album) when no album artist; (folder, "", "")
    when no album."""
    name = _folded(album)
    artist = _folded(albumartist) if name else ""
    return (folder[:0] if artist else folder), artist, name


def album_key(path: str, album: Optional[str], albumartist: Optional[str] = None) -> tuple:
    """The :func:`grouping` of a track at ``path``."""
    return grouping(os.path.dirname(path), album, albumartist)


def _common_folder(folders: Iterable):
    """The folder of an album's tracks (their common parent when they lie in several)."""
    folders = set(folders)
    return folders.pop() if len(folders) == 1 else os.path.commonpath(sorted(folders))


def album_artist(artists: Iterable[Optional[str]]) -> Optional[str]:
    """The artist most tracks name; ``VARIOUS`` when none has most; None when none do."""
    counts = Counter(a for a in artists if a)
    if not counts:
        return None
    (best, n), total = counts.most_common(1)[0], sum(counts.values())
    return best if len(counts) == 1 or n * 2 > total else VARIOUS


def own_genre(row: FileRow) -> Optional[str]:
    """A music track's own genre (its best guess when not sure); None for other verdicts."""
    if row.verdict not in MUSIC_VERDICTS:
        return None
    return row.genre or row.closest


def slice_table(rows: Iterable[FileRow], model: AlbumModel) -> tuple[list, np.ndarray, np.ndarray]:
    """(labels, slice probabilities (n_audible, n_labels), each slice's track weight (n_audible,):
    1 / the number of its track's stored slices, so that every track weighs the same) of the stored
    timelines. A scan keeps each audible slice's top genre and its probability; the rest
    of the slice's probability is spread over the other labels as its track's stored top
    genres share them (what the track's other slices leaned to), evenly where it says nothing."""
    parsed = [(_timeline(row), _top(row)) for row in rows if row.verdict in MUSIC_VERDICTS]
    labels = list(model.labels)
    seen = {g for timeline, top in parsed for _, g, _ in timeline if g is not None} | {
        g for _, top in parsed for g, _ in top}
    labels += sorted(seen - set(labels))
    width = max(len(labels), MIN_LABELS)
    index = {g: i for i, g in enumerate(labels)}
    blocks = []
    for timeline, top in parsed:
        picked = [(index[g], p) for _, g, p in timeline if g is not None and p is not None]
        if not picked:
            continue
        lean = np.zeros(width)
        for g, p in top:
            lean[index[g]] = max(p, 0.0)
        unlisted = width - int(np.count_nonzero(lean))
        lean[lean == 0] = max(1.0 - lean.sum(), 0.0) / unlisted if unlisted else 0.0
        lean = np.maximum(lean, 1e-4)
        where = np.array([g for g, _ in picked])
        chosen = np.clip(np.array([p for _, p in picked], float), 1e-6, 1.0)
        rows_at = np.arange(len(picked))
        table = np.repeat(lean[None], len(picked), axis=0)
        table[rows_at, where] = 0.0
        table *= ((1.0 - chosen) / table.sum(axis=1))[:, None]
        table[rows_at, where] = chosen
        blocks.append(table)
    table = np.concatenate(blocks) if blocks else np.zeros((0, width))
    weights = np.concatenate([np.full(len(b), 1.0 / len(b)) for b in blocks]) if blocks else np.zeros(0)
    return labels, table, weights


def _top(row: FileRow) -> list:
    """A row's stored top genres [(label, p), ...] (malformed entries left out)."""
    return [(item[0], float(item[1])) for item in row.top or [] if isinstance(item, (list, tuple)) and len(item) == 2
            and isinstance(item[0], str) and isinstance(item[1], (int, float))] if isinstance(row.top, list) else []


def _timeline(row: FileRow) -> list:
    out = []
    for item in row.timeline or []:
        if isinstance(item, (list, tuple)) and len(item) == 3 and (item[1] is None or isinstance(item[1], str)) \
                and (item[2] is None or isinstance(item[2], (int, float))):
            out.append(item)
    return out


def vote_album(album: Album, model: AlbumModel) -> Album:
    """Fill ``album``'s vote from its tracks' stored timelines (the track rule, once)."""
    music = [row for row in album.tracks if row.verdict in MUSIC_VERDICTS]
    album.analysed = len(music)
    if len(music) == 1 and own_genre(music[0]) is not None:  # one track: the album says what the track says
        row = music[0]
        album.genre, album.verdict = own_genre(row), row.verdict
        album.confidence, album.agreement = row.confidence, None
        album.top, album.disagreeing = [[g, round(p, 4)] for g, p in _top(row)][:3], []
        return album
    labels, table, weights = slice_table(music, model)
    n = len(table)
    if n == 0:
        album.genre = album.verdict = album.confidence = album.agreement = None
        album.top, album.disagreeing = [], []
        return album
    # every track weighs the same: a scan stores every slice of a borderline track but every
    # third of a clear one, which must not let the borderline tracks outvote the album
    probs = apply_temperature(vote(table, weights=weights), temperature_for(model.calibration, n))
    best = int(np.argmax(probs))
    agreement = float(np.average(table.argmax(axis=1) == best, weights=weights))
    verdict, _why = hedge(float(probs[best]), agreement, n, None, None, False, model.rules)
    album.genre, album.verdict = labels[best], verdict
    album.confidence, album.agreement = float(probs[best]), agreement
    order = [i for i in np.argsort(probs)[::-1] if i < len(labels)][:3]
    album.top = [[labels[i], round(float(probs[i]), 4)] for i in order]
    album.disagreeing = [row.display for row in music if own_genre(row) not in (None, album.genre)]
    return album


def _artist_of(key: tuple, albumartists: Counter, artists: Iterable[Optional[str]]) -> Optional[str]:
    """An album's artist: its album artist (the spelling most tracks use) when its key
    has one, else :func:`album_artist` of its tracks' artists."""
    if key[1]:
        return max(sorted(albumartists.items()), key=lambda item: item[1])[0]
    return album_artist(artists)


def _in_order(groups: Iterable[Album]) -> list[Album]:
    return sorted(groups, key=lambda a: ((a.artist or "\uffff").casefold(), a.title.casefold(), a.folder))


def group_rows(rows: Iterable[FileRow]) -> list[Album]:
    """Rows grouped into albums (:func:`album_key`), by artist, then album title."""
    groups: dict = {}
    for row in rows:
        key = album_key(row.path, row.album, row.albumartist)
        found = groups.get(key)
        if found is None:
            found = groups[key] = Album(key=key, artist=None, album=row.album, folder=key[0])
        found.tracks.append(row)
        found.file_ids.append(row.id)
    for key, album in groups.items():
        album.tracks.sort(key=lambda r: r.path)
        album.artist = _artist_of(key, Counter(r.albumartist for r in album.tracks), (r.artist for r in album.tracks))
        album.folder = _common_folder(os.path.dirname(r.path) for r in album.tracks)
    return _in_order(groups.values())


def album_index(db: LibraryDatabase, model_key: Optional[str]) -> list[Album]:
    """Every album's name, artist and file ids, from one query without timelines (for a
    view of a large library: vote an album with :func:`load_album` when it is shown).
    The same albums as :func:`group_rows`, built from the stored path bytes."""
    groups: dict = {}
    artists: dict = {}
    albumartists: dict = {}  # of albums keyed by their album artist: its spellings, their folders
    named: dict = {}  # (album, album artist) -> their folded pair (they repeat on every track)
    for file_id, path, artist, album, albumartist, verdict, _genre, _closest in db.album_fields(model_key):
        pair = named.get((album, albumartist))
        if pair is None:
            pair = named[(album, albumartist)] = grouping("", album, albumartist)[1:]
        folder = path.rpartition(b"/")[0] or b"/"
        key = (b"", *pair) if pair[0] else (folder, *pair)
        found = groups.get(key)
        if found is None:
            found = groups[key] = Album(key=key, artist=None, album=album, folder="")
            artists[key] = Counter()
            if pair[0]:
                albumartists[key] = (Counter(), set())
        found.file_ids.append(file_id)
        artists[key][artist] += 1
        if pair[0]:
            albumartists[key][0][albumartist] += 1
            albumartists[key][1].add(folder)
        if verdict in MUSIC_VERDICTS:
            found.analysed += 1
    for key, album in groups.items():
        spellings, folders = albumartists.get(key, (Counter(), {key[0]}))
        album.key = (os.fsdecode(key[0]), key[1], key[2])
        album.folder = os.fsdecode(_common_folder(folders))
        album.artist = _artist_of(key, spellings, artists[key].elements())
    return _in_order(groups.values())


def load_album(db: LibraryDatabase, model_key: Optional[str], album: Album, model: Optional[AlbumModel] = None) -> Album:
    """An :func:`album_index` entry with its tracks' rows and its vote."""
    album.tracks = db.rows_by_id(model_key, album.file_ids)
    return vote_album(album, model or AlbumModel())


def albums(db: LibraryDatabase, model_key: Optional[str], model: Optional[AlbumModel] = None,
           rows: Optional[Iterable[FileRow]] = None) -> list[Album]:
    """Every album of the library (or of ``rows``) with its vote for ``model_key``."""
    model = model or AlbumModel()
    return [vote_album(a, model) for a in group_rows(rows if rows is not None else db.iter_rows(model_key))]


def read_album_artists(db: LibraryDatabase, unread: Iterable[tuple[int, os.PathLike | str]]) -> int:
    """Read and store the album artist of files whose rows have none yet (stored before
    the library kept it, schema 3: a rescan fills them without analysing the files
    again); "" for a file that names none or cannot be read now. Returns how many."""
    found = []
    for file_id, path in unread:
        try:
            found.append((file_id, read_tags(path).albumartist or ""))
        except (TagError, OSError) as exc:
            log.info("%s: album artist not read: %s", path, exc)
            found.append((file_id, ""))
    try:
        db.set_album_artists(found)
    except sqlite3.Error as exc:  # locked by another program: the next scan reads them again
        log.warning("album artists of %d files left for the next scan: %s", len(found), exc)
        return 0
    log.info("album artists read for %d files stored before the library kept them", len(found))
    return len(found)


def album_of_files(found: list[Album]) -> dict:
    """file id -> its :class:`Album`."""
    return {row.id: album for album in found for row in album.tracks}


def iter_records(found: Iterable[Album]) -> Iterator[str]:
    """JSON lines of albums (``library show --albums --json``)."""
    for album in found:
        yield json.dumps(album.record(), ensure_ascii=False)
