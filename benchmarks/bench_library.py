"""Library throughput: scan a folder of real tracks several ways, rescan it, tag it.

    python benchmarks/bench_library.py [--folder DIR] [--limit N] [--busy K]

``--folder`` may hold OGG, MP3, FLAC, M4A, Opus or WAV files (for example 44.1 kHz stereo ones).

Copies the tracks (``../shared/data`` by default) into a temporary library and measures,
in one run, files per minute for:
- one process, the network on every core (what ``classify`` does, file after file);
- ``library scan`` with local worker processes (one per core, one network thread each);
- the same batch on a Dask ``LocalCluster`` over loopback (one worker per core);
then a rescan (nothing changed: only stat calls), and writing genre tags into every
file and undoing them (each write verified by decoding the audio twice).
``--busy K`` keeps K other processes spinning on the cores meanwhile.
"""
from __future__ import annotations

from genre_desktop.core.engine.network.threads import set_thread_policy

set_thread_policy()  # as the CLI, the window and library workers run: before numpy and torch load

import argparse
import logging
import shutil
import tempfile
import time
from pathlib import Path

from genre_desktop.core.engine.models.bundle import load_bundle
from genre_desktop.core.engine.classify.classifier import Classifier
from genre_desktop.core.engine.models.registry import resolve_model
from genre_desktop.core.library.model_ref import ModelRef

AUDIO_SUFFIXES = {".ogg", ".mp3", ".flac", ".m4a", ".opus", ".wav"}  # --folder of the files people have
from genre_desktop.core.library.batch import BatchOptions, default_workers, scan_library
from genre_desktop.core.library.database import LibraryDatabase
from genre_desktop.core.library.writing import apply, undo
from genre_desktop.core.library.review import TagOptions, propose

from busy import busy_processes

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
log = logging.getLogger("bench_library")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--folder", type=Path, default=DATA)
    parser.add_argument("--limit", type=int, default=200, help="tracks to use (evenly spread)")
    parser.add_argument("--busy", type=int, default=0)
    parser.add_argument("--no-dask", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    tracks = sorted(p for p in args.folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
    if not tracks:
        log.info("no tracks under %s: nothing to measure", args.folder)
        return
    step = max(1, len(tracks) // args.limit)
    tracks = tracks[::step][:args.limit]
    work = Path(tempfile.mkdtemp(prefix="bench-library-"))
    library = work / "Music"
    for i, path in enumerate(tracks):
        dest = library / path.parent.name / f"{i:04d}-{path.name}"
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dest)
    hours = 0.0
    try:
        with busy_processes(args.busy):
            folder = resolve_model(None)
            ref = ModelRef.of(folder)
            classifier = Classifier(load_bundle(folder))
            t0 = time.perf_counter()
            for path in sorted(p for p in library.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES):
                hours += classifier.classify_file(path).duration / 3600
            one = time.perf_counter() - t0
            n = len(tracks)
            log.info("%d tracks (%.1f h of audio), %d cores, %d busy processes", n, hours, default_workers(), args.busy)
            log.info("one process, file after file:   %6.1f s  %5.0f files/min", one, n / one * 60)

            first: list = []
            t0 = time.perf_counter()
            summary = scan_library([library], ref, work / "local.sqlite3", BatchOptions(),
                                   on_record=lambda _p: first.append(time.perf_counter()) if not first else None)
            local = time.perf_counter() - t0
            steady = (n - 1) / max(time.perf_counter() - first[0], 1e-9) * 60 if first else 0
            log.info("library scan, local processes: %6.1f s  %5.0f files/min  (%.2fx one process; "
                     "first result after %.1f s, then %.0f files/min; %d failed)",
                     local, n / local * 60, one / local, first[0] - t0 if first else 0, steady, len(summary.failed))
            core_hours = local / 3600 * default_workers()
            log.info("  = %.0f hours of audio per core-hour (%.0f three-minute tracks' worth)",
                     hours / core_hours, hours * 20 / core_hours)

            if not args.no_dask:
                from distributed import LocalCluster

                with LocalCluster(n_workers=default_workers(), threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster:
                    t0 = time.perf_counter()
                    summary = scan_library([library], ref, work / "dask.sqlite3",
                                           BatchOptions(scheduler=cluster.scheduler_address))
                    dask = time.perf_counter() - t0
                log.info("library scan, Dask LocalCluster: %6.1f s  %5.0f files/min  (%.2fx one process)",
                         dask, n / dask * 60, one / dask)

            t0 = time.perf_counter()
            again = scan_library([library], ref, work / "local.sqlite3", BatchOptions())
            log.info("rescan, nothing changed:         %6.2f s  (%d unchanged)", time.perf_counter() - t0, again.unchanged)

            with LibraryDatabase(work / "local.sqlite3") as db:
                options = TagOptions(verdicts=("genre", "unsure"))
                t0 = time.perf_counter()
                lines = propose(db, ref.key, options)
                review = time.perf_counter() - t0
                t0 = time.perf_counter()
                wrote = apply(db, lines, ref.key, options)
                write = time.perf_counter() - t0
                t0 = time.perf_counter()
                undone = undo(db)
                back = time.perf_counter() - t0
            log.info("review %d files: %.2f s; write %d tags: %.1f s (%.0f files/min, %d failed); undo: %.1f s",
                     len(lines), review, wrote.written, write, wrote.written / max(write, 1e-9) * 60,
                     len(wrote.failed), back)
            log.info("undo put back %d files, left %d alone", undone.written, len(undone.failed))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
