"""The batch fast path: the network on every ``slice_step``-th slice, all of them when the
verdict is near a line.

A verdict from a subset of slices agrees with the full timeline's on nearly every track
(``benchmarks/bench_fast_path.py``); one within these margins of a line (confidence,
agreement, the open-set thresholds) is :func:`borderline` and is decided on all slices.
"""
from __future__ import annotations

from typing import Callable

from genre_desktop.core.engine.classify.result import TrackResult
from genre_desktop.core.engine.classify.slice_runs import SliceRuns
from genre_desktop.core.engine.classify.verdicts import Verdict

FAST_MARGIN = 0.15  # of confidence and of slice agreement
FAST_DISTANCE_MARGIN = 1.25  # open-set distances (as multiples of their thresholds)
FAST_EARLY_SLICES = 4  # a fast-path verdict of this many slices that is borderline runs all from then on


def _near(x) -> bool:
    return x is not None and 1 / FAST_DISTANCE_MARGIN < x < FAST_DISTANCE_MARGIN


def borderline(result: TrackResult, thresholds: dict) -> bool:
    """Whether a verdict from a subset of slices is close enough to one of the lines
    (confidence, agreement, the open-set thresholds) that all slices should decide."""
    return (result.verdict != Verdict.GENRE
            or result.confidence < thresholds["min_confidence"] + FAST_MARGIN
            or result.agreement < thresholds["min_agreement"] + FAST_MARGIN
            or _near(result.genre_distance) or _near(result.music_distance))


class EarlyLook:
    """While a file decodes, looks at the fast path's verdict at 4, 8, 16... slices; a
    borderline one runs every slice from then on (overlapping the decoding)."""

    def __init__(self, runs: SliceRuns, vote: Callable[[], TrackResult],
                 borderline: Callable[[TrackResult], bool]):
        self.runs, self.vote, self.borderline = runs, vote, borderline
        self.next_check = FAST_EARLY_SLICES

    def look(self) -> None:
        """Collect finished network runs; at the next checkpoint, vote and maybe run all."""
        runs = self.runs
        if runs.held and runs.collect(wait=False) >= self.next_check:
            self.next_check = 2 * len(runs.starts)
            if self.borderline(self.vote()):
                runs.run_all()

    def settle(self) -> TrackResult:
        """The file's verdict once every block is in: the held slices run too when the fast
        path's verdict is borderline."""
        result = self.vote()
        if self.runs.held and self.borderline(result):
            self.runs.run_held()
            self.runs.collect()
            result = self.vote()
        return result
