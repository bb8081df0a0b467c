"""The local pool of a library scan: spawned worker processes on this computer.

The counterpart of :class:`~genre_desktop.core.library.batch_dask.DaskPool`, with the same
methods, so :func:`~genre_desktop.core.library.batch.scan_library` runs either the same way.
"""
from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Optional

from genre_desktop.core.library.analyse import analyse_path
from genre_desktop.core.library.model_ref import ModelRef
from genre_desktop.core.library.worker_process import init_worker


def default_workers() -> int:
    """One worker per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


class LocalPool:
    """Spawned worker processes, each with the model loaded once and one network thread."""

    generation = 0

    def __init__(self, ref: ModelRef, workers: int, slice_step: int):
        self.ref, self.workers, self.slice_step = ref, workers, slice_step
        self._start()

    def _start(self) -> None:
        self.pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=init_worker, initargs=(self.ref, 1))

    def submit(self, job):
        """Analyse ``job`` (a :class:`~genre_desktop.core.library.batch.Job`) on a worker."""
        return self.pool.submit(analyse_path, job.path, self.ref, job.expect_fingerprint, self.slice_step)

    @staticmethod
    def failure(exc: BaseException) -> Optional[str]:
        """"crash" when a worker process died (the pool is broken), else None."""
        return "crash" if isinstance(exc, BrokenProcessPool) else None

    def healthy(self) -> bool:
        return True

    def recover(self, make_local):
        return self

    def restart(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        self._start()

    def close(self, cancel: bool) -> None:
        self.pool.shutdown(wait=True, cancel_futures=cancel)
