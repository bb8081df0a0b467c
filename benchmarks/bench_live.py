"""Live listening costs, measured in one run.

    python benchmarks/bench_live.py [--minutes 60] [--model NAME]

1. Simulated listening: ``--minutes`` of real music fed to the analyser in 20-ms blocks
   as fast as possible: predictions made vs expected, memory (tracemalloc) after the
   first minute vs at the end, and the real-time factor.
2. Latency per 20-ms block (audio in -> spectrogram columns ready) and per prediction
   (end of a 2.5-s window -> prediction ready), in-process, excluding device buffering.
3. CPU use while listening in real time (process CPU time / wall time) over 20 s of
   audio delivered at real-time pace.
"""
from __future__ import annotations

import argparse
import time
import tracemalloc
from pathlib import Path

import numpy as np

from genre_desktop.core.audio_io import load_audio
from genre_desktop.core.bundle import load_bundle
from genre_desktop.core.inference import Classifier
from genre_desktop.core.live import LiveAnalyzer
from genre_desktop.core.registry import resolve_model

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def music(sr: int) -> np.ndarray:
    files = sorted(DATA.glob("gtzan/*/*.ogg"))[::29][:6]
    if files:
        return np.concatenate([load_audio(f, sr) for f in files])
    t = np.arange(180 * sr) / sr
    return (0.2 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 2 * t))).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=60)
    parser.add_argument("--hop", type=float, default=1.0)
    parser.add_argument("--model")
    args = parser.parse_args()
    clf = Classifier(load_bundle(resolve_model(args.model)))
    sr = clf.config.sample_rate
    audio = music(sr)
    block = int(0.02 * sr)
    analyzer = LiveAnalyzer(clf, hop_seconds=args.hop)
    total_samples = int(args.minutes * 60 * sr)
    fed = preds = 0
    block_ms, pred_ms = [], []
    t0 = time.perf_counter()
    tracemalloc.start()
    mem_first = None
    while fed < total_samples:
        start = fed % (len(audio) - block)
        t = time.perf_counter()
        update = analyzer.feed(audio[start:start + block], t)
        dt = (time.perf_counter() - t) * 1000
        if update.predictions:
            pred_ms.append(dt)
            preds += len(update.predictions)
        else:
            block_ms.append(dt)
        fed += block
        if mem_first is None and fed >= 60 * sr:
            mem_first = tracemalloc.get_traced_memory()[0]
    mem_end = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    wall = time.perf_counter() - t0
    expected = int((fed / sr - clf.config.slice_seconds) / (analyzer.hop_frames / clf.config.frames_per_second)) + 1
    print(f"simulated {args.minutes:.0f} min in {wall:.0f} s ({fed / sr / wall:.0f}x real time, tracemalloc on)")
    print(f"predictions: {preds} made, {expected} expected, dropped {max(expected - preds, 0)}")
    print(f"traced memory after 1 min {mem_first / 1e6:.2f} MB, at the end {mem_end / 1e6:.2f} MB "
          f"(growth {(mem_end - mem_first) / 1e3:.1f} kB)")
    print(f"20-ms block -> columns ready: median {np.median(block_ms):.2f} ms, p99 {np.percentile(block_ms, 99):.2f} ms")
    print(f"window end -> prediction ready: median {np.median(pred_ms):.2f} ms, max {np.max(pred_ms):.2f} ms")

    analyzer = LiveAnalyzer(clf, hop_seconds=args.hop)
    c0, w0 = time.process_time(), time.perf_counter()
    for i in range(0, 20 * sr, block):
        analyzer.feed(audio[i:i + block])
        time.sleep(max(0.0, w0 + (i + block) / sr - time.perf_counter()))
    cpu = (time.process_time() - c0) / (time.perf_counter() - w0)
    print(f"CPU while listening in real time: {cpu * 100:.1f}% of one core ({cpu * 50:.1f}% of 2 cores)")


if __name__ == "__main__":
    main()
