"""End-to-end classification time versus decode-only time, measured side by side.

    python benchmarks/bench_classify.py [--model NAME] [--repeats 5]

Inputs: a 3-minute 44.1 kHz stereo MP3 built from real music in ../shared/data (or
synthesised when that is absent) and a 30-second OGG. For each, the best of N runs of:
  decode     soundfile decode at the native rate (the floor)
  + resample decode + soxr to the model rate, mono (what the app must read)
  + features + log-mel (the shared feature path)
  end-to-end Classifier.classify_file (decode, resample, features, model, vote)
and the ratio end-to-end / decode, with the network pipelined (a thread of its own while
the next block decodes: what the app does with two or more cores) and file-serial.
``--runtime torch`` keeps the network in torch (default: ONNX Runtime when it agrees, as
the app runs it); ``--busy K`` keeps K other processes spinning on the cores throughout.
"""
from __future__ import annotations

from genre_desktop.core.engine.network.threads import set_thread_policy

set_thread_policy()  # as the CLI, the window and library workers run: before numpy and torch load

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
import torch

from genre_desktop.core.engine.audio.decode import iter_audio_blocks
from genre_desktop.core.engine.models.bundle import load_bundle
from genre_desktop.core.training.feature_cache import file_log_mel
from genre_desktop.core.engine.classify.classifier import Classifier
from genre_desktop.core.engine.models.registry import resolve_model

from busy import busy_processes

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def make_inputs(folder: Path) -> list[Path]:
    sr = 44100
    tracks = sorted(DATA.glob("gtzan/*/*.ogg"))[::37][:6] if DATA.is_dir() else []
    if tracks:
        parts = [soxr.resample(sf.read(str(t), dtype="float32")[0], sf.info(str(t)).samplerate, sr) for t in tracks]
        mono = np.concatenate(parts)[: 180 * sr]
        ogg = tracks[0]
    else:
        t = np.arange(180 * sr) / sr
        mono = (0.2 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 2 * t))).astype(np.float32)
        ogg = folder / "clip.ogg"
        sf.write(str(ogg), mono[: 30 * sr], sr)
    stereo = np.stack([mono, np.roll(mono, 100)], axis=1)
    mp3 = folder / "three_minutes.mp3"
    sf.write(str(mp3), stereo, sr, format="MP3", subtype="MPEG_LAYER_III")
    return [mp3, ogg]


def best_of(repeats: int, fn) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def decode_native(path: Path) -> None:
    with sf.SoundFile(str(path)) as f:
        while f.read(f.samplerate * 30, dtype="float32").shape[0]:
            pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--runtime", choices=("auto", "torch"), default="auto",
                        help="auto: ONNX Runtime when its outputs agree with torch's (what the app does)")
    parser.add_argument("--busy", type=int, default=0, help="other processes keeping the cores busy")
    args = parser.parse_args()
    with busy_processes(args.busy):
        measure(args)


def measure(args: argparse.Namespace) -> None:
    bundle = load_bundle(resolve_model(args.model))
    clf = Classifier(bundle, runtime=args.runtime, pipelined=True)
    serial = Classifier(bundle, runtime=args.runtime, pipelined=False)
    cfg = bundle.features
    print(f"model {bundle.name}; network in {clf.runtime}; torch threads {torch.get_num_threads()};"
          f" {args.busy} busy processes")
    with tempfile.TemporaryDirectory() as tmp:
        for path in make_inputs(Path(tmp)):
            info = sf.info(str(path))
            clf.classify_file(path)  # warm-up
            t_decode = best_of(args.repeats, lambda: decode_native(path))
            t_resample = best_of(args.repeats, lambda: sum(b.size for b in iter_audio_blocks(path, cfg.sample_rate)))
            t_features = best_of(args.repeats, lambda: file_log_mel(path, cfg))
            t_total = best_of(args.repeats, lambda: clf.classify_file(path))
            serial.classify_file(path)
            t_serial = best_of(args.repeats, lambda: serial.classify_file(path))
            n_slices = len(clf.classify_file(path).slices)
            print(f"\n{path.name}: {info.duration:.0f} s, {info.samplerate} Hz, {info.channels} ch, {n_slices} slices")
            print(f"  decode (native rate)      {t_decode * 1000:8.1f} ms")
            print(f"  + resample to {cfg.sample_rate} Hz   {t_resample * 1000:8.1f} ms  (+{(t_resample - t_decode) * 1000:.1f})")
            print(f"  + log-mel features        {t_features * 1000:8.1f} ms  (+{(t_features - t_resample) * 1000:.1f})")
            print(f"  end-to-end classification {t_total * 1000:8.1f} ms  (model + vote +{(t_total - t_features) * 1000:.1f};"
                  f" {(t_total - t_features) / n_slices * 1000:.2f} ms per slice)")
            print(f"  ratio end-to-end / decode = {t_total / t_decode:.2f}x"
                  f"   (end-to-end / decode+resample = {t_total / t_resample:.2f}x)")
            print(f"  file-serial network       {t_serial * 1000:8.1f} ms  ratio {t_serial / t_decode:.2f}x")


if __name__ == "__main__":
    main()
