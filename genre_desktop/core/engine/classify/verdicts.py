"""The verdict vocabulary: what a track's verdict can be, and how it is said, kept and shown.

The one place for the verdict values (stored as they are in the library's database and in
every JSON record: they never change), their words for people ("not sure", "not music",
...), the reasons behind a hedged verdict, the verdict part of a JSON record and what the
library keeps of a result. The CLI, the window's tables, the album view, the review and
the exports all read them from here, so that a verdict reads the same everywhere
(``tests/test_verdict_vocabulary.py`` checks that the words are spelt nowhere else).
"""
from __future__ import annotations

from enum import Enum
from typing import Optional, Sequence


class Verdict(str, Enum):
    """A track's verdict; each member is equal to (and stored as) its value."""

    GENRE = "genre"  # a confident genre
    UNSURE = "unsure"  # between known genres: low confidence or slices that disagree
    UNKNOWN = "unknown"  # music unlike any of the model's genres
    NOT_MUSIC = "not_music"  # speech, noise, tones, room sound
    SILENCE = "silence"  # nothing audible

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


#: every verdict value, as stored
VERDICTS = tuple(v.value for v in Verdict)
#: the verdicts that name a genre (``TrackResult.genre`` is set for these only)
GENRE_VERDICTS = (Verdict.GENRE.value, Verdict.UNSURE.value)

#: each verdict in words, for lists, reviews and exports
WORDS = {Verdict.GENRE.value: "confident", Verdict.UNSURE.value: "not sure",
         Verdict.UNKNOWN.value: "unknown genre", Verdict.NOT_MUSIC.value: "not music",
         Verdict.SILENCE.value: "no music heard"}
#: the verdicts that name no genre (the Tracks list's status column)
NO_GENRE = (Verdict.SILENCE.value, Verdict.NOT_MUSIC.value, Verdict.UNKNOWN.value)
NOT_ANALYSED = "not analysed"
#: the headline of each verdict that names no genre (the track and live views)
TITLES = {Verdict.NOT_MUSIC.value: WORDS["not_music"].capitalize(), Verdict.UNKNOWN.value: "None of this model's genres",
          Verdict.SILENCE.value: WORDS["silence"].capitalize()}
#: the live view's line under "Not music"
NOT_MUSIC_DETAIL = f"Speech, noise or tones, {WORDS['not_music']}"

#: why the sound tagger says "not music" (``sound_tagger.music_verdict``), with its P(Music)
NOT_MUSIC_REASON = "sounds like speech or other sounds, not music (sound tagger: P(music) {p:.0%})"


def words(verdict: Optional[str], default: Optional[str] = None) -> str:
    """A verdict in words ("not sure"); an unknown value as itself (or ``default``)."""
    return WORDS.get(verdict or "", verdict if default is None else default)


def verdict_text(verdict: str, genre: Optional[str], reason: str = "") -> str:
    """A verdict in the words the window uses: "rock", "rock? (not sure: why)", "not
    music: why", "unknown genre: why", "no music heard: why" (never "-? (not sure: not music")."""
    reason = reason or ""
    if verdict == Verdict.GENRE:
        return genre or "-"
    if verdict == Verdict.UNSURE:
        return f"{genre or '-'}? ({WORDS['unsure']}: {reason or 'low confidence'})"
    said = WORDS.get(verdict, verdict)
    if reason.startswith(f"{said}: "):
        reason = reason[len(said) + 2:]
    return f"{said}: {reason}" if reason else said


def column_text(verdict: Optional[str], genre: Optional[str], error: Optional[str]) -> str:
    """The Library's Verdict column: the genre, "rock? (not sure)", "not analysed", "error", ..."""
    if error:
        return "error"
    if verdict is None:
        return NOT_ANALYSED
    if verdict == Verdict.GENRE:
        return genre or ""
    if verdict == Verdict.UNSURE:
        return f"{genre}? ({WORDS['unsure']})"
    return WORDS.get(verdict, verdict)


def genre_column_text(verdict: str, genre: Optional[str], uncertain: bool) -> str:
    """The Tracks list's narrow Genre column: "rock", "rock?", "unknown", "not music", ..."""
    if verdict == Verdict.UNKNOWN:
        return "unknown"
    if verdict in NO_GENRE:
        return WORDS[verdict]
    return f"{genre}?" if uncertain else genre


def status_text(verdict: str) -> str:
    """The Tracks list's Status column for a hedged verdict: "not sure", "not music", ..."""
    return WORDS[verdict] if verdict in NO_GENRE else WORDS[Verdict.UNSURE.value]


def maybe_text(genre: Optional[str]) -> str:
    """The headline of a hedged genre: "Not sure — maybe rock"."""
    return f"{WORDS['unsure'].capitalize()} \u2014 maybe {genre}"


def with_confidence(verdict: Optional[str], confidence: Optional[float]) -> str:
    """"confident 83%" / "not sure 48%" / "not analysed" (the album view)."""
    if verdict is None:
        return NOT_ANALYSED
    said = WORDS.get(verdict, verdict)
    return f"{said} {confidence:.0%}" if confidence is not None else said


def album_text(verdict: Optional[str], genre: Optional[str], confidence: Optional[float]) -> str:
    """An album's vote on one line: "rock 83%", "not sure (rock 48%)", "not analysed"."""
    if verdict == Verdict.GENRE:
        return f"{genre} {confidence:.0%}"
    if verdict == Verdict.UNSURE:
        return f"{WORDS['unsure']} ({genre} {confidence:.0%})"
    return NOT_ANALYSED


def reason_text(why: Sequence[str], verdict: str, labels: Sequence[str], best: int, confidence: float,
                agreement: float, music_probability: Optional[float]) -> str:
    """Why a verdict is hedged, in words, from the hedge rule's reasons (``verdict.hedge``:
    "steady", "outlier", "low_confidence", "disagree"; "tagger" for the sound tagger)."""
    reasons = {"steady": f"{WORDS['not_music']}: a steady sound (noise, a tone or a hum) whose slices barely change",
               "outlier": f"sounds like speech, noise or tones, {WORDS['not_music']}" if verdict == Verdict.NOT_MUSIC else
               f"music unlike any of this model's {len(labels)} genres (closest: {labels[best]})",
               "low_confidence": f"low confidence ({confidence:.0%})",
               "disagree": f"slices disagree ({agreement:.0%} agree)",
               "tagger": NOT_MUSIC_REASON.format(p=music_probability or 0.0)}
    return "; ".join(reasons[w] for w in why)


def verdict_json(verdict: str, genre: Optional[str], closest: Optional[str], confidence: float,
                 uncertain: bool, reason: str) -> dict:
    """The verdict's fields of a JSON record (``TrackResult.to_json``), in their order."""
    return {"genre": genre, "verdict": str(verdict), "closest": closest, "confidence": round(confidence, 4),
            "uncertain": uncertain, "reason": reason or None}
