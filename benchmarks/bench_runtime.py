"""ONNX Runtime against torch on real tracks: the exactness check behind shipping it.

    python benchmarks/bench_runtime.py [--model NAME]

Every track and excerpt of ../shared/data through the bundled model twice, the network in
torch and in ONNX Runtime (as the app runs it): how many verdicts (kind and genre) are
identical, the largest difference of any slice probability, and the time of each pass.
"""
from __future__ import annotations

import os

from genre_desktop.core.engine.threads import set_thread_policy  # noqa: E402

set_thread_policy()  # as the CLI, the window and library workers run: before numpy and torch load

import argparse  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from genre_desktop.core.engine.bundle import load_bundle  # noqa: E402
from genre_desktop.core.engine.inference import Classifier  # noqa: E402
from genre_desktop.core.engine.registry import resolve_model  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default=None)
    args = parser.parse_args()
    torch_clf = Classifier(load_bundle(resolve_model(args.model)))
    onnx_clf = Classifier(load_bundle(resolve_model(args.model)), runtime="auto")
    print(f"network in {onnx_clf.runtime} (against torch)")
    files = sorted(DATA.rglob("*.ogg"))
    same, worst, seconds = 0, 0.0, {"torch": 0.0, "onnx": 0.0}
    for path in files:
        t = time.perf_counter()
        a = torch_clf.classify_file(path)
        seconds["torch"] += time.perf_counter() - t
        t = time.perf_counter()
        b = onnx_clf.classify_file(path)
        seconds["onnx"] += time.perf_counter() - t
        same += (a.verdict, a.genre) == (b.verdict, b.genre)
        worst = max(worst, float(np.abs(np.stack([s.probs for s in a.slices]) -
                                        np.stack([s.probs for s in b.slices])).max()))
    print(f"{same} of {len(files)} verdicts identical; largest slice-probability difference {worst:.1e}; "
          f"torch {seconds['torch']:.1f} s, ONNX Runtime {seconds['onnx']:.1f} s "
          f"({seconds['onnx'] / max(seconds['torch'], 1e-9):.2f}x)")


if __name__ == "__main__":
    main()
