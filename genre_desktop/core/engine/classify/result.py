"""What classifying a track gives: :class:`TrackResult` (its slices, its verdict), its JSON
record and what the library keeps of it."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from genre_desktop.core.engine.classify.verdicts import VERDICTS, Verdict, verdict_json

__all__ = ["RECORD_TOP_K", "SliceResult", "TrackResult", "VERDICTS", "result_record", "vector_fields"]

#: genres kept in a library record's ``top``
RECORD_TOP_K = 3


@dataclass
class SliceResult:
    """One 2.5-s slice: where it starts and what the model thinks of it."""

    start: float  # seconds
    end: float
    probs: np.ndarray  # (n_labels,)
    genre: Optional[str]  # None for a silent slice
    silent: bool = False


@dataclass
class TrackResult:
    """A track's verdict.

    ``verdict`` is a :class:`~.verdicts.Verdict`: ``"genre"`` (a confident genre), ``"unsure"``
    (between known genres: low confidence or slices that disagree), ``"unknown"`` (music
    unlike any of the model's genres), ``"not_music"`` (speech, noise, tones, room sound)
    or ``"silence"``. ``genre`` is the verdict's genre for "genre" and "unsure" and None
    otherwise; ``closest`` is the most likely label whatever the verdict; ``uncertain`` is
    True for every verdict but "genre", and ``reason`` says why in words. ``confidence``
    is calibrated (the bundle's temperature).
    """

    path: str
    duration: float
    labels: list[str]
    genre: Optional[str]
    confidence: float
    uncertain: bool
    probs: np.ndarray  # (n_labels,) track-level distribution
    agreement: float  # fraction of audible slices that agree with the verdict
    slices: list[SliceResult] = field(default_factory=list)
    tags: list[tuple[str, float]] = field(default_factory=list)
    reason: str = ""  # why uncertain, in words
    verdict: str = Verdict.GENRE
    closest: Optional[str] = None
    genre_distance: Optional[float] = None  # open-set scores as multiples of their thresholds
    music_distance: Optional[float] = None  # (above 1: unknown genre / not music)
    music_probability: Optional[float] = None  # the sound tagger's mean P(Music) (.sound_tagger)
    spectrogram: Optional[np.ndarray] = None  # (n_mels, n_columns), when asked for
    frames_per_second: float = 0.0
    spectrogram_factor: int = 1  # frames per spectrogram column (>1 once downsampled)
    notes: list[str] = field(default_factory=list)  # about the file itself ("truncated: ...")
    embedding: Optional[np.ndarray] = None  # (d,) mean embedding of the audible slices ("more like this")
    tag_probs: Optional[dict] = None  # every tag of the bundle -> its mean probability over audible slices

    def __post_init__(self) -> None:
        self.verdict = Verdict(self.verdict)  # a value outside the vocabulary is a bug: ValueError

    def top(self, k: int = 3) -> list[tuple[str, float]]:
        order = np.argsort(self.probs)[::-1][:k]
        return [(self.labels[i], float(self.probs[i])) for i in order]

    def to_json(self, top_k: int = 3) -> dict:
        """The JSON-lines record of the CLI."""
        return {
            "path": self.path,
            **verdict_json(self.verdict, self.genre, self.closest, self.confidence, self.uncertain, self.reason),
            "duration": round(self.duration, 2), "agreement": round(self.agreement, 4),
            "top": [[label, round(p, 4)] for label, p in self.top(top_k)],
            "tags": [[t, round(p, 3)] for t, p in self.tags],
            "notes": list(self.notes),
            "music_probability": None if self.music_probability is None else round(self.music_probability, 4),
            "slices": [{"start": round(s.start, 3), "genre": s.genre,
                        "probs": [round(float(p), 4) for p in s.probs]} for s in self.slices],
        }


def result_record(result: TrackResult, top_k: int = RECORD_TOP_K) -> dict:
    """What the library keeps of a :class:`TrackResult` (``LibraryDatabase.store``)."""
    return {"verdict": str(result.verdict), "genre": result.genre, "closest": result.closest,
            "confidence": round(float(result.confidence), 4), "reason": result.reason or None,
            "top": [[label, round(p, 4)] for label, p in result.top(top_k)],
            "timeline": [[round(s.start, 2), s.genre, round(float(s.probs.max()), 3) if not s.silent else None]
                         for s in result.slices],
            "sounds_like": [[tag, round(p, 3)] for tag, p in result.tags],
            "duration": round(float(result.duration), 3), **vector_fields(result)}


def vector_fields(result) -> dict:
    """The result's mean embedding, L2-normalised, as little-endian float32 bytes
    (``embedding``, None for a silent file) and the mean probability of each of the model's
    tags (``tag_probs``: [[tag, p], ...]), for "more like this" and moods (:mod:`.similar`)."""
    out: dict = {"embedding": None, "tag_probs": []}
    emb = getattr(result, "embedding", None)
    if emb is not None and len(emb) and np.isfinite(emb).all():
        norm = float(np.linalg.norm(emb))
        if norm > 0:
            out["embedding"] = (np.asarray(emb, np.float32) / norm).astype("<f4").tobytes()
    probs = getattr(result, "tag_probs", None) or {}
    out["tag_probs"] = [[str(tag), round(float(p), 4)] for tag, p in probs.items()]
    return out
