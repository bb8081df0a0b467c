"""Not music on REAL recordings: the sound tagger's P(Music) against today's rule.

    python benchmarks/bench_notmusic.py [--set build/notmusic] [--limit N] [--choose]

Non-music: the set of ``tools/real_notmusic.py`` (speech read by people in many languages,
animals, recorded sound effects; ``train`` and ``val`` split by speaker or language), and,
reported apart, the reserved outside check (``--outside`` of that tool: asterisk's English
and French prompts, pocketsphinx's test utterances, alsa-utils' voices) when it was built;
it never chooses anything. Music: every shared file (GTZAN, GTZAN clips, Emotify) and a
telephone-band copy of each (300-3400 Hz, 4th-order Butterworth, then 8 kHz).

Each file goes through the bundled model with the tagger off (today's rule: the genre
model's open-set and steady-sound tests) and through the tagger (mean P(Music) over at most
``sound_tagger.MAX_WINDOWS`` 10-s windows); the new verdict is
:func:`genre_desktop.core.engine.classify.sound_tagger.music_verdict` of the two, exactly what the
classifier does. ``--choose`` prints the threshold rule's choice: among the thresholds whose
false alarms on GTZAN (full tracks and clips, both bands) stay at most 1 %, the lowest whose
recall on the ``train`` non-music is within 1 point of the best; Emotify and ``val`` are
never looked at while choosing. Then the cost per
3-minute track: decoding, the genre model, the tagger (ms, and as a ratio to decoding).
"""
from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"
log = logging.getLogger("bench_notmusic")
MAX_MUSIC_FALSE_ALARMS = 0.01
RECALL_SLACK = 0.01  # recall given up on train for a threshold further from music


def telephone_band(audio: np.ndarray, rate: int) -> tuple[np.ndarray, int]:
    """300-3400 Hz (4th-order Butterworth, zero phase) at 8 kHz: a telephone line."""
    import soxr
    from scipy.signal import butter, sosfiltfilt

    sos = butter(4, [300, 3400], btype="bandpass", fs=rate, output="sos")
    return soxr.resample(sosfiltfilt(sos, audio).astype(np.float32), rate, 8000).astype(np.float32), 8000


def score_file(classifier, tagger, path: Path) -> dict:
    """Today's verdict (tagger off), whether its steady test fired, and the tagger's P(Music)."""
    from genre_desktop.core.engine.audio.decode import iter_audio_blocks
    from genre_desktop.core.engine.classify.sound_tagger import WindowPicker

    result = classifier.classify_file(path)
    picker = WindowPicker(classifier.config.sample_rate)
    for block in iter_audio_blocks(path, classifier.config.sample_rate, 30.0):
        picker.push(block)
    p = tagger.music_probability(picker.windows(), classifier.config.sample_rate)
    return {"old": result.verdict, "steady": "steady" in (result.reason or ""), "p_music": p,
            "seconds": result.duration}


def score_music(classifier, tagger, shard: tuple[int, int] = (0, 1), flush=lambda rows: None,
                only: str = "") -> list[dict]:
    import soundfile as sf

    from genre_desktop.core.engine.audio.decode import iter_audio_blocks

    rows = []
    with open(DATA / "manifest.tsv", newline="", encoding="utf-8") as f:
        files = [r["file"] for r in csv.DictReader(f, delimiter="\t") if r["file"].startswith(only)]
    if only:  # a helper run for one set: from its end, to meet the main runs in the middle
        files = files[::-1]
    with tempfile.TemporaryDirectory() as tmp:
        for i, rel in enumerate(files):
            if i % shard[1] != shard[0]:
                continue
            path = DATA / rel
            rows.append({"file": rel, "set": rel.split("/")[0], "band": "full", **score_file(classifier, tagger, path)})
            audio = np.concatenate(list(iter_audio_blocks(path, 16000, 30.0)))
            tele, rate = telephone_band(audio, 16000)
            copy = Path(tmp) / "tele.wav"
            sf.write(copy, tele, rate, subtype="PCM_16")
            rows.append({"file": rel, "set": rel.split("/")[0], "band": "telephone",
                         **score_file(classifier, tagger, copy)})
            if i % 50 == shard[0]:
                log.info("music %d/%d", i, len(files))
                flush(rows)
    return rows


def score_notmusic(classifier, tagger, folder: Path, limit: int, shard: tuple[int, int] = (0, 1)) -> list[dict]:
    with open(folder / "manifest.tsv", newline="", encoding="utf-8") as f:
        entries = list(csv.DictReader(f, delimiter="\t"))
    if limit:  # at most ``limit`` clips of each group, spread over it; every session
        groups = defaultdict(list)
        for e in entries:
            groups[(e["group"], e["kind"])].append(e)
        entries = [e for (_, kind), g in groups.items()
                   for e in (g if kind == "session" else g[::max(1, -(-len(g) // limit))])]
    rows = []
    for i, e in enumerate(entries):
        if i % shard[1] != shard[0]:
            continue
        rows.append({**e, **score_file(classifier, tagger, folder / e["file"])})
        if i % 500 == 0:
            log.info("not music %d/%d", i, len(entries))
    return rows


def new_verdict(row: dict, threshold: float) -> str:
    from genre_desktop.core.engine.classify.sound_tagger import music_verdict

    return music_verdict(row["old"], row["p_music"], row["steady"], threshold)


def flagged(rows: list[dict], threshold: float | None) -> float:
    """Share of rows called "not music" (today's rule when threshold is None)."""
    if not rows:
        return float("nan")
    return float(np.mean([(r["old"] if threshold is None else new_verdict(r, threshold)) == "not_music"
                          for r in rows]))


def choose_threshold(notmusic: list[dict], music: list[dict]) -> float:
    train = [r for r in notmusic if r["split"] == "train"]
    chosen = [r for r in music if r["set"] in ("gtzan", "gtzan_clips")]
    grid = [float(t) for t in np.round(np.arange(0.05, 0.951, 0.01), 2)]
    allowed = [t for t in grid if flagged(chosen, t) <= MAX_MUSIC_FALSE_ALARMS]
    if not allowed:
        return grid[0]
    best = max(flagged(train, t) for t in allowed)
    # the lowest (safest for music) threshold within RECALL_SLACK of the best recall
    return min(t for t in allowed if flagged(train, t) >= best - RECALL_SLACK)


def report(notmusic: list[dict], music: list[dict], threshold: float) -> None:
    def line(name, rows):
        if rows:
            log.info("  %-44s n=%4d  today %5.1f %%  new %5.1f %%", name, len(rows),
                     100 * flagged(rows, None), 100 * flagged(rows, threshold))

    log.info("threshold P(Music) < %.2f; not music flagged (recall):", threshold)
    groups = defaultdict(list)
    for r in notmusic:
        groups[(r["split"], r["category"], r["kind"])].append(r)
    for key in sorted(groups):
        line("/".join(key), groups[key])
    for split in ("train", "val", "outside"):
        line(f"{split}: all speech", [r for r in notmusic if r["split"] == split and r["category"] == "speech"])
    by_pkg = defaultdict(list)
    for r in notmusic:
        by_pkg[(r["split"], r["group"].split(":")[0] if r["split"] != "outside" else r["package"])].append(r)
    for key in sorted(by_pkg):
        line(f"  {key[0]} {key[1]}", by_pkg[key])
    log.info("music flagged not music (false alarms):")
    for band in ("full", "telephone"):
        for s in ("gtzan", "gtzan_clips", "emotify"):
            line(f"{s} ({band} band)", [r for r in music if r["set"] == s and r["band"] == band])
        line(f"all shared music ({band} band)", [r for r in music if r["band"] == band])
    line("all shared music, both bands", music)
    missed = Counter((r["band"], r["set"]) for r in music if new_verdict(r, threshold) == "not_music")
    log.info("music called not music by the new rule: %s", dict(missed))
    log.info("new verdicts on music: %s", dict(Counter(new_verdict(r, threshold) for r in music)))
    log.info("today's verdicts on music: %s", dict(Counter(r["old"] for r in music)))


def cost(classifier, tagger, repeats: int = 3) -> None:
    """Per 3-minute track (six GTZAN tracks joined): decode, genre model, tagger."""
    import soundfile as sf

    from genre_desktop.core.engine.audio.decode import iter_audio_blocks
    from genre_desktop.core.engine.classify.sound_tagger import WindowPicker

    parts = sorted((DATA / "gtzan").rglob("*.ogg"))[:6]
    audio = np.concatenate([np.concatenate(list(iter_audio_blocks(p, 22050, 30.0))) for p in parts])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "track.ogg"
        sf.write(path, audio, 22050)
        times = defaultdict(list)
        for _ in range(repeats):
            t0 = time.perf_counter()
            blocks = list(iter_audio_blocks(path, classifier.config.sample_rate, 30.0))
            t1 = time.perf_counter()
            classifier.classify_file(path)
            t2 = time.perf_counter()
            picker = WindowPicker(classifier.config.sample_rate)
            for b in blocks:
                picker.push(b)
            tagger.music_probability(picker.windows(), classifier.config.sample_rate)
            t3 = time.perf_counter()
            times["decode"].append(t1 - t0)
            times["classify (decode + genre model)"].append(t2 - t1)
            times["tagger"].append(t3 - t2)
    decode = min(times["decode"])
    log.info("cost per %.0f-s track (best of %d, tagger in %s, %d windows):", len(audio) / 22050, repeats,
             tagger.runtime, len(picker.windows()))
    for name, values in times.items():
        log.info("  %-34s %7.1f ms  (%.2f x decoding)", name, 1000 * min(values), min(values) / decode)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", type=Path, default=ROOT / "build" / "notmusic")
    parser.add_argument("--limit", type=int, default=40, help="at most this many clips of each speaker or "
                        "source (0: all); every session and every music file is used")
    parser.add_argument("--reuse", action="store_true", help="report the scores of the last run (SET/scores-*.json)")
    parser.add_argument("--only", default="", help="music only, of this shared set (e.g. gtzan_clips)")
    parser.add_argument("--shard", default="0/1", help="K/N: score only every N-th file from the K-th (run N "
                        "processes, then --reuse)")
    parser.add_argument("--choose", action="store_true", help="print the threshold the rule chooses")
    parser.add_argument("--no-cost", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    os.environ["GENRE_DESKTOP_SOUND_TAGGER"] = "off"  # today's rule from the classifier; the tagger apart
    from genre_desktop.core.engine.models.bundle import load_bundle
    from genre_desktop.core.engine.classify.classifier import Classifier
    from genre_desktop.core.engine.models.registry import resolve_model
    from genre_desktop.core.engine.classify.sound_tagger import MUSIC_THRESHOLD, SoundTagger

    if not (args.set / "manifest.tsv").is_file():
        log.error("no real non-music set at %s: run tools/real_notmusic.py first", args.set)
        return 2
    classifier = Classifier(load_bundle(resolve_model(None)), runtime="auto")
    tagger = SoundTagger(runtime="auto")
    k, n = (int(v) for v in args.shard.split("/"))
    if args.reuse:
        notmusic, music = [], []
        seen = set()
        for part in sorted(args.set.glob("scores-*.json")):
            a, b = json.loads(part.read_text())
            notmusic += a
            music += [r for r in b if (r["file"], r["band"]) not in seen]
            seen |= {(r["file"], r["band"]) for r in b}
    else:
        scores = args.set / f"scores-{args.only}{k}of{n}.json"
        notmusic = [] if args.only else score_notmusic(classifier, tagger, args.set, args.limit, (k, n))
        scores.write_text(json.dumps([notmusic, []]))
        music = score_music(classifier, tagger, (k, n), lambda rows: scores.write_text(json.dumps([notmusic, rows])),
                            args.only)
        scores.write_text(json.dumps([notmusic, music]))
        if n > 1:
            return 0
    threshold = choose_threshold(notmusic, music) if args.choose else MUSIC_THRESHOLD
    if args.choose:
        log.info("chosen threshold: %.2f (shipped: %.2f)", threshold, MUSIC_THRESHOLD)
    report(notmusic, music, threshold)
    if not args.no_cost and DATA.is_dir():
        cost(classifier, tagger)
    return 0


if __name__ == "__main__":
    sys.exit(main())
