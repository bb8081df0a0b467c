"""GUI responsiveness: launch-to-visible time, and the worst GUI-thread stall while a
1-hour file is analysed.

    python benchmarks/bench_gui.py [--minutes 60]

Start-up: a fresh interpreter runs the app's own start-up (imports, window, show) and
reports the time from interpreter start to the window being exposed on screen.
Stall: a 10-ms QTimer heartbeat runs on the GUI thread while the worker thread decodes
and classifies a long FLAC; the largest gap between beats minus 10 ms is the worst stall.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

STARTUP_CHILD = r"""
import time, sys
t0 = time.perf_counter()
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from genre_desktop.gui.main_window import MainWindow
from genre_desktop.gui.settings import app_settings
app = QApplication([])
w = MainWindow(app_settings())
w.show()
QTimer.singleShot(0, w.start)
def shown():
    print(f"{time.perf_counter() - t0:.3f} {time.time():.3f}", flush=True)
    app.quit()
QTimer.singleShot(0, shown)
app.exec()
"""


def startup_seconds() -> float:
    """Seconds from launching a new interpreter to the window being shown."""
    launched = time.time()
    out = subprocess.run([sys.executable, "-c", STARTUP_CHILD], capture_output=True, text=True, check=True)
    in_process, shown_at = map(float, out.stdout.strip().splitlines()[-1].split())
    wall = shown_at - launched
    print(f"  process launch->visible {wall:.2f} s (of which imports + window {in_process:.2f} s)")
    return wall


def long_file(folder: Path, minutes: float) -> Path:
    sr = 44100
    path = folder / "long.flac"
    rng = np.random.default_rng(0)
    t = np.arange(sr * 10) / sr
    block = (0.2 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 2 * t))
             + 0.02 * rng.standard_normal(t.size)).astype(np.float32)
    with sf.SoundFile(str(path), "w", sr, 2, format="FLAC") as f:
        for _ in range(int(minutes * 6)):
            f.write(np.stack([block, block], axis=1))
    return path


def idle_gaps(seconds: float) -> list[float]:
    """Heartbeat gaps (ms) of an idle event loop: what the machine itself adds."""
    from PySide6.QtCore import QElapsedTimer, QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    clock = QElapsedTimer()
    gaps, last = [], [0]

    def tick():
        now = clock.elapsed()
        gaps.append(now - last[0])
        last[0] = now

    beat = QTimer()
    beat.setInterval(10)
    beat.timeout.connect(tick)
    QTimer.singleShot(int(seconds * 1000), app.quit)
    clock.start()
    beat.start()
    app.exec()
    beat.stop()
    return gaps[1:]


def stall_ms(path: Path) -> tuple[float, float, list[float]]:
    from PySide6.QtCore import QElapsedTimer, QTimer
    from PySide6.QtWidgets import QApplication

    from genre_desktop.gui.main_window import MainWindow
    from genre_desktop.gui.settings import app_settings

    app = QApplication.instance() or QApplication([])
    w = MainWindow(app_settings())
    w.show()
    w.start()
    gaps = []
    clock = QElapsedTimer()
    beat = QTimer()
    beat.setInterval(10)
    last = [0]

    def tick():
        now = clock.elapsed()
        gaps.append((now - last[0], now))
        last[0] = now

    beat.timeout.connect(tick)
    w.verdict_ready.connect(lambda p, r: app.quit())
    w.track_failed.connect(lambda p, r: app.quit())

    def go():
        clock.start()
        beat.start()
        w.open_paths([str(path)])

    w.model_ready.connect(lambda b: go())
    t = time.perf_counter()
    app.exec()
    elapsed = time.perf_counter() - t
    beat.stop()
    w.close()
    worst = sorted(gaps[1:], reverse=True)[:5]
    print("  largest beat gaps (gap ms @ time ms): " + ", ".join(f"{g}@{t}" for g, t in worst))
    return worst[0][0] - 10, elapsed, [g for g, _ in gaps[1:]]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=60)
    args = parser.parse_args()
    print("start-up (3 runs):")
    runs = [startup_seconds() for _ in range(3)]
    print(f"  best {min(runs):.2f} s, worst {max(runs):.2f} s")
    with tempfile.TemporaryDirectory() as tmp:
        path = long_file(Path(tmp), args.minutes)
        worst, elapsed, busy = stall_ms(path)
        idle = idle_gaps(elapsed)
        print(f"{args.minutes:.0f}-minute FLAC analysed in {elapsed:.1f} s; worst GUI-thread stall {worst:.0f} ms, "
              f"p99 {np.percentile(busy, 99) - 10:.0f} ms")
        print(f"the same time idle (the machine's own hiccups): worst {max(idle) - 10:.0f} ms, "
              f"p99 {np.percentile(idle, 99) - 10:.0f} ms")


if __name__ == "__main__":
    main()
