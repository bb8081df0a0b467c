"""Real speech is "not music", real music stays music (the bundled model with its sound tagger).

The speech is people reading telephone prompts: Debian's ``asterisk-prompt-es-co``
(Colombian Spanish, 1 MB), fetched with ``apt-get download`` into a cache folder
(``GENRE_DESKTOP_TEST_DEBS``, default ``build/test-debs``) and unpacked with ``dpkg -x``;
nothing is installed. Without apt-get, dpkg or a reachable archive the test skips and says
why. The music is a shared GTZAN track, as it is and band-limited to a telephone line.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "asterisk-prompt-es-co"


def _prompts() -> list[Path]:
    cache = Path(os.environ.get("GENRE_DESKTOP_TEST_DEBS", ROOT / "build" / "test-debs"))
    unpacked = cache / PACKAGE
    if not unpacked.is_dir():
        if not (shutil.which("apt-get") and shutil.which("dpkg") and shutil.which("ffmpeg")):
            pytest.skip("needs apt-get, dpkg and ffmpeg to fetch and read a Debian package's recordings")
        cache.mkdir(parents=True, exist_ok=True)
        got = subprocess.run(["apt-get", "download", PACKAGE], cwd=cache, capture_output=True, text=True,
                             timeout=300)
        debs = sorted(cache.glob(f"{PACKAGE}_*.deb"))
        if got.returncode or not debs:
            pytest.skip(f"apt-get download {PACKAGE} failed (no archive reachable?): "
                        f"{(got.stderr or got.stdout).strip().splitlines()[-1:]}")
        subprocess.run(["dpkg", "-x", str(debs[-1]), str(unpacked)], check=True, timeout=120)
    prompts = sorted(unpacked.rglob("*.gsm"))
    assert prompts, f"{PACKAGE} ships no GSM prompts any more"
    return prompts


def _decode_gsm(path: Path) -> np.ndarray:
    out = subprocess.run(["ffmpeg", "-v", "error", "-f", "gsm", "-i", str(path), "-ac", "1", "-ar", "16000",
                          "-f", "f32le", "-"], capture_output=True, check=True, timeout=60).stdout
    return np.frombuffer(out, np.float32)


@pytest.fixture(scope="module")
def speech_wav(tmp_path_factory) -> Path:
    """About 20 s of prompts read by a person, 0.4 s apart."""
    parts, total = [], 0
    for prompt in _prompts()[10:]:
        audio = _decode_gsm(prompt)
        parts += [audio, np.zeros(6400, np.float32)]
        total += len(audio) + 6400
        if total >= 20 * 16000:
            break
    path = tmp_path_factory.mktemp("speech") / "prompts.wav"
    sf.write(path, np.concatenate(parts), 16000, subtype="PCM_16")
    return path


@pytest.fixture(scope="module")
def classifier(bundled_model_path):
    from genre_desktop.core.engine.models.bundle import load_bundle
    from genre_desktop.core.engine.classify.classifier import Classifier

    return Classifier(load_bundle(bundled_model_path), runtime="auto")


def test_real_speech_is_not_music_in_a_file_and_live(classifier, speech_wav):
    from genre_desktop.core.engine.classify.live import LiveAnalyzer

    result = classifier.classify_file(speech_wav)
    assert result.verdict == "not_music", (result.verdict, result.music_probability, result.reason)
    assert result.music_probability is not None and result.music_probability < 0.2
    assert "sound tagger" in result.reason or "not music" in result.reason
    audio = sf.read(speech_wav, dtype="float32")[0]
    analyzer = LiveAnalyzer(classifier, hop_seconds=1.0)
    predictions = []
    for block in np.array_split(audio, len(audio) // 1600):
        predictions += analyzer.feed(block).predictions
    assert predictions[-1].verdict == "not_music", predictions[-1]


def test_a_music_track_stays_music_also_through_a_telephone_line(classifier, tmp_path, shared_data):
    music = shared_data / "gtzan" / "rock" / "rock.00003.ogg"
    from scipy.signal import butter, sosfiltfilt

    from genre_desktop.core.engine.audio.decode import iter_audio_blocks

    result = classifier.classify_file(music)
    assert result.verdict != "not_music" and result.music_probability > 0.5, result
    audio = np.concatenate(list(iter_audio_blocks(music, 16000, 30.0)))
    phone = sosfiltfilt(butter(4, [300, 3400], btype="bandpass", fs=16000, output="sos"), audio)
    path = tmp_path / "phone.wav"
    sf.write(path, phone.astype(np.float32), 16000, subtype="PCM_16")
    band = classifier.classify_file(path)
    assert band.verdict != "not_music" and band.music_probability > 0.5, band


def test_without_the_tagger_the_same_speech_is_judged_by_todays_rule_alone(classifier, speech_wav, monkeypatch):
    monkeypatch.setenv("GENRE_DESKTOP_SOUND_TAGGER", "off")
    result = classifier.classify_file(speech_wav)
    assert result.music_probability is None  # the tagger was not consulted
