"""The batch fast path: a verdict from every k-th slice, against the full timeline.

    python benchmarks/bench_fast_path.py [--model NAME] [--steps 2 3 4]

For every track and excerpt of ../shared/data, the bundled model's verdict (verdict kind
and genre) from all slices and from the fast path (every k-th slice, all of them when that
verdict is borderline); prints the agreement and the time against decoding alone (summed
over the files), and the same for a 3-minute MP3 medley (best of 3; a medley is borderline)
and for 3-minute MP3s of one Emotify genre each.
"""
from __future__ import annotations

from genre_desktop.core.engine.network.threads import set_thread_policy

set_thread_policy()  # as the CLI, the window and library workers run: before numpy and torch load

import argparse
import logging
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_classify import DATA, best_of, decode_native, make_inputs

from genre_desktop.core.engine.models.bundle import load_bundle
from genre_desktop.core.engine.classify.classifier import Classifier
from genre_desktop.core.engine.models.registry import resolve_model

log = logging.getLogger("bench_fast_path")


def single_genre_mp3s(folder: Path) -> list[Path]:
    """3-minute 44.1-kHz stereo MP3s of three Emotify tracks of one genre each."""
    import numpy as np
    import soundfile as sf
    import soxr

    out = []
    for genre in ("classical", "electronic", "rock", "pop"):
        files = sorted((DATA / "emotify" / genre).glob("*.ogg"))[:3]
        if not files:
            continue
        mono = np.concatenate([soxr.resample(sf.read(str(f), dtype="float32")[0], sf.info(str(f)).samplerate, 44100)
                               for f in files])[: 180 * 44100]
        path = folder / f"{genre}.mp3"
        sf.write(str(path), np.stack([mono, np.roll(mono, 100)], axis=1), 44100, format="MP3",
                 subtype="MPEG_LAYER_III")
        out.append(path)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default=None)
    parser.add_argument("--steps", type=int, nargs="+", default=[2, 3, 4])
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("genre_desktop").setLevel(logging.ERROR)
    clf = Classifier(load_bundle(resolve_model(args.model)), runtime="auto")  # as library workers run
    with tempfile.TemporaryDirectory() as tmp:
        mp3 = make_inputs(Path(tmp))[0]
        decode = best_of(3, lambda: decode_native(mp3))
        full = best_of(3, lambda: clf.classify_file(mp3))
        log.info("3-minute MP3: decode %.0f ms; full timeline %.0f ms = %.2fx", 1000 * decode, 1000 * full,
                 full / decode)
        for step in args.steps:
            fast = best_of(3, lambda: clf.classify_file(mp3, slice_step=step))
            log.info("  every %d. slice: %.0f ms = %.2fx decode", step, 1000 * fast, fast / decode)
        for genre_mp3 in single_genre_mp3s(Path(tmp)):  # a clear verdict: the fast path's case
            decode = best_of(3, lambda: decode_native(genre_mp3))
            full = best_of(3, lambda: clf.classify_file(genre_mp3))
            fast = best_of(3, lambda: clf.classify_file(genre_mp3, slice_step=3))
            ran = len(clf.classify_file(genre_mp3, slice_step=3).slices)
            log.info("3-minute MP3 of Emotify %s: full timeline %.2fx decode, every 3. slice %.2fx (%d of 72 "
                     "slices ran)", genre_mp3.stem, full / decode, fast / decode, ran)
    tracks = sorted(DATA.rglob("*.ogg")) if DATA.is_dir() else []
    if not tracks:
        log.info("no shared data: agreement not measured")
        return
    agree = {step: Counter() for step in args.steps}
    changed = {step: [] for step in args.steps}
    seconds = Counter()
    completed = Counter()
    t0 = time.perf_counter()
    for path in tracks:
        kind = "clips" if path.parent.parent.name == "gtzan_clips" else "tracks"
        t = time.perf_counter()
        decode_native(path)
        seconds["decode"] += time.perf_counter() - t
        seconds[(kind, "decode")] += time.perf_counter() - t
        t = time.perf_counter()
        ref = clf.classify_file(path)
        seconds["full"] += time.perf_counter() - t
        for step in args.steps:
            t = time.perf_counter()
            got = clf.classify_file(path, slice_step=step)
            seconds[step] += time.perf_counter() - t
            seconds[(kind, step)] += time.perf_counter() - t
            completed[step] += len(got.slices) == len(ref.slices) and len(ref.slices) > 1
            same = (got.verdict, got.genre) == (ref.verdict, ref.genre)
            agree[step][(kind, same)] += 1
            if not same:
                changed[step].append(f"{path.name}: {ref.verdict}/{ref.genre} -> {got.verdict}/{got.genre}")
    log.info("%d files in %.0f s; decoding them %.1f s, full timelines %.1f s (%.2fx decode)", len(tracks),
             time.perf_counter() - t0, seconds["decode"], seconds["full"], seconds["full"] / seconds["decode"])
    for step in args.steps:
        c = agree[step]
        total = sum(c.values())
        same = c[("tracks", True)] + c[("clips", True)]
        log.info("every %d. slice: verdict and genre as the full timeline's on %d of %d files (%.1f %%); "
                 "full tracks %d/%d, excerpts %d/%d", step, same, total, 100 * same / total,
                 c[("tracks", True)], c[("tracks", True)] + c[("tracks", False)],
                 c[("clips", True)], c[("clips", True)] + c[("clips", False)])
        log.info("  time %.1f s = %.2fx decode, %.2fx the full timelines; %d files were borderline and "
                 "ran all their slices", seconds[step], seconds[step] / seconds["decode"],
                 seconds[step] / seconds["full"], completed[step])
        log.info("  full tracks alone %.2fx their decode; the 2-3 s excerpts %.2fx (one slice each: the "
                 "network's 3 ms a slice against 1.5 ms to decode one)",
                 seconds[("tracks", step)] / max(seconds[("tracks", "decode")], 1e-9),
                 seconds[("clips", step)] / max(seconds[("clips", "decode")], 1e-9))
        for line in changed[step][:12]:
            log.info("    %s", line)


if __name__ == "__main__":
    main()
