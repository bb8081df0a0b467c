"""ONNX Runtime against torch on real tracks: the exactness check behind shipping it.

    python benchmarks/bench_runtime.py [--model NAME]

Every track and excerpt of ../shared/data through the bundled model twice, the network in
torch and in ONNX Runtime (as the app runs it): how many verdicts (kind and genre) are
identical, the largest difference of any slice probability, and the time of each pass.
``--features`` compares the app's numpy STFT with torch.stft (the features the bundled
models were trained on before 2026-12-01) instead, the network in ONNX Runtime both times.
"""
from __future__ import annotations

from genre_desktop.core.engine.network.threads import set_thread_policy

set_thread_policy()  # as the CLI, the window and library workers run: before numpy and torch load

import argparse
import contextlib
import time
from pathlib import Path

import numpy as np

from genre_desktop.core.engine.models.bundle import load_bundle
from genre_desktop.core.engine.classify.classifier import Classifier
from genre_desktop.core.engine.models.registry import resolve_model

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@contextlib.contextmanager
def torch_stft():
    """The feature path with torch.stft in place of numpy's FFT (as before 2026-12-01)."""
    import torch

    from genre_desktop.core.engine.audio import features

    def frames_to_logmel(samples, config):
        basis, window = features._filterbank(config)
        with torch.inference_mode():
            spec = torch.stft(torch.from_numpy(np.ascontiguousarray(samples, np.float32)), config.n_fft,
                              config.hop_length, window=torch.from_numpy(window.astype(np.float32)),
                              center=False, return_complex=True)
            power = spec.real.square_() + spec.imag.square_()
            return torch.log10((torch.from_numpy(basis) @ power).mul_(10000.0).add_(1.0)).numpy()

    original = features._frames_to_logmel
    features._frames_to_logmel = frames_to_logmel
    try:
        yield
    finally:
        features._frames_to_logmel = original


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default=None)
    parser.add_argument("--features", action="store_true", help="numpy STFT against torch.stft")
    args = parser.parse_args()
    onnx_clf = Classifier(load_bundle(resolve_model(args.model)), runtime="auto")
    if args.features:
        torch_clf = onnx_clf
        print(f"features: numpy STFT against torch.stft; network in {onnx_clf.runtime}")
    else:
        torch_clf = Classifier(load_bundle(resolve_model(args.model)))
        print(f"network in {onnx_clf.runtime} (against torch)")
    files = sorted(DATA.rglob("*.ogg"))
    same, worst, seconds = 0, 0.0, {"torch": 0.0, "onnx": 0.0}
    for path in files:
        t = time.perf_counter()
        with torch_stft() if args.features else contextlib.nullcontext():
            a = torch_clf.classify_file(path)
        seconds["torch"] += time.perf_counter() - t
        t = time.perf_counter()
        b = onnx_clf.classify_file(path)
        seconds["onnx"] += time.perf_counter() - t
        same += (a.verdict, a.genre) == (b.verdict, b.genre)
        worst = max(worst, float(np.abs(np.stack([s.probs for s in a.slices]) -
                                        np.stack([s.probs for s in b.slices])).max()))
    names = ("torch.stft", "numpy STFT") if args.features else ("torch", "ONNX Runtime")
    print(f"{same} of {len(files)} verdicts identical; largest slice-probability difference {worst:.1e}; "
          f"{names[0]} {seconds['torch']:.1f} s, {names[1]} {seconds['onnx']:.1f} s "
          f"({seconds['onnx'] / max(seconds['torch'], 1e-9):.2f}x)")


if __name__ == "__main__":
    main()
