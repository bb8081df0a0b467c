"""Live listening costs, measured in one run.

    python benchmarks/bench_live.py [--minutes 60] [--model NAME]

1. Simulated listening: ``--minutes`` of real music fed to the analyser in 20-ms blocks
   as fast as possible: predictions made vs expected, memory (tracemalloc) after the
   first minute vs at the end, and the real-time factor.
2. Latency per 20-ms block (audio in -> spectrogram columns ready) and per prediction
   (end of a 2.5-s window -> prediction ready), in-process, excluding device buffering.
3. CPU use while listening in real time (process CPU time / wall time) over 20 s of
   audio delivered at real-time pace.
4. With PulseAudio: the live tab listening to music played into a virtual microphone,
   audio callback -> spectrogram column drawn on the GUI thread, and end of window ->
   prediction shown.
"""
from __future__ import annotations

import argparse
import os
import time
import tracemalloc
from pathlib import Path

import numpy as np

from genre_desktop.core.engine.network.threads import set_thread_policy

set_thread_policy()  # as the CLI, the window and library workers run: before numpy and torch load

from genre_desktop.core.engine.audio.decode import load_audio
from genre_desktop.core.engine.models.bundle import load_bundle
from genre_desktop.core.engine.classify.classifier import Classifier
from genre_desktop.core.engine.classify.live import LiveAnalyzer
from genre_desktop.core.engine.models.registry import resolve_model

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
    n_blocks = total_samples // block + 1
    block_ms = np.zeros(n_blocks)  # preallocated: the benchmark's own lists must not grow
    pred_ms = np.zeros(n_blocks)
    n_plain = n_pred = 0
    t0 = time.perf_counter()
    tracemalloc.start()
    mem_first = None
    while fed < total_samples:
        start = fed % (len(audio) - block)
        t = time.perf_counter()
        update = analyzer.feed(audio[start:start + block], t)
        dt = (time.perf_counter() - t) * 1000
        if update.predictions:
            pred_ms[n_pred] = dt
            n_pred += 1
            preds += len(update.predictions)
        else:
            block_ms[n_plain] = dt
            n_plain += 1
        fed += block
        if mem_first is None and fed >= 60 * sr:
            mem_first = tracemalloc.get_traced_memory()[0]
    mem_end = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    wall = time.perf_counter() - t0
    block_ms, pred_ms = block_ms[:n_plain], pred_ms[:n_pred]
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
    gui_latency(clf)


def gui_latency(clf, seconds: float = 12.0) -> None:
    import shutil
    import subprocess
    import tempfile

    import soundfile as sf

    if not shutil.which("pactl"):
        print("PulseAudio not installed: GUI latency not measured")
        return
    subprocess.run(["pulseaudio", "-D", "--exit-idle-time=-1", "--system=false"], capture_output=True)
    module = subprocess.run(["pactl", "load-module", "module-null-sink", "sink_name=bench_mic", "rate=22050",
                             "channels=1"], capture_output=True, text=True).stdout.strip()
    subprocess.run(["pactl", "set-default-source", "bench_mic.monitor"], check=True)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from genre_desktop.gui.live_view import LivePanel
    from genre_desktop.gui.settings import app_settings

    app = QApplication.instance() or QApplication([])
    panel = LivePanel(app_settings())
    panel.show()
    panel.set_classifier(clf)
    shown = []
    panel.prediction_shown.connect(lambda p: shown.append((time.perf_counter(), p)))
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "clip.wav"
        sf.write(str(wav), music(22050)[: int(seconds * 22050)], 22050)
        panel.start()
        player = subprocess.Popen(["paplay", "--device=bench_mic", str(wav)])
        QTimer.singleShot(int((seconds + 1.5) * 1000), app.quit)
        app.exec()
        player.wait()
    panel.stop()
    panel.shutdown()
    subprocess.run(["pactl", "unload-module", module])
    lat = np.array(panel.column_latency_ms)
    print(f"GUI, real audio: callback -> column drawn: median {np.median(lat):.1f} ms, "
          f"p95 {np.percentile(lat, 95):.1f} ms, max {lat.max():.1f} ms ({len(lat)} updates)")
    pred = [p.latency_ms for _, p in shown]
    print(f"GUI, real audio: window end -> prediction ready: median {np.median(pred):.1f} ms, "
          f"max {max(pred):.1f} ms ({len(pred)} predictions; +<20 ms to the screen via the same path)")


if __name__ == "__main__":
    main()
