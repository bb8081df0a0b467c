"""CLI start-up: process start to the first JSON line for a 1-second file.

    python benchmarks/bench_cli.py [--runs 5] [--busy K]

A fresh ``python -m genre_desktop.cli classify --json`` per run (the ``genre-desktop-cli``
program), timed from launch to its first line on stdout; first with the bundled model's
ONNX graph cached (the app's normal state after its first use: no torch is imported),
then with ``GENRE_DESKTOP_RUNTIME=torch``. One warm-up run first (it exports the graph if
the cache is empty). ``--busy K`` keeps K other processes spinning on the cores.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from busy import busy_processes


def first_line_seconds(path: Path, env: dict) -> float:
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "genre_desktop.cli", "classify", "--json", str(path)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    line = proc.stdout.readline()
    elapsed = time.perf_counter() - start
    proc.wait()
    if not line.startswith(b"{"):
        raise SystemExit(f"no JSON line from the CLI (exit {proc.returncode})")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--busy", type=int, default=0)
    args = parser.parse_args()
    with busy_processes(args.busy), tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "one_second.wav"
        t = np.arange(22050) / 22050
        sf.write(str(path), (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 22050)
        for label, extra in (("ONNX graph cached (no torch)", {}), ("GENRE_DESKTOP_RUNTIME=torch", {"GENRE_DESKTOP_RUNTIME": "torch"})):
            env = {**os.environ, **extra}
            first_line_seconds(path, env)  # warm-up: the file cache, and the export when none is cached
            runs = [first_line_seconds(path, env) for _ in range(args.runs)]
            print(f"{label:32s} median {statistics.median(runs):.2f} s, min {min(runs):.2f}, max {max(runs):.2f}"
                  f"  ({args.busy} busy processes)")


if __name__ == "__main__":
    main()
