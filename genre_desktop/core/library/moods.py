"""Moods, styles, decades and vocals from the backbone's 50 Million-Song-Dataset tags.

MSD_musicnn computes, for every slice, the probability of 50 last.fm tags; the library
keeps each track's mean (:mod:`.vectors`). Besides genres, the tags hold moods (mellow,
chill, happy, sad, party, ...), styles (punk, hard rock, indie, ambient, house, funk,
soul, ...), decades (60s-00s) and vocals (instrumental, female/male vocals). A track shows
the tags at or above their thresholds (:data:`THRESHOLDS`) with their probability; they
are written only on request, moods into the MOOD field and the rest into GROUPING
(:mod:`.tag_fields`), never into GENRE, each as one journalled, undoable batch
(:mod:`.writing`).

Thresholds (``benchmarks/bench_moods.py``): the shared data has genre labels only, so a
style tag that implies a genre ("heavy metal" → metal, "House" → electronic or disco)
has its threshold chosen on half of the tracks (grouped by artist proxy) as the lowest
that keeps ≥ 80 % of its firings consistent with the genre label, and its precision
measured on the other half; that precision is an upper bound (a "metal" track need not be
heavy metal). Moods, decades, vocals and styles no label speaks for get a conservative,
label-free threshold: the tag's 97.5th percentile over the shared GTZAN and Emotify tracks
(at least 0.05), so a track shows it only where it stands out. The backbone's tag
probabilities are small (a mood rarely passes 0.1: they follow the tags' rarity on
last.fm), so the confidence shown is that probability, not a calibrated chance.
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Iterable, Optional

from genre_desktop.core.tasks import ProgressCallback, StopCallback, no_progress
from genre_desktop.core.library.database import LibraryDatabase
from genre_desktop.core.library.tag_fields import TagError, read_field
from genre_desktop.core.library.vectors import tag_probs_of
from genre_desktop.core.library.writing import write_batch

log = logging.getLogger(__name__)

#: MSD tag -> (kind, how it is written); tags not here are genres (the genre model's job)
SOUND_TAGS = {
    "Mellow": ("mood", "Mellow"), "chill": ("mood", "Chill"), "chillout": ("mood", "Chill"),
    "beautiful": ("mood", "Beautiful"), "easy listening": ("mood", "Easy Listening"), "sad": ("mood", "Sad"),
    "happy": ("mood", "Happy"), "party": ("mood", "Party"), "sexy": ("mood", "Sexy"), "catchy": ("mood", "Catchy"),
    "alternative": ("style", "Alternative"), "alternative rock": ("style", "Alternative Rock"),
    "indie": ("style", "Indie"), "indie rock": ("style", "Indie Rock"), "indie pop": ("style", "Indie Pop"),
    "classic rock": ("style", "Classic Rock"), "hard rock": ("style", "Hard Rock"),
    "heavy metal": ("style", "Heavy Metal"), "punk": ("style", "Punk"), "Progressive rock": ("style", "Progressive Rock"),
    "electronica": ("style", "Electronica"), "electro": ("style", "Electro"), "House": ("style", "House"),
    "dance": ("style", "Dance"), "ambient": ("style", "Ambient"), "experimental": ("style", "Experimental"),
    "funk": ("style", "Funk"), "soul": ("style", "Soul"), "rnb": ("style", "R&B"), "folk": ("style", "Folk"),
    "acoustic": ("style", "Acoustic"), "oldies": ("decade", "Oldies"),
    "60s": ("decade", "1960s"), "70s": ("decade", "1970s"), "80s": ("decade", "1980s"), "90s": ("decade", "1990s"),
    "00s": ("decade", "2000s"),
    "instrumental": ("vocals", "Instrumental"), "female vocalists": ("vocals", "Female Vocals"),
    "female vocalist": ("vocals", "Female Vocals"), "male vocalists": ("vocals", "Male Vocals"),
}
KINDS = ("mood", "style", "decade", "vocals")
#: the field each kind is written into (Picard's names: :mod:`.tag_fields`)
FIELD_OF = {"mood": "mood", "style": "grouping", "decade": "grouping", "vocals": "grouping"}
#: the threshold of a tag missing from :data:`THRESHOLDS` (another backbone's tags)
CONSERVATIVE = 0.5
#: per-tag thresholds from benchmarks/bench_moods.py (2026-12-02, 450 shared tracks): chosen
#: on held-out halves where genre labels imply the tag, else the 97.5th percentile (>= 0.05)
THRESHOLDS: dict[str, float] = {
    'heavy metal': 0.06, 'hard rock': 0.03, 'classic rock': 0.09, 'punk': 0.03, 'Progressive rock': 0.08,
    'alternative rock': 0.08, 'indie rock': 0.1, 'House': 0.15, 'electronica': 0.11, 'electro': 0.06,
    'dance': 0.02, 'ambient': 0.06, 'rnb': 0.02, 'Mellow': 0.06, 'chill': 0.05, 'chillout': 0.16,
    'beautiful': 0.06, 'easy listening': 0.05, 'sad': 0.05, 'happy': 0.05, 'party': 0.05, 'sexy': 0.05,
    'catchy': 0.05, 'alternative': 0.17, 'indie': 0.28, 'indie pop': 0.05, 'experimental': 0.13,
    'funk': 0.13, 'soul': 0.24, 'folk': 0.22, 'acoustic': 0.17, 'oldies': 0.09, '60s': 0.06, '70s': 0.05,
    '80s': 0.12, '90s': 0.1, '00s': 0.05, 'instrumental': 0.28, 'female vocalists': 0.35,
    'female vocalist': 0.05, 'male vocalists': 0.05
}


@dataclass(frozen=True)
class SoundTag:
    """One tag a track shows: how it is written, its kind, probability and threshold."""

    name: str
    kind: str
    probability: float
    threshold: float

    def to_json(self) -> list:
        return [self.name, round(self.probability, 3)]


def threshold_of(tag: str) -> float:
    return THRESHOLDS.get(tag, CONSERVATIVE)


def sound_tags(probs: dict, thresholds: Optional[dict] = None) -> list[SoundTag]:
    """The tags of ``probs`` (MSD tag -> mean probability) at or above their thresholds,
    merged by written name (the highest probability), strongest first within each kind."""
    best: dict[str, SoundTag] = {}
    for tag, p in probs.items():
        if tag not in SOUND_TAGS:
            continue
        kind, name = SOUND_TAGS[tag]
        limit = (thresholds or {}).get(tag, threshold_of(tag))
        if p >= limit and (name not in best or p > best[name].probability):
            best[name] = SoundTag(name, kind, float(p), limit)
    return sorted(best.values(), key=lambda t: (KINDS.index(t.kind), -t.probability))


def by_kind(tags: Iterable[SoundTag]) -> dict[str, list[SoundTag]]:
    out: dict[str, list[SoundTag]] = {kind: [] for kind in KINDS}
    for tag in tags:
        out[tag.kind].append(tag)
    return out


def track_sound_tags(db: LibraryDatabase, file_id: int, model_key: str) -> list[SoundTag]:
    """A library track's tags (:func:`sound_tags` of its stored probabilities)."""
    return sound_tags(tag_probs_of(db.connection, file_id, model_key))


@dataclass
class FieldProposal:
    """One file's review line for one field: what it holds and what it would get."""

    file_id: int
    path: str
    tag_field: str
    current: list = field(default_factory=list)
    proposed: list = field(default_factory=list)
    action: str = "write"  # write, same, keep (has values; no --overwrite), skip (nothing to write)
    why: str = ""


def propose_fields(db: LibraryDatabase, model_key: str, tag_field: str, paths: Optional[Iterable[str]] = None,
                   overwrite: bool = False) -> list[FieldProposal]:
    """What writing ``tag_field`` ("mood" or "grouping") would do to each analysed file
    (``paths``: only these)."""
    kinds = [k for k, f in FIELD_OF.items() if f == tag_field]
    rows = (db.row(p, model_key) for p in paths) if paths is not None else db.iter_rows(model_key)
    out = []
    for row in rows:
        if row is None or row.verdict is None:
            continue
        names = [t.name for t in track_sound_tags(db, row.id, model_key) if t.kind in kinds]
        line = FieldProposal(row.id, row.path, tag_field, proposed=names)
        try:
            line.current = read_field(row.path, tag_field)
        except (TagError, OSError) as exc:
            line.action, line.why = "skip", str(exc)
            out.append(line)
            continue
        if not names:
            line.action, line.why = "skip", "no tag above its threshold"
        elif [c.casefold() for c in line.current] == [n.casefold() for n in names]:
            line.action, line.why = "same", "already written"
        elif line.current and not overwrite:
            line.action, line.why = "keep", f"has a {tag_field} (kept)"
        out.append(line)
    return out


def write_fields(db: LibraryDatabase, model_key: Optional[str], proposals: Iterable[FieldProposal],
                 overwrite: bool = False, progress: ProgressCallback = no_progress,
                 should_stop: Optional[StopCallback] = None):
    """Write the proposals whose action is "write", one field, as one undoable batch
    (``library undo-tags`` puts the previous values back). Returns a
    :class:`.writing.WriteSummary`."""
    todo = [p for p in proposals if p.action == "write"]
    fields = {p.tag_field for p in todo}
    if len(fields) > 1:
        raise ValueError("one field per batch")
    tag_field = fields.pop() if fields else "mood"
    return write_batch(db, todo, model_key, {"field": tag_field, "overwrite": overwrite}, overwrite, tag_field,
                       progress, should_stop)


def proposal_record(line: FieldProposal) -> dict:
    return asdict(line)
