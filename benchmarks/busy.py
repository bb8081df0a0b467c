"""Other programs on the cores: ``--busy K`` of the benchmarks, in one place."""
from __future__ import annotations

import contextlib
import multiprocessing


def _spin() -> None:
    while True:
        pass


@contextlib.contextmanager
def busy_processes(count: int):
    """Keep ``count`` processes spinning on the cores while the block runs."""
    spinners = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(count)]
    for p in spinners:
        p.start()
    try:
        yield
    finally:
        for p in spinners:
            p.terminate()
