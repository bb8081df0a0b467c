"""The network's side of classifying a file: which slices run, when, and in what order.

:class:`SliceRuns` takes the slices a file's decoder cuts, block by block, and runs the
network on them: every slice, or (the batch fast path) every ``step``-th one with the others
held back as float16 until :meth:`run_held` asks for them; in a thread of its own when a
:class:`concurrent.futures.Executor` is given (the next block decodes meanwhile), inline
otherwise. :meth:`collect` waits for the runs and gathers the outputs; :meth:`timeline`
returns them in time order, whatever order they ran in.
"""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from genre_desktop.core.engine.classify.verdict import silent_slices

#: the fast path's held-back slices are kept up to this many (~83 min of audio, 95 MB)
HELD_SLICES = 2000


class SliceRuns:
    """Runs ``predict`` ((n, n_mels, frames) -> (probs, tags or None, embeddings)) on slices.

    Parameters
    ----------
    predict : callable
        The classifier's :meth:`~.inference.Classifier.predict_slices`.
    step : int
        1: every slice; k > 1: every k-th (the first always), the rest held back.
    executor : concurrent.futures.Executor, optional
        Where the network runs (None: inline, in the caller's thread).
    """

    def __init__(self, predict: Callable, step: int = 1, executor=None):
        self.predict = predict
        self.step = step
        self.executor = executor
        self.seen = 0  # slices cut so far
        self.held: list[tuple[np.ndarray, np.ndarray]] = []  # (slices float16, first frames)
        self.held_count = 0
        self.pending: list = []  # (job or outputs, first frames, silent) in submission order
        self.probs: list[np.ndarray] = []
        self.tags: list[np.ndarray] = []
        self.embeddings: list[np.ndarray] = []
        self.starts: list[int] = []
        self.silent: list[bool] = []

    def add(self, slices: np.ndarray, first_frames) -> None:
        """Slices (n, n_mels, frames) cut at ``first_frames`` (n,): run them, or hold them back."""
        first_frames = np.asarray(first_frames)
        if self.step > 1 and len(slices):
            keep = (self.seen + np.arange(len(slices))) % self.step == 0
            self.seen += len(slices)
            if (~keep).any() and self.held_count < HELD_SLICES:
                self.held.append((slices[~keep].astype(np.float16), first_frames[~keep]))
                self.held_count += int((~keep).sum())
            slices, first_frames = slices[keep], first_frames[keep]
        if len(slices):
            self._run(slices, first_frames)

    def run_held(self) -> None:
        """Run the held-back slices too (a borderline fast-path verdict)."""
        for slices, first_frames in self.held:
            self._run(slices.astype(np.float32), first_frames)
        self.held = []

    def run_all(self) -> None:
        """From now on run every slice, the held-back ones first: a verdict that looks
        borderline half-way is decided on all slices, their network runs overlapping the
        rest of the decoding."""
        self.step = 1
        self.run_held()

    def _run(self, slices: np.ndarray, first_frames: np.ndarray) -> None:
        job = self.executor.submit(self.predict, slices) if self.executor else self.predict(slices)
        self.pending.append((job, first_frames, silent_slices(slices)))

    def collect(self, wait: bool = True) -> int:
        """Gather the outputs of the runs so far (``wait=False``: only those already done,
        in order); returns how many slices have outputs."""
        done = 0
        for job, first_frames, quiet in self.pending:
            if not wait and self.executor and not job.done():
                break
            done += 1
            probs, tags, embeddings = job.result() if self.executor else job
            self.probs.append(probs)
            self.embeddings.append(embeddings)
            if tags is not None:
                self.tags.append(tags)
            self.starts.extend(first_frames)
            self.silent.extend(quiet)
        self.pending = self.pending[done:]
        return len(self.starts)

    def timeline(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, Optional[np.ndarray], np.ndarray]:
        """``(starts (n,), probs (n, k), silent (n,), tags (n, t) or None, embeddings (n, d))``
        of every slice that ran, in time order."""
        order = np.argsort(np.asarray(self.starts), kind="stable")
        tags = np.concatenate(self.tags)[order] if self.tags else None
        return (np.asarray(self.starts)[order], np.concatenate(self.probs)[order],
                np.asarray(self.silent)[order], tags, np.concatenate(self.embeddings)[order])
