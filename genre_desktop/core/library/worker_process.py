"""Setting up a process that analyses library files: allocator, threads, parent watch.

A local worker (spawned by :mod:`.batch`) or a Dask worker calls :func:`prepare_process`
before torch loads, so one worker uses one thread for the network, waiting passively, and
reuses freed memory; a local worker also ends with the client that started it.
"""
from __future__ import annotations

import logging
import os
import sys

from genre_desktop.core.engine.network.threads import set_thread_policy
from genre_desktop.core.library.model_ref import ModelRef, classifier


def tune_allocator() -> None:
    """Let glibc keep freed memory for reuse instead of returning every large block.

    Dask starts its workers with ``MALLOC_TRIM_THRESHOLD_=65536``, which also pins the
    mmap threshold at 128 kB: each block of decoded audio and each batch of slices is then
    mapped and unmapped afresh, and a track took 0.28 s instead of 0.13 s (measured,
    benchmarks/bench_library.py). Fixed thresholds (32 MB mmap, 64 MB trim) give ~0.11 s
    in any worker. A no-op off glibc.
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        mallopt = getattr(libc, "mallopt", None)
    except OSError:
        mallopt = None
    if mallopt is not None:
        mallopt(-3, 32 * 1024 * 1024)  # M_MMAP_THRESHOLD
        mallopt(-1, 64 * 1024 * 1024)  # M_TRIM_THRESHOLD


def prepare_process(threads: int = 1) -> None:
    """Thread policy for a worker, before torch loads (:func:`threads.set_thread_policy`:
    passive waiting, ``threads`` threads; numpy's BLAS thread count comes with the
    environment of the process that spawned it); and an allocator that reuses memory
    (:func:`tune_allocator`)."""
    tune_allocator()
    set_thread_policy(threads)
    if "torch" in sys.modules:  # a Dask worker that ran other work first: torch is already up
        sys.modules["torch"].set_num_threads(threads)


def _end_with_parent(parent: int) -> None:
    """A worker whose client died (killed, crashed) ends too, instead of lingering."""
    import threading
    import time

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def init_worker(ref: ModelRef, threads: int = 1) -> None:
    """Initializer of a local worker process: thread policy, then the model."""
    logging.basicConfig(level=logging.WARNING)
    _end_with_parent(os.getppid())
    prepare_process(threads)
    classifier(ref)
