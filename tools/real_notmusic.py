"""Build the set of REAL non-music recordings from what Debian packages ship.

    .venv/bin/python tools/real_notmusic.py [--out build/notmusic] [--outside]

Each package is fetched with ``apt-get download`` (nothing is installed) and unpacked with
``dpkg -x``; its recordings are decoded to 16-kHz mono WAV under ``OUT/audio`` and listed
in ``OUT/manifest.tsv`` (file, package, group, category, kind, split). The audio stays
out of git (``build/`` is ignored); the same package names rebuild the same set.

* speech: telephone prompts read by people (Spanish, Italian, Russian, Colombian Spanish,
  a French voice that is not asterisk's) and KTuberling's spoken words (15 languages);
* animals: GCompris's farm animals; effects: recorded sound effects of games.

Every recording is one ``clip``; a speaker's clips are also joined (0.4 s apart) into
``session`` recordings of at least 30 s, as a longer stretch of speech would be heard.
``split`` is ``train`` or ``val`` by speaker or language (never both); thresholds are chosen
on ``train``. ``--outside`` adds the packages reserved for an outside check (``outside``:
asterisk-core-sounds-en/fr, pocketsphinx-testdata, alsa-utils), never used to choose anything.
GCompris keeps its sounds in Qt resource files: Ogg streams are carved out of them.
"""
from __future__ import annotations

import argparse
import csv
import logging
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

log = logging.getLogger("real_notmusic")
RATE = 16000
SESSION_SECONDS = 30.0
MAX_SESSIONS = 8  # per group
AUDIO = (".wav", ".ogg", ".opus", ".gsm", ".raw", ".flac", ".mp3")

# package: (category, how groups are named, split rule); split "by_group" alternates groups
PACKAGES = {
    "asterisk-core-sounds-es-wav": "speech", "asterisk-core-sounds-it-wav": "speech",
    "asterisk-core-sounds-ru-wav": "speech", "asterisk-prompt-es-co": "speech",
    "asterisk-prompt-fr-armelle": "speech", "ktuberling-data": "speech",
    "gcompris-qt-data": "animal", "tuxpaint-data": "effect", "pingus-data": "effect",
    "tuxtype-data": "effect", "ri-li-data": "effect", "kanagram": "effect", "khangman": "effect",
}
OUTSIDE = {"asterisk-core-sounds-en-wav": "speech", "asterisk-core-sounds-fr-wav": "speech",
           "pocketsphinx-testdata": "speech", "alsa-utils": "speech"}
VAL_SPEECH = {"asterisk-core-sounds-it-wav", "asterisk-prompt-fr-armelle",
              "ktuberling:en", "ktuberling:lt", "ktuberling:uk", "ktuberling:wa", "ktuberling:el",
              "ktuberling:sl"}
GCOMPRIS_KEEP = {"explore_farm_animals": "animal"}  # the other resource files hold music or UI sounds


def fetch(package: str, debs: Path, unpacked: Path) -> Path:
    """``apt-get download`` (into ``debs``) and ``dpkg -x`` (into ``unpacked/package``)."""
    target = unpacked / package
    if target.is_dir():
        return target
    debs.mkdir(parents=True, exist_ok=True)
    if not list(debs.glob(f"{package}_*.deb")):
        subprocess.run(["apt-get", "download", package], cwd=debs, check=True, capture_output=True)
    deb = sorted(debs.glob(f"{package}_*.deb"))[-1]
    unpacked.mkdir(parents=True, exist_ok=True)
    subprocess.run(["dpkg", "-x", str(deb), str(target)], check=True)
    return target


def carve_ogg(rcc: Path, out: Path) -> list[Path]:
    """The Ogg streams stored (uncompressed, each after its 4-byte length) in a Qt .rcc."""
    data, found, i = rcc.read_bytes(), [], 0
    while (i := data.find(b"OggS", i)) >= 0:
        if i >= 4 and len(data) > i + 5 and data[i + 5] & 2:  # the first page of a stream
            n = struct.unpack(">I", data[i - 4:i])[0]
            if 0 < n <= len(data) - i:
                path = out / f"{rcc.stem}_{len(found):03d}.ogg"
                path.write_bytes(data[i:i + n])
                found.append(path)
                i += n
                continue
        i += 4
    return found


def decode(path: Path) -> np.ndarray:
    """16-kHz mono float32: the app's decoder; ffmpeg for GSM and raw 16-bit PCM."""
    if path.suffix not in (".gsm", ".raw"):
        from genre_desktop.core.engine.audio.decode import AudioDecodeError, iter_audio_blocks

        try:
            return np.concatenate([np.zeros(0, np.float32), *iter_audio_blocks(path, RATE, 60.0)])
        except AudioDecodeError as exc:
            raise subprocess.CalledProcessError(1, str(path)) from exc
    fmt = ["-f", "gsm"] if path.suffix == ".gsm" else ["-f", "s16le", "-ar", "16000", "-ac", "1"] \
        if path.suffix == ".raw" else []
    out = subprocess.run(["ffmpeg", "-v", "error", *fmt, "-i", str(path), "-ac", "1", "-ar", str(RATE),
                          "-f", "f32le", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(out, np.float32)


def recordings(package: str, root: Path, scratch: Path) -> list[tuple[str, Path]]:
    """(group, file) of a package's recordings."""
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO)
    if package == "gcompris-qt-data":
        scratch.mkdir(parents=True, exist_ok=True)
        return [(f"gcompris:{rcc.stem}", ogg) for rcc in sorted(root.rglob("*.rcc"))
                if rcc.stem in GCOMPRIS_KEEP for ogg in carve_ogg(rcc, scratch)]
    if package == "ktuberling-data":  # one of each word per language: ogg, else opus, else wav
        best: dict[tuple[str, str], Path] = {}
        for p in files:
            if p.parent.parent.name == "sounds":
                key = (p.parent.name, p.stem)
                if key not in best or AUDIO.index(p.suffix) < AUDIO.index(best[key].suffix):
                    best[key] = p
        return [(f"ktuberling:{lang}", p) for (lang, _), p in sorted(best.items())]
    if package.startswith("asterisk-core-sounds"):  # the packages ship a few formats; wav only
        files = [p for p in files if p.suffix == ".wav"]
    return [(package, p) for p in files]


def split_of(package: str, group: str, category: str, index: int, outside: bool) -> str:
    if outside:
        return "outside"
    if category == "speech":
        return "val" if (group in VAL_SPEECH or package in VAL_SPEECH) else "train"
    return "val" if index % 2 else "train"


def build(out: Path, with_outside: bool) -> Path:
    audio_dir, rows = out / "audio", []
    packages = dict(PACKAGES, **(OUTSIDE if with_outside else {}))
    for package, category in packages.items():
        try:
            root = fetch(package, out / "debs", out / "unpacked")
        except (subprocess.CalledProcessError, IndexError, OSError) as exc:
            log.warning("%s: not fetched (%s)", package, exc)
            continue
        by_group: dict[str, list[np.ndarray]] = {}
        for index, (group, src) in enumerate(recordings(package, root, out / "carved" / package)):
            name = audio_dir / package / f"{index:05d}_{src.stem}.wav"
            try:
                audio = sf.read(name, dtype="float32")[0] if name.is_file() else decode(src)
            except subprocess.CalledProcessError:
                log.info("%s: not decodable", src)
                continue
            if len(audio) < RATE // 4 or not np.isfinite(audio).all():
                continue
            split = split_of(package, group, category, index, package in OUTSIDE)
            if not name.is_file():
                name.parent.mkdir(parents=True, exist_ok=True)
                sf.write(name, audio, RATE, subtype="PCM_16")
            rows.append((str(name.relative_to(out)), package, group, category, "clip", split))
            by_group.setdefault(group, []).append(audio)
        for group, clips in by_group.items() if category == "speech" else ():  # longer stretches
            split = split_of(package, group, category, 0, package in OUTSIDE)
            session, made, gap = [], 0, np.zeros(int(0.4 * RATE), np.float32)
            for clip in clips:
                session += [clip, gap]
                if sum(map(len, session)) >= SESSION_SECONDS * RATE and made < MAX_SESSIONS:
                    name = audio_dir / "sessions" / f"{group.replace(':', '_')}_{made:02d}.wav"
                    name.parent.mkdir(parents=True, exist_ok=True)
                    sf.write(name, np.concatenate(session), RATE, subtype="PCM_16")
                    rows.append((str(name.relative_to(out)), package, group, category, "session", split))
                    session, made = [], made + 1
        log.info("%s: %d recordings so far", package, len(rows))
    manifest = out / "manifest.tsv"
    with open(manifest, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, delimiter="\t")
        w.writerow(["file", "package", "group", "category", "kind", "split"])
        w.writerows(rows)
    return manifest


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "build" / "notmusic")
    parser.add_argument("--outside", action="store_true", help="also the reserved outside-check packages")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    print(build(args.out, args.outside))
    return 0


if __name__ == "__main__":
    sys.exit(main())
