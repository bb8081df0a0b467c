"""What a track costs on the files people have (44.1 kHz stereo MP3, FLAC, M4A), stage by
stage, and whether the verdicts stay the same when that cost is cut.

    python benchmarks/bench_cheaper_track.py [--repeats 3] [--busy K]
    python benchmarks/bench_cheaper_track.py --verdicts OUT.json [--compare BASE.json] [--limit N]

Timing: 3-minute files are built in a temporary folder from real music in ../shared/data
(three 60-s Emotify tracks of one genre, or six 30-s GTZAN excerpts of several; those are
22/16 kHz mono, so they are resampled to 44.1 kHz and given a second channel a few samples
later) and encoded by ffmpeg (MP3 192 kbit/s, FLAC, AAC in M4A 192 kbit/s). For each file,
the best of ``--repeats`` runs of, in CPU seconds of this process and its children (ffmpeg):

  decode      the codec alone at its own rate (libsndfile; ffmpeg to 16-bit PCM for M4A)
  info        ``audio_info`` (rate, channels, length), which ``classify_file`` asks first
  +resample   what the app reads: mono float32 at the model's rate (``iter_audio_blocks``)
  +log-mel    the feature path (``StreamingLogMel``)
  full        ``Classifier.classify_file``: every slice (the window, ``classify``)
  fast        ``classify_file(slice_step=3)``: the library scan's fast path
and each as a multiple of ``decode``, measured in the same run; the network (file-serial,
as a library worker runs it) and the sound tagger are timed apart. Wall-clock ratios of the
pipelined classifier (network in a thread of its own) are printed too. Nothing is asserted.

Verdicts: every file of ../shared/data and the built files classified (full timeline and
fast path, file-serial), written to a JSON file; with ``--compare`` another such file (made
before a change) is read and the verdicts, top-1 genres and decoded audio (a digest of the
samples) that changed are counted, with the largest slice-probability difference.
"""
from __future__ import annotations

from genre_desktop.core.engine.network.threads import set_thread_policy

set_thread_policy()  # as the CLI, the window and library workers run: before numpy loads

import argparse
import hashlib
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from genre_desktop.core.engine.audio.decode import audio_info, iter_audio_blocks
from genre_desktop.core.engine.audio.features import StreamingLogMel
from genre_desktop.core.engine.classify.classifier import Classifier
from genre_desktop.core.engine.classify.sound_tagger import music_probability_of, windows_of
from genre_desktop.core.engine.classify.verdict import fit_slices
from genre_desktop.core.engine.models.bundle import load_bundle
from genre_desktop.core.engine.models.registry import resolve_model

from busy import busy_processes

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
RATE = 44100
FORMATS = {"mp3": ["-c:a", "libmp3lame", "-b:a", "192k"], "flac": ["-c:a", "flac"],
           "m4a": ["-c:a", "aac", "-b:a", "192k"]}


def sources() -> dict[str, list[Path]]:
    """Real tracks to build 3-minute files from, by name."""
    if not DATA.is_dir():
        sys.exit(f"needs the shared data in {DATA}")
    return {"emotify-rock": sorted(DATA.glob("emotify/rock/*.ogg"))[:3],
            "emotify-classical": sorted(DATA.glob("emotify/classical/*.ogg"))[3:6],
            "emotify-electronic": sorted(DATA.glob("emotify/electronic/*.ogg"))[:3],
            "gtzan-medley": sorted(DATA.glob("gtzan/*/*.ogg"))[::37][:6]}


def build_files(folder: Path, names: list[str] | None = None) -> list[Path]:
    """3-minute 44.1 kHz stereo MP3, FLAC and M4A files of each of :func:`sources`."""
    out = []
    for name, tracks in sources().items():
        if names and name not in names:
            continue
        parts = [soxr.resample(sf.read(str(t), dtype="float32")[0], sf.info(str(t)).samplerate, RATE)
                 for t in tracks]
        mono = np.concatenate(parts)[: 180 * RATE]
        wav = folder / f"{name}.wav"
        sf.write(str(wav), np.stack([mono, np.roll(mono, 100)], axis=1), RATE, subtype="PCM_16")
        for ext, codec in FORMATS.items():
            target = folder / f"{name}.{ext}"
            subprocess.run(["ffmpeg", "-nostdin", "-y", "-loglevel", "error", "-i", str(wav), "-ac", "2",
                            "-ar", str(RATE), *codec, str(target)], check=True)
            out.append(target)
        wav.unlink()
    return out


def cpu_now() -> float:
    """CPU seconds of this process and of its finished children (ffmpeg)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def best_of(repeats: int, fn) -> tuple[float, float, object]:
    """(least CPU seconds, least wall seconds, the last result) over ``repeats`` runs."""
    cpu, wall, result = [], [], None
    for _ in range(repeats):
        c, w = cpu_now(), time.perf_counter()
        result = fn()
        wall.append(time.perf_counter() - w)
        cpu.append(cpu_now() - c)
    return min(cpu), min(wall), result


def decode_native(path: Path) -> int:
    """Decode at the file's own rate and channels, keeping nothing: the codec's cost."""
    if path.suffix == ".m4a":
        pcm = subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(path), "-f", "s16le", "-"],
                             capture_output=True, check=True).stdout
        return len(pcm)
    frames = 0
    with sf.SoundFile(str(path)) as f:
        while (n := f.read(f.samplerate * 30, dtype="float32").shape[0]):
            frames += n
    return frames


def features(path: Path, cfg) -> np.ndarray:
    stream = StreamingLogMel(cfg)
    parts = [stream.push(block) for block in iter_audio_blocks(path, cfg.sample_rate)]
    return np.concatenate(parts + [stream.finish()], axis=1)


def measure(args: argparse.Namespace) -> None:
    bundle = load_bundle(resolve_model(args.model))
    serial = Classifier(bundle, runtime="auto", pipelined=False)
    piped = Classifier(bundle, runtime="auto", pipelined=True)
    cfg = bundle.features
    print(f"model {bundle.name}; network in {serial.runtime}; best of {args.repeats}; {args.busy} busy processes;"
          f" CPU seconds (this process + ffmpeg)")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for path in build_files(Path(tmp), args.only):
            serial.classify_file(path)  # warm-up (graph, tagger, caches)
            r = args.repeats
            t_dec, w_dec, _ = best_of(r, lambda: decode_native(path))
            t_info, _, _ = best_of(r, lambda: audio_info(path))
            t_read, _, audio = best_of(r, lambda: np.concatenate(list(iter_audio_blocks(path, cfg.sample_rate))))
            t_mel, _, mel = best_of(r, lambda: features(path, cfg))
            slices, _ = fit_slices(mel, cfg.slice_frames)
            t_net, _, _ = best_of(r, lambda: serial.predict_slices(slices))
            t_tag, _, _ = best_of(r, lambda: music_probability_of(serial, windows_of(audio, cfg.sample_rate)))
            t_full, _, full = best_of(r, lambda: serial.classify_file(path))
            t_fast, _, fast = best_of(r, lambda: serial.classify_file(path, slice_step=3))
            _, w_full, _ = best_of(r, lambda: piped.classify_file(path))
            _, w_fast, _ = best_of(r, lambda: piped.classify_file(path, slice_step=3))
            rows.append((path.suffix[1:], t_dec, t_full, t_fast, w_full / w_dec, w_fast / w_dec))
            print(f"\n{path.name}: {full.verdict} {full.closest} ({full.confidence:.2f}); fast path ran "
                  f"{len(fast.slices)} of {len(full.slices)} slices")
            print(f"  decode {t_dec:.3f}  info {t_info:.3f}  +resample {t_read - t_dec:+.3f}  +log-mel {t_mel - t_read:+.3f}  "
                  f"network {t_net:.3f} ({t_net / len(slices) * 1000:.1f} ms a slice)  tagger {t_tag:.3f}")
            print(f"  full {t_full:.3f} CPU-s = {t_full / t_dec:.2f}x decode   fast {t_fast:.3f} = {t_fast / t_dec:.2f}x"
                  f"   | wall, pipelined: full {w_full / w_dec:.2f}x, fast {w_fast / w_dec:.2f}x decode")
    print("\nper format (mean over the files): decode CPU-s, full and fast as multiples of decode (CPU; wall pipelined)")
    for ext in FORMATS:
        sel = [row for row in rows if row[0] == ext]
        if sel:
            mean = lambda i: float(np.mean([row[i] for row in sel]))
            print(f"  {ext:5s} decode {mean(1):.3f}  full {mean(2):.3f} = {np.mean([s[2] / s[1] for s in sel]):.2f}x"
                  f"  fast {mean(3):.3f} = {np.mean([s[3] / s[1] for s in sel]):.2f}x   wall {mean(4):.2f}x / {mean(5):.2f}x")


def record(clf: Classifier, path: Path) -> dict:
    """What the comparison needs of one file: both verdicts, slice probabilities, a digest
    of the decoded samples."""
    digest = hashlib.sha256()
    full = clf.classify_file(path, audio_digest=digest)
    fast = clf.classify_file(path, slice_step=3)
    return {"verdict": str(full.verdict), "genre": full.genre, "closest": full.closest,
            "fast_verdict": str(fast.verdict), "fast_genre": fast.genre, "audio": digest.hexdigest(),
            "probs": [[float(p) for p in s.probs] for s in full.slices],
            "fast_probs": [[float(p) for p in s.probs] for s in fast.slices]}


def verdicts(args: argparse.Namespace) -> None:
    bundle = load_bundle(resolve_model(args.model))
    clf = Classifier(bundle, runtime="auto", pipelined=False)
    files = sorted(DATA.glob("*/*/*.ogg"))
    if args.limit:
        files = files[:: max(1, len(files) // args.limit)][: args.limit]
    out: dict = {}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        built = build_files(Path(tmp))
        for path in built + files:
            key = path.name if path in built else str(path.relative_to(DATA))
            out[key] = record(clf, path)
    Path(args.verdicts).write_text(json.dumps(out))
    print(f"{len(out)} files ({len(built)} built) classified in {time.perf_counter() - start:.0f} s"
          f" by {clf.runtime} -> {args.verdicts}")
    if args.compare:
        compare(json.loads(Path(args.compare).read_text()), out)


def compare(before: dict, after: dict) -> None:
    common = sorted(set(before) & set(after))
    changed = {k: 0 for k in ("verdict", "genre", "closest", "fast_verdict", "fast_genre", "audio")}
    worst, worst_fast, lengths = 0.0, 0.0, 0
    for key in common:
        a, b = before[key], after[key]
        for field in changed:
            if a[field] != b[field]:
                changed[field] += 1
                if field != "audio":
                    print(f"  {key}: {field} {a[field]} -> {b[field]}")
        for name in ("probs", "fast_probs"):
            pa, pb = np.asarray(a[name]), np.asarray(b[name])
            if pa.shape != pb.shape:
                lengths += 1
                continue
            diff = float(np.abs(pa - pb).max()) if pa.size else 0.0
            worst, worst_fast = (max(worst, diff), worst_fast) if name == "probs" else (worst, max(worst_fast, diff))
    print(f"compared {len(common)} files: " + ", ".join(f"{k} changed {v}" for k, v in changed.items())
          + f"; slice probabilities within {worst:.2g} (fast path {worst_fast:.2g});"
          f" {lengths} timelines of another length")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--busy", type=int, default=0, help="other processes keeping the cores busy")
    parser.add_argument("--only", nargs="*", help="time only these sources (names from sources())")
    parser.add_argument("--verdicts", help="classify every shared file and write the verdicts here")
    parser.add_argument("--compare", help="a --verdicts file made before a change, to compare with")
    parser.add_argument("--limit", type=int, default=0, help="only this many shared files (spread out)")
    args = parser.parse_args()
    if args.verdicts:
        verdicts(args)
        return
    with busy_processes(args.busy):
        measure(args)


if __name__ == "__main__":
    main()
