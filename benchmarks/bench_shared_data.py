"""Classify every track of ../shared/data through the CLI's code path, and count.

    python benchmarks/bench_shared_data.py [--model NAME]

The test suite classifies a sample (two tracks per data set and genre); this runs the
whole set, prints how many decoded, how many failed (there should be none), the share of
verdicts that were "not sure", the time per track and the ratio of that to decoding alone.
"""
from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from genre_desktop.core.engine.audio.decode import iter_audio_blocks
from genre_desktop.core.engine.models.bundle import load_bundle
from genre_desktop.core.engine.classify.classifier import Classifier
from genre_desktop.core.engine.models.registry import resolve_model

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
log = logging.getLogger("bench_shared_data")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not DATA.is_dir():
        log.info("no shared data at %s: nothing to measure", DATA)
        return
    tracks = sorted(DATA.rglob("*.ogg"))
    classifier = Classifier(load_bundle(resolve_model(args.model)))
    failed, unsure = [], 0
    t0 = time.perf_counter()
    for path in tracks:
        try:
            result = classifier.classify_file(path)
        except Exception as exc:
            failed.append((path, f"{type(exc).__name__}: {exc}"))
            continue
        unsure += bool(result.uncertain)
    total = time.perf_counter() - t0
    t1 = time.perf_counter()
    for path in tracks:
        for _ in iter_audio_blocks(path, classifier.config.sample_rate):
            pass
    decode = time.perf_counter() - t1
    log.info("%d tracks, %d failed, %d not sure (%.1f %%)", len(tracks), len(failed), unsure,
             100.0 * unsure / max(len(tracks) - len(failed), 1))
    log.info("classify %.1f s (%.0f ms a track); decode alone %.1f s; ratio %.2fx",
             total, 1000 * total / max(len(tracks), 1), decode, total / max(decode, 1e-9))
    for path, reason in failed:
        log.info("FAILED %s: %s", path, reason)


if __name__ == "__main__":
    main()
