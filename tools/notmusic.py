"""Write a set of audio that is not music: speech, noise, hum, tones, sweeps, clicks.

    python tools/notmusic.py OUTDIR

Speech comes from Debian's ``espeak-ng`` (several voices and speeds), noise, hums, tones
and sweeps from ``sox``; silence with clicks is written with numpy. Used by the tests and
by ``benchmarks/bench_openset.py``; what cannot be made (a missing program) is skipped and
reported.
"""
from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

log = logging.getLogger(__name__)
TEXT = ("Welcome to the evening news. Today we talk about the weather, the markets and a new "
        "library in town, with interviews and a short report from our correspondent.")
VOICES = ("en", "en-us", "de", "fr", "es", "it", "pt", "nl", "pl", "ru")
SPEEDS = (120, 175)
SOX = {
    "noise_white": ["synth", "20", "whitenoise", "vol", "0.3"],
    "noise_pink": ["synth", "20", "pinknoise", "vol", "0.3"],
    "noise_brown": ["synth", "20", "brownnoise", "vol", "0.3"],
    "tone_100": ["synth", "15", "sine", "100", "vol", "0.3"],
    "tone_440": ["synth", "15", "sine", "440", "vol", "0.3"],
    "tone_1000": ["synth", "15", "sine", "1000", "vol", "0.3"],
    "tone_3000": ["synth", "15", "sine", "3000", "vol", "0.3"],
    "square_440": ["synth", "15", "square", "440", "vol", "0.2"],
    "sweep": ["synth", "15", "sine", "100-8000", "vol", "0.3"],
    "hum_50": ["synth", "15", "sine", "50", "sine", "100", "sine", "150", "vol", "0.2"],
    "hum_60": ["synth", "15", "sine", "60", "sine", "120", "sine", "180", "vol", "0.2"],
}


def clicks(seconds: float = 15.0, sr: int = 22050, seed: int = 0) -> np.ndarray:
    """Near-silence (a quiet room) with a click every ~0.7 s."""
    rng = np.random.default_rng(seed)
    audio = (0.003 * rng.standard_normal(int(seconds * sr))).astype(np.float32)
    for start in np.arange(0.3, seconds, 0.7):
        i = int(start * sr)
        audio[i:i + 40] += np.hanning(40).astype(np.float32) * 0.6
    return audio


def write_set(folder: Path, voices=VOICES, speeds=SPEEDS, sox_kinds=tuple(SOX)) -> list[Path]:
    """Write the not-music files into ``folder``; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    if shutil.which("espeak-ng"):
        for voice in voices:
            for speed in speeds:
                path = folder / f"speech_{voice}_{speed}.wav"
                subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(path), TEXT],
                               check=True, capture_output=True)
                out.append(path)
    else:
        log.warning("espeak-ng is not installed: no speech in the not-music set")
    if shutil.which("sox"):
        for kind in sox_kinds:
            path = folder / f"{kind}.wav"
            subprocess.run(["sox", "-n", "-r", "22050", "-c", "1", str(path), *SOX[kind]], check=True,
                           capture_output=True)
            out.append(path)
    else:
        log.warning("sox is not installed: no noise or tones in the not-music set")
    path = folder / "clicks_in_a_quiet_room.wav"
    sf.write(str(path), clicks(), 22050)
    out.append(path)
    return out


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for p in write_set(Path(sys.argv[1] if len(sys.argv) > 1 else "notmusic")):
        print(p)
