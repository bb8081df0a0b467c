"""Does loudness change the genre? A level sweep on held-out real music.

    python benchmarks/bench_level.py [--model PATH] [--compare OLD_MODEL] [--limit N]
    python benchmarks/bench_level.py --reencode 60   # resampled / MP3 copies instead

The bundled model's own validation tracks and excerpts (``model.json`` provenance: artist-
grouped, never seen by its head, its open set or its temperature), from ``../shared/data``,
each decoded once at the model's rate and classified through the app's path
(``Classifier.classify_audio``) at 0, -6, -12, -20 and -30 dB. Reported per step: top-1
accuracy (the closest genre, whatever the verdict), strict accuracy (a confident, right
genre), hedged answers, and verdict flips against 0 dB (the answer a person sees, verdict
and genre, changed). ``--compare`` runs a second model (e.g. the previous bundle, from git)
on the same audio. Results: ``build/bench_level.json``.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"
STEPS_DB = (0, -6, -12, -20, -30)
log = logging.getLogger("bench_level")


def answer(result) -> tuple:
    """What a person sees: the verdict and, for a genre or a "not sure", the genre."""
    return result.verdict, result.genre


def classify_sweep(classifier, tracks: list[tuple[str, str, np.ndarray]], steps=STEPS_DB) -> dict:
    """``{step: [TrackResult per track]}``: each of ``tracks`` (path, genre, audio) at each gain."""
    out = {}
    for db in steps:
        gain = np.float32(10 ** (db / 20))
        out[db] = [classifier.classify_audio(audio * gain, path) for path, _, audio in tracks]
        log.info("  %d dB done", db)
    return out


def summarise(answers: dict, truth: list[str], pick: list[bool]) -> dict:
    """``{step: {top1, strict, hedged, flips, top1_flips, n}}`` over the picked tracks."""
    steps = list(answers)
    out = {}
    for db, results in answers.items():
        rs = [r for r, p in zip(results, pick) if p]
        r0 = [r for r, p in zip(answers[steps[0]], pick) if p]
        gs = [g for g, p in zip(truth, pick) if p]
        out[db] = {"top1": float(np.mean([r.closest == g for r, g in zip(rs, gs)])),
                   "strict": float(np.mean([r.verdict == "genre" and r.genre == g for r, g in zip(rs, gs)])),
                   "hedged": float(np.mean([r.verdict != "genre" for r in rs])),
                   "flips": float(np.mean([answer(a) != answer(b) for a, b in zip(rs, r0)])),
                   "top1_flips": float(np.mean([a.closest != b.closest for a, b in zip(rs, r0)])),
                   "n": len(rs)}
    return out


def reencode_sweep(classifier, paths: list[str]) -> dict:
    """The same track at 16 / 22.05 / 44.1 kHz (WAV) and as a 128 kbps MP3 (ffmpeg), through
    ``classify_file``: ``{variant: {changed, top1_changed, n}}`` against the 44.1-kHz WAV."""
    import shutil
    import subprocess
    import tempfile

    import soundfile as sf
    import soxr

    from genre_desktop.core.engine.audio.decode import load_audio

    answers: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        for k, rel in enumerate(paths):
            audio = load_audio(DATA / rel, 44100)
            files = {}
            for sr in (44100, 22050, 16000):
                files[f"{sr} Hz"] = Path(tmp) / f"{k}_{sr}.wav"
                sf.write(str(files[f"{sr} Hz"]), audio if sr == 44100 else soxr.resample(audio, 44100, sr), sr)
            if shutil.which("ffmpeg"):
                files["128 kbps MP3"] = Path(tmp) / f"{k}.mp3"
                subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(files["44100 Hz"]), "-b:a", "128k",
                                str(files["128 kbps MP3"])], check=True, timeout=120)
            for how, f in files.items():
                answers.setdefault(how, []).append(classifier.classify_file(f))
    ref = answers["44100 Hz"]
    return {how: {"changed": float(np.mean([answer(a) != answer(b) for a, b in zip(rs, ref)])),
                  "top1_changed": float(np.mean([a.closest != b.closest for a, b in zip(rs, ref)])),
                  "verdicts": {v: sum(r.verdict == v for r in rs) for v in {r.verdict for r in rs}}, "n": len(rs)}
            for how, rs in answers.items() if how != "44100 Hz"}


def held_out_tracks(meta: dict, limit: int | None, sample_rate: int) -> list[tuple[str, str, np.ndarray]]:
    """(path, genre, mono audio at ``sample_rate``) of the model's validation items."""
    from genre_desktop.core.engine.audio.decode import load_audio

    paths = [p for p in meta["provenance"].get("validation_tracks", []) if (DATA / p).is_file()]
    if limit:
        paths = paths[::max(1, len(paths) // limit)][:limit]
    return [(p, Path(p).parent.name, load_audio(DATA / p, sample_rate)) for p in paths]


def table(name: str, res: dict) -> str:
    lines = [f"\n{name}", "| level | top-1 | strict | hedged | answers changed vs 0 dB | top genre changed |",
             "| --- | --- | --- | --- | --- | --- |"]
    for db, r in res.items():
        lines.append(f"| {db} dB | {100 * r['top1']:.1f} % | {100 * r['strict']:.1f} % | {100 * r['hedged']:.1f} % "
                     f"| {100 * r['flips']:.1f} % | {100 * r['top1_flips']:.1f} % |")
    return "\n".join(lines)


def main() -> None:
    from genre_desktop.core.engine.network.threads import set_thread_policy

    set_thread_policy()
    from genre_desktop.core.engine.models.bundle import load_bundle
    from genre_desktop.core.engine.classify.classifier import Classifier
    from genre_desktop.core.engine.models.registry import resolve_model

    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=None, help="model name or folder (default: the bundled model)")
    parser.add_argument("--compare", type=Path, default=None, help="a second model folder on the same audio")
    parser.add_argument("--limit", type=int, default=None, help="at most this many validation items")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bench_level.json")
    parser.add_argument("--reencode", type=int, default=0, metavar="N",
                        help="instead: N validation items resampled (16/22.05 kHz) and MP3-encoded, verdicts compared")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not DATA.is_dir():
        log.error("needs ../shared/data")
        return
    bundle = load_bundle(resolve_model(args.model))
    t0 = time.perf_counter()
    if args.reencode:
        paths = [p for p in bundle.meta["provenance"].get("validation_tracks", []) if (DATA / p).is_file()]
        paths = paths[::max(1, len(paths) // args.reencode)][:args.reencode]
        res = reencode_sweep(Classifier(bundle, runtime="auto"), paths)
        for how, r in res.items():
            log.info("%s: %.1f %% of answers changed, top genre %.1f %% (n=%d) %s", how, 100 * r["changed"],
                     100 * r["top1_changed"], r["n"], r["verdicts"])
        args.out.with_name("bench_reencode.json").write_text(json.dumps(res, indent=1))
        return
    tracks = held_out_tracks(bundle.meta, args.limit, bundle.features.sample_rate)
    log.info("%d validation items decoded in %.0f s", len(tracks), time.perf_counter() - t0)
    excerpt = [t[0].startswith("gtzan_clips/") for t in tracks]
    groups = {"all": [True] * len(tracks), "full tracks": [not e for e in excerpt], "2-3-s excerpts": excerpt}
    models = {f"{bundle.meta['name']} {bundle.meta.get('version', '')}": bundle}
    if args.compare:
        old = load_bundle(args.compare)
        models[f"{old.meta['name']} {old.meta.get('version', '')} (compare)"] = old
    results: dict = {}
    truth = [genre for _, genre, _ in tracks]
    for name, b in models.items():
        answers = classify_sweep(Classifier(b, runtime="auto"), tracks)
        for group, pick in groups.items():
            if any(pick):
                title = f"{name}, {group} ({sum(pick)})"
                results[title] = res = summarise(answers, truth, pick)
                log.info("%s", table(title, res))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))
    log.info("written %s (%.0f s)", args.out, time.perf_counter() - t0)


if __name__ == "__main__":
    main()
