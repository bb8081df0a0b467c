"""Library commands at scale: time and peak memory of ``library show``, ``show --json``,
``export`` (CSV, JSON) and ``playlists`` on synthetic libraries of N rows.

    python benchmarks/bench_library_cli.py [--rows 10000 100000] [--keep DIR]

Each library is built through the project's own database code (``LibraryDatabase``:
``upsert_file`` and ``save_result``, a 60-slice timeline per track as a scan stores it),
its files made as empty files so exports and playlists keep them; each command runs in its
own process, and its peak RSS is read from ``wait4``.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from genre_desktop.core.engine.models.registry import resolve_model
from genre_desktop.core.library.model_ref import ModelRef
from genre_desktop.core.library.database import LibraryDatabase

GENRES = ["blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock"]


def build(folder: Path, rows: int, ref: ModelRef) -> Path:
    db_path = folder / "library.sqlite3"
    music = folder / "music"
    with LibraryDatabase(db_path) as db:
        with db.transaction():
            for i in range(rows):
                path = music / f"Artist {i // 100:04d}" / f"Album {i // 10:05d}" / f"{i:06d} Title.mp3"
                if i % 10 == 0:
                    path.parent.mkdir(parents=True, exist_ok=True)
                path.touch()
                genre = GENRES[i % len(GENRES)]
                file_id = db.upsert_file(path, size=5_000_000 + i, mtime_ns=i, fingerprint=f"{i:040x}",
                                         duration=200.0, artist=f"Artist {i // 100}", title=f"Title {i}",
                                         album=f"Album {i // 10}", genre_tag=["Rock"])
                db.save_result(file_id, ref.key, ref.name, {
                    "verdict": "genre", "genre": genre, "closest": genre, "confidence": 0.8,
                    "top": [[genre, 0.8], ["pop", 0.1], ["rock", 0.05]],
                    "timeline": [[3.0 * k, genre, 0.8] for k in range(60)], "sounds_like": [["guitar", 0.5]]})
    return db_path


def measure(args: list[str]) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of one CLI command, its output thrown away."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "genre_desktop.cli", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(args)}")
    return seconds, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--keep", type=Path, default=None, help="build the libraries here and keep them")
    args = parser.parse_args()
    model = resolve_model(None)
    ref = ModelRef.of(model)
    print(f"{'rows':>8}  {'command':<22} {'seconds':>8} {'peak MB':>8}")
    for rows in args.rows:
        folder = Path(tempfile.mkdtemp(prefix=f"bench-library-{rows}-", dir=args.keep))
        try:
            t = time.perf_counter()
            db = build(folder, rows, ref)
            print(f"{rows:>8,}  {'(build)':<22} {time.perf_counter() - t:>8.1f} "
                  f"{db.stat().st_size / 1e6:>7.0f}M on disk")
            lib = ["library", "--library", str(db)]
            for name, extra in (("show", ["show"]), ("show --json", ["show", "--json"]),
                                ("export csv", ["export", str(folder / "t.csv")]),
                                ("export json", ["export", str(folder / "t.json")]),
                                ("playlists", ["playlists", str(folder / "lists")])):
                seconds, peak = measure([*lib, *extra[:1], "--model", str(model), *extra[1:]])
                print(f"{rows:>8,}  {name:<22} {seconds:>8.1f} {peak:>8.0f}", flush=True)
        finally:
            if args.keep is None:
                shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
