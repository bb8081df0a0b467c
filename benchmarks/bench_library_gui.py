"""The Library tab at scale: open, sort, filter, search and a scan adding rows, on
synthetic libraries of N rows, offscreen, with the GUI thread's worst stall.

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_library_gui.py [--rows 10000 100000]

Each library is built through the project's own database code (``upsert_file`` and
``save_result``, a 60-slice timeline per track, accented titles and artists). The real
:class:`~genre_desktop.gui.library_view.LibraryView` is opened on it and driven: every
column sorted (both ways), each filter, a genre, a search, the search cleared. Then a
simulated scan stores new files through the scanner's own writer
(:func:`~genre_desktop.core.library.batch.store_record`, in a thread, as a scan does) and
tells the view of each, while a 5-ms ``QTimer`` measures how late the GUI thread serves
it (the worst stall). Peak memory is the process's peak RSS.
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QEventLoop, QSettings, Qt, QTimer
from PySide6.QtWidgets import QApplication

from genre_desktop.core.library.model_ref import ModelRef
from genre_desktop.core.library.batch import store_record
from genre_desktop.core.library.database import LibraryDatabase

GENRES = ["blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock"]
ARTISTS = ["Édith Piaf", "Zoë Keating", "Ángel Parra", "abba", "The Beatles", "Øystein Sevåg", "Björk", "Nina Simone"]
CPU: dict = {}  # the most GUI-thread CPU seconds an action of each kind took
REF = ModelRef(key="bench@1#000000000000", name="bench", folder="")


def record(i: int, root: Path) -> dict:
    genre = GENRES[i % len(GENRES)]
    verdict = "genre" if i % 7 else ("unsure" if i % 2 else "not_music")
    result = {"verdict": verdict, "genre": genre if verdict != "not_music" else None, "closest": genre,
              "confidence": (i % 97) / 97, "top": [[genre, 0.8], ["pop", 0.1], ["rock", 0.05]],
              "timeline": [[3.0 * k, genre, 0.8] for k in range(60)], "sounds_like": [["guitar", 0.5]],
              "duration": 120.0 + i % 300}
    if i % 50 == 0:
        result = {"error": "could not be decoded"}
    title = ("Élégie " if i % 11 == 0 else "Track ") + str(i)
    return {"path": str(root / f"Artist {i // 100:04d}" / f"Album {i // 10:05d}" / f"{i:06d} {title}.mp3"),
            "size": 5_000_000 + i, "mtime_ns": i, "fingerprint": f"{i:040x}", "result": result,
            "tags": {"artist": ARTISTS[i % len(ARTISTS)], "title": title, "album": f"Album {i // 10}",
                     "genre": ["Rock"] if i % 3 else []}}


def build(folder: Path, rows: int) -> Path:
    """The library, written as :func:`store_record` writes a file, 5,000 files a commit."""
    db_path = folder / "library.sqlite3"
    with LibraryDatabase(db_path) as db:
        for start in range(0, rows, 5000):
            with db.transaction():
                for i in range(start, min(rows, start + 5000)):
                    rec = record(i, folder / "music")
                    tags, result = rec["tags"], rec["result"]
                    file_id = db.upsert_file(rec["path"], size=rec["size"], mtime_ns=rec["mtime_ns"],
                                             fingerprint=rec["fingerprint"], duration=result.get("duration"),
                                             artist=tags["artist"], title=tags["title"], album=tags["album"],
                                             genre_tag=tags["genre"])
                    db.save_result(file_id, REF.key, REF.name, result)
    return db_path


class StallMeter:
    """A 5-ms timer on the GUI thread; ``worst`` is the longest it waited beyond that."""

    def __init__(self):
        self.timer = QTimer()
        self.timer.setTimerType(Qt.PreciseTimer)
        self.timer.setInterval(5)
        self.timer.timeout.connect(self._tick)
        self.last, self.cpu = time.perf_counter(), time.thread_time()
        self.worst = self.worst_cpu = 0.0

    def _tick(self) -> None:
        now, cpu = time.perf_counter(), time.thread_time()
        self.worst = max(self.worst, now - self.last - 0.005)
        self.worst_cpu = max(self.worst_cpu, cpu - self.cpu)  # what the GUI thread itself ran meanwhile
        self.last, self.cpu = now, cpu

    def start(self) -> None:
        self.last, self.cpu = time.perf_counter(), time.thread_time()
        self.worst = self.worst_cpu = 0.0
        self.timer.start()


def spin(seconds: float) -> None:
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


def timed(what, action) -> float:
    QApplication.processEvents()
    start, cpu = time.perf_counter(), time.thread_time()
    action()
    QApplication.processEvents()  # painted
    seconds, cpu = time.perf_counter() - start, time.thread_time() - cpu
    print(f"  {what:<34} {seconds * 1000:8.0f} ms  (GUI thread CPU {cpu * 1000:5.0f} ms)")
    CPU[what.split()[0]] = max(CPU.get(what.split()[0], 0.0), cpu)
    return seconds


def run(rows: int, folder: Path, scan_files: int) -> dict:
    from genre_desktop.gui.library_view import LibraryView
    from genre_desktop.gui.settings import Settings

    t = time.perf_counter()
    db_path = build(folder, rows)
    print(f"{rows:,} rows: built in {time.perf_counter() - t:.0f} s ({db_path.stat().st_size / 1e6:.0f} MB)")
    settings = Settings(QSettings(str(folder / "settings.ini"), QSettings.IniFormat))
    out = {}
    view = None

    def open_view():
        nonlocal view
        view = LibraryView(settings, str(db_path))
        view.ref = REF
        view.resize(1200, 800)
        view.show()
        view.refresh()
        while view.keying is not None:  # the first time: sort keys made in a worker
            spin(0.05)

    out["first_open"] = timed("first open (sort keys made once)", open_view)
    view.shutdown()
    view.deleteLater()
    out["open"] = timed("open (first screen)", open_view)
    sorts = []
    for column in range(8):
        for order in (Qt.AscendingOrder, Qt.DescendingOrder):
            sorts.append(timed(f"sort {view.model.columns[column]} {'desc' if order == Qt.DescendingOrder else 'asc'}",
                               lambda c=column, o=order: view.table.sortByColumn(c, o)))
    out["sort"] = max(sorts)
    view.table.sortByColumn(0, Qt.AscendingOrder)
    filters = []
    for n in range(1, view.kind.count()):
        filters.append(timed(f"filter {view.kind.itemData(n)}", lambda n=n: view.kind.setCurrentIndex(n)))
    filters.append(timed("filter all", lambda: view.kind.setCurrentIndex(0)))
    filters.append(timed("genre jazz", lambda: view.genre.setCurrentIndex(view.genre.findData("jazz"))))
    filters.append(timed("any genre", lambda: view.genre.setCurrentIndex(0)))
    out["filter"] = max(filters)
    out["search"] = max(timed("search 'elegie'", lambda: view.search.setText("elegie")),
                        timed("search 'edith jazz'", lambda: view.search.setText("edith jazz")),
                        timed("clear the search", lambda: view.search.clear()))
    view.table.selectRow(3)
    chosen = view.selected_paths()
    view.table.verticalScrollBar().setValue(40)

    # a scan: new files stored by the scanner's writer in a thread, the view told of each
    def scan() -> None:
        with LibraryDatabase(db_path) as db:
            for i in range(rows, rows + scan_files):
                rec = record(i, folder / "music")
                store_record(db, rec, REF)
                view._stored.append(rec["path"])  # what scan_library's on_record does
                time.sleep(0.002)

    meter = StallMeter()
    meter.start()
    spin(3.0)  # the machine's own noise: the same meter with nothing to do
    out["idle_stall"] = meter.worst
    meter.start()
    view.timer.start()
    writer = threading.Thread(target=scan)
    start = time.perf_counter()
    writer.start()
    while writer.is_alive():
        spin(0.2)
    spin(2.5)  # the last refresh
    view.timer.stop()
    out["scan_seconds"] = time.perf_counter() - start
    out["stall"], out["stall_cpu"] = meter.worst, meter.worst_cpu
    out["rows_after"] = view.model.rowCount()
    out["selection_kept"] = view.selected_paths() == chosen
    print(f"  scan of {scan_files:,} files in {out['scan_seconds']:.1f} s: worst GUI stall "
          f"{meter.worst * 1000:.0f} ms (idle: {out['idle_stall'] * 1000:.0f} ms; the GUI thread's longest run of its own "
          f"{meter.worst_cpu * 1000:.0f} ms CPU); rows now {out['rows_after']:,}; selection kept: {out['selection_kept']}")
    out["fetched"] = view.model.fetched
    view.shutdown()
    view.deleteLater()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--scan-files", type=int, default=1000)
    parser.add_argument("--profile", action="store_true", help="write bench_library_gui.prof (cProfile) to the temp folder")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication(sys.argv)  # noqa: F841
    for rows in args.rows:
        folder = Path(tempfile.mkdtemp(prefix=f"bench-library-gui-{rows}-"))
        try:
            if args.profile:
                import cProfile

                profile = cProfile.Profile()
                out = profile.runcall(run, rows, folder, args.scan_files)
                profile.dump_stats(str(folder.parent / f"bench_library_gui-{rows}.prof"))
            else:
                out = run(rows, folder, args.scan_files)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"  load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; GUI-thread CPU at most: "
              + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in CPU.items()))
        CPU.clear()
        print(f"{rows:>8,} rows: first open {out['first_open']:.2f} s, open {out['open']:.2f} s · sort ≤ {out['sort'] * 1000:.0f} ms · filter ≤ "
              f"{out['filter'] * 1000:.0f} ms · search ≤ {out['search'] * 1000:.0f} ms · worst stall during the "
              f"scan {out['stall'] * 1000:.0f} ms (idle {out['idle_stall'] * 1000:.0f} ms; GUI-thread CPU burst "
              f"{out['stall_cpu'] * 1000:.0f} ms) · rows read {out['fetched']:,} · peak RSS {peak:.0f} MB")


if __name__ == "__main__":
    main()
