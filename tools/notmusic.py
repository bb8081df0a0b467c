"""Write a set of audio that is not music: speech, noise, hum, tones, sweeps, clicks.

    python tools/notmusic.py OUTDIR [--held-out]

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


#: a second set, never looked at while choosing any rule or margin: other voices, texts,
#: frequencies, levels and lengths (``write_set(folder, held_out=True)``)
HELD_OUT_TEXT = ("Good morning. This is your captain speaking: we expect a smooth flight, and we will "
                 "land in about two hours. Please keep your seat belt fastened while seated.")
HELD_OUT_VOICES = ("sv", "cs", "hu", "fi", "tr", "el", "da", "ro", "id", "en-gb-scotland")
HELD_OUT_SPEEDS = (140, 200)
HELD_OUT_SOX = {
    "noise_white_quiet": ["synth", "25", "whitenoise", "vol", "0.05"],
    "noise_pink_loud": ["synth", "12", "pinknoise", "vol", "0.6"],
    "fan": ["synth", "20", "brownnoise", "lowpass", "800", "vol", "0.5"],
    "tone_250": ["synth", "12", "sine", "250", "vol", "0.4"],
    "tone_2000": ["synth", "12", "sine", "2000", "vol", "0.2"],
    "dial_tone": ["synth", "12", "sine", "350", "sine", "440", "vol", "0.3"],
    "triangle_220": ["synth", "12", "triangle", "220", "vol", "0.3"],
    "sweep_down": ["synth", "12", "sine", "6000-200", "vol", "0.3"],
    "hum_50_buzz": ["synth", "20", "square", "50", "lowpass", "400", "vol", "0.3"],
    "room_tone": ["synth", "20", "brownnoise", "vol", "0.02"],
}


def clicks(seconds: float = 15.0, sr: int = 22050, seed: int = 0, every: float = 0.7) -> np.ndarray:
    """Near-silence (a quiet room) with a click every ``every`` seconds."""
    rng = np.random.default_rng(seed)
    audio = (0.003 * rng.standard_normal(int(seconds * sr))).astype(np.float32)
    for start in np.arange(0.3, seconds, every):
        i = int(start * sr)
        audio[i:i + 40] += np.hanning(40).astype(np.float32) * 0.6
    return audio


def write_set(folder: Path, voices=None, speeds=None, sox_kinds=None, held_out: bool = False) -> list[Path]:
    """Write the not-music files into ``folder``; returns their paths. ``held_out``: the
    second set (:data:`HELD_OUT_VOICES`, :data:`HELD_OUT_SOX`, other clicks)."""
    folder.mkdir(parents=True, exist_ok=True)
    voices = voices or (HELD_OUT_VOICES if held_out else VOICES)
    speeds = speeds or (HELD_OUT_SPEEDS if held_out else SPEEDS)
    sox = HELD_OUT_SOX if held_out else SOX
    sox_kinds = tuple(sox) if sox_kinds is None else sox_kinds
    text = HELD_OUT_TEXT if held_out else TEXT
    out = []
    if shutil.which("espeak-ng"):
        for voice in voices:
            for speed in speeds:
                path = folder / f"speech_{voice}_{speed}.wav"
                subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(path), text],
                               check=True, capture_output=True)
                out.append(path)
    else:
        log.warning("espeak-ng is not installed: no speech in the not-music set")
    if shutil.which("sox"):
        for kind in sox_kinds:
            path = folder / f"{kind}.wav"
            subprocess.run(["sox", "-n", "-r", "22050", "-c", "1", str(path), *sox[kind]], check=True,
                           capture_output=True)
            out.append(path)
    else:
        log.warning("sox is not installed: no noise or tones in the not-music set")
    path = folder / "clicks_in_a_quiet_room.wav"
    sf.write(str(path), clicks(20.0, seed=7, every=1.3) if held_out else clicks(), 22050)
    out.append(path)
    return out


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for p in write_set(Path(sys.argv[1] if len(sys.argv) > 1 else "notmusic"), held_out="--held-out" in sys.argv):
        print(p)
