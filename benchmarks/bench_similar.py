""""More like this": answer time at 10,000 and 100,000 tracks, and similarity precision
(share of the 10 nearest tracks in the same genre) on the shared, genre-labelled data.

    python benchmarks/bench_similar.py [--rows 10000 100000] [--skip-precision]

Precision: ``../shared/data`` gtzan/ (30-s excerpts) and emotify/ (60-s) are scanned into a
library of their own (``build/bench/shared_library.sqlite3``, resumable) by the app's own
``scan_library`` with the bundled model, as a person's scan would; then each track asks
:func:`similar_to` for its 10 nearest. The embedding is the frozen MSD_musicnn backbone's
(trained on the Million Song Dataset, never on these files), so every track is held out
for it. GTZAN excerpts with neighbouring ids often share an artist, which flatters
neighbours: the number is also given with the track's own group of five ids left out.
gtzan_clips/ (2-3 s excerpts) are left out: one slice is no track.

Time: synthetic libraries of N unit vectors (200-d, the backbone's width) through the
project's own database code; the median of 20 questions, streamed from SQLite
(:func:`similar_to`, one CLI question) and from :class:`SimilarityIndex` (the window).
"""
from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
LIBRARY = ROOT / "build" / "bench" / "shared_library.sqlite3"
sys.path.insert(0, str(ROOT))

from genre_desktop.core.engine.network.threads import set_thread_policy

set_thread_policy()  # as the CLI and the window do: one BLAS thread (two on a busy machine cost 20x)

import numpy as np

from genre_desktop.core.engine.models.registry import resolve_model
from genre_desktop.core.library.model_ref import ModelRef
from genre_desktop.core.library.database import LibraryDatabase
from genre_desktop.core.library.similar import SimilarityIndex, similar_to

log = logging.getLogger("bench_similar")


def shared_library(workers: int = 1, scan: bool = True) -> tuple[Path, ModelRef, dict]:
    """The shared data scanned into :data:`LIBRARY` (only new files analysed); returns
    (library, model reference, {path: (collection, genre, group)})."""
    from genre_desktop.core.library.batch import BatchOptions, scan_library

    ref = ModelRef.of(resolve_model(None))
    roots = [SHARED / "gtzan", SHARED / "emotify"]
    if not all(r.is_dir() for r in roots):
        raise SystemExit(f"no shared data at {SHARED}")
    LIBRARY.parent.mkdir(parents=True, exist_ok=True)
    if scan:
        t0 = time.perf_counter()
        summary = scan_library(roots, ref, LIBRARY, BatchOptions(workers=workers))
        log.info("scan: %d analysed, %d unchanged in %.0f s", summary.analysed, summary.unchanged,
                 time.perf_counter() - t0)
    labels = {}
    for root in roots:
        for path in sorted(root.rglob("*.ogg")):
            genre = path.parent.name
            ident = path.stem.split(".")[-1]
            group = f"{genre}:{int(ident) // 5}" if root.name == "gtzan" and ident.isdigit() else str(path)
            labels[str(path.absolute())] = (root.name, genre, group)
    return LIBRARY, ref, labels


def precision(top: int = 10, scan: bool = True) -> None:
    library, ref, labels = shared_library(scan=scan)
    with LibraryDatabase(library, readonly=True) as db:
        index = SimilarityIndex(db, ref.key)
        paths = [p for p in labels if db.row(p, ref.key) is not None]
        hits, hits_grouped, chance = defaultdict(list), defaultdict(list), defaultdict(list)
        genre_count = Counter((labels[p][0], labels[p][1]) for p in paths)
        for path in paths:
            collection, genre, group = labels[path]
            found = [n for n in index.similar_to(path, top + 5) if n.path in labels]
            same = [labels[n.path][1] == genre for n in found[:top]]
            other_groups = [n for n in found if labels[n.path][2] != group][:top]
            hits[collection].append(np.mean(same))
            hits_grouped[collection].append(np.mean([labels[n.path][1] == genre for n in other_groups]))
            n = sum(c for (col, g), c in genre_count.items() if col == collection)
            chance[collection].append((genre_count[(collection, genre)] - 1) / (n - 1))
    print(f"\nsimilarity precision@{top} (share of the {top} nearest in the same genre), {len(paths)} tracks")
    print("| collection | tracks | precision@10 | own group of 5 ids left out | chance |")
    print("| --- | --- | --- | --- | --- |")
    for collection in hits:
        print(f"| {collection} | {len(hits[collection])} | {np.mean(hits[collection]):.3f} | "
              f"{np.mean(hits_grouped[collection]):.3f} | {np.mean(chance[collection]):.3f} |")


def synthetic(folder: Path, rows: int, ref: ModelRef, width: int = 200) -> Path:
    rng = np.random.default_rng(0)
    db_path = folder / f"lib{rows}.sqlite3"
    with LibraryDatabase(db_path) as db:
        with db.transaction():
            for i in range(rows):
                vec = rng.standard_normal(width).astype(np.float32)
                file_id = db.upsert_file(folder / f"{i:06d}.mp3", size=i, mtime_ns=i, fingerprint=f"{i:040x}",
                                         duration=200.0)
                db.save_result(file_id, ref.key, ref.name, {
                    "verdict": "genre", "genre": "rock", "closest": "rock", "confidence": 0.8,
                    "top": [["rock", 0.8]], "timeline": [], "sounds_like": [],
                    "embedding": (vec / np.linalg.norm(vec)).astype("<f4").tobytes(), "tag_probs": []})
    return db_path


def timing(rows_list: list[int]) -> None:
    ref = ModelRef.of(resolve_model(None))
    print("\n| tracks | first question: rows from SQLite, cache written (ms) | CLI question, cache mapped, median ms |"
          " in memory (window), median ms | index load ms |")
    print("| --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["GENRE_DESKTOP_DATA"] = tmp  # the cache goes there, not into the user's folder
        for rows in rows_list:
            db_path = synthetic(Path(tmp), rows, ref)
            with LibraryDatabase(db_path, readonly=True) as db:
                queries = [Path(tmp) / f"{i:06d}.mp3" for i in range(0, rows, max(1, rows // 20))][:20]
                t0 = time.perf_counter()
                similar_to(db, queries[-1], ref.key, 10)
                cold = time.perf_counter() - t0
                streamed = []
                for q in queries:
                    t0 = time.perf_counter()
                    similar_to(db, q, ref.key, 10)
                    streamed.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                index = SimilarityIndex(db, ref.key)
                load = time.perf_counter() - t0
                memory = []
                for q in queries:
                    t0 = time.perf_counter()
                    index.similar_to(q, 10)
                    memory.append(time.perf_counter() - t0)
            print(f"| {rows:,} | {1000 * cold:.0f} | {1000 * statistics.median(streamed):.1f} | {1000 * statistics.median(memory):.1f} |"
                  f" {1000 * load:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--skip-precision", action="store_true")
    parser.add_argument("--skip-timing", action="store_true")
    parser.add_argument("--no-scan", action="store_true", help="precision on the tracks the library holds already")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if not args.skip_timing:
        timing(args.rows)
    if not args.skip_precision:
        precision(scan=not args.no_scan)


if __name__ == "__main__":
    main()
