"""The thread policy: set once per process, before numpy and torch load.

Measured on the 2-core machines (``benchmarks/bench_classify.py --busy 2``): OpenMP and
OpenBLAS threads that busy-wait between the many small parallel regions of a track turn a
0.7-s track into 5-40 s when other programs use the cores, and fight the app's own
pipelined decode thread when they do not. Passive waiting (torch's OpenMP), one OpenBLAS
thread (numpy's small mel matmuls) and no spinning in ONNX Runtime keep each thread off the
cores while it has nothing to do.
"""
from __future__ import annotations

import os
from typing import Optional


def set_thread_policy(threads: Optional[int] = None) -> None:
    """Passive waiting and one BLAS thread; ``threads`` network threads (None: all cores).

    Call before numpy or torch is imported (the CLI's and the window's ``main``, each
    library worker): environment variables that are already set win (a person's own
    ``OMP_NUM_THREADS``, say).
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    if threads:
        os.environ.setdefault("OMP_NUM_THREADS", str(threads))


def network_threads() -> int:
    """Threads the network may use: ``OMP_NUM_THREADS`` when set (a library worker: 1),
    else the cores this process may run on."""
    value = os.environ.get("OMP_NUM_THREADS", "")
    if value.isdigit() and int(value) > 0:
        return int(value)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)
