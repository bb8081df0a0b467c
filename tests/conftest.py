"""Shared fixtures: synthesised audio, a tiny model the suite trains itself, isolation."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import soundfile as sf  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SR = 16000
TINY_LABELS = ["bass", "treble", "noise"]


def synth(kind: str, seconds: float, sr: int = SR, seed: int = 0) -> np.ndarray:
    """Music-like test signals that a tiny CNN can tell apart.

    ``bass``: low harmonic tones with a pulse; ``treble``: high tones; ``noise``: hiss bursts.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    if kind == "noise":
        env = (np.sin(2 * np.pi * 2 * t) > 0).astype(np.float32) * 0.8 + 0.2
        return (0.2 * env * rng.standard_normal(t.size)).astype(np.float32)
    f0 = (80.0 if kind == "bass" else 1800.0) * (1 + 0.05 * rng.standard_normal())
    tone = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 4))
    pulse = 0.6 + 0.4 * (np.sin(2 * np.pi * 2 * t) > 0)
    return (0.25 * tone * pulse + 0.005 * rng.standard_normal(t.size)).astype(np.float32)


def write(path: Path, audio: np.ndarray, sr: int = SR, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), audio, sr, **kwargs)
    return path


@pytest.fixture(autouse=True)
def _isolated_user_data(tmp_path_factory, monkeypatch):
    """Every test gets its own user data folder (models, caches, settings)."""
    monkeypatch.setenv("GENRE_DESKTOP_DATA", str(tmp_path_factory.mktemp("userdata")))


@pytest.fixture(scope="session")
def tiny_library(tmp_path_factory) -> Path:
    """A labelled library: 3 genres x 6 tracks of 6 s, as OGG files."""
    root = tmp_path_factory.mktemp("library")
    for g, genre in enumerate(TINY_LABELS):
        for i in range(6):
            write(root / genre / f"{genre}_{i}.ogg", synth(genre, 6.0, seed=10 * g + i))
    return root


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A small genre bundle trained by the suite itself on synthesised audio."""
    from genre_desktop.core.engine.models.bundle import BundleMeta, save_bundle
    from genre_desktop.core.engine.audio.features import FeatureConfig, log_mel
    from genre_desktop.core.training.fine_tune import FineTuneOptions, TrackData, evaluate_tracks, train_network

    cfg = FeatureConfig()
    tracks = [TrackData(log_mel(synth(genre, 8.0, seed=100 + 7 * i + g), cfg), g)
              for g, genre in enumerate(TINY_LABELS) for i in range(4)]
    options = FineTuneOptions(epochs=12, batch_size=12, channels=(8, 16, 16, 16), lr=1e-2, seed=0)
    model, _ = train_network(tracks, [], len(TINY_LABELS), 0, options)
    acc, _ = evaluate_tracks(model, tracks, cfg.slice_frames)
    assert acc == 1.0, "the tiny model must learn its synthetic genres"
    folder = tmp_path_factory.mktemp("models") / "tiny"
    meta = BundleMeta(name="tiny", version="0.0.1",
                      architecture={"name": "genre_cnn", "params": {"channels": [8, 16, 16, 16]}},
                      labels=TINY_LABELS, features=cfg,
                      thresholds={"min_confidence": 0.5, "min_agreement": 0.5},
                      provenance={"data": "synthesised by tests/conftest.py"},
                      metrics={"validation_track_accuracy": acc})
    return save_bundle(folder, model, meta)


@pytest.fixture(scope="session")
def tiny_classifier(tiny_model):
    from genre_desktop.core.engine.models.bundle import load_bundle
    from genre_desktop.core.engine.classify.classifier import Classifier

    return Classifier(load_bundle(tiny_model))


@pytest.fixture(scope="session")
def bundled_model_path() -> Path:
    from genre_desktop.core.errors import BundleError
    from genre_desktop.core.engine.models.registry import resolve_model

    try:
        return resolve_model(None)
    except BundleError as exc:
        pytest.skip(f"no bundled model: {exc}")


@pytest.fixture(scope="session")
def virtual_mic(tmp_path_factory):
    """A real PulseAudio null sink whose monitor is the default input ("microphone").

    Yields a function ``play(wav_path)`` that plays a file into it (returns the Popen).
    Skips, with the reason, only where PulseAudio cannot start.
    """
    import shutil
    import subprocess

    if not shutil.which("pulseaudio") or not shutil.which("pactl"):
        pytest.skip("PulseAudio is not installed (./run.sh installs pulseaudio and pulseaudio-utils)")
    started = False
    if subprocess.run(["pulseaudio", "--check"]).returncode != 0:
        proc = subprocess.run(["pulseaudio", "-D", "--exit-idle-time=-1", "--system=false"],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            pytest.skip(f"PulseAudio cannot start here: {proc.stderr.strip()[:200]}")
        started = True
    module = subprocess.run(["pactl", "load-module", "module-null-sink", "sink_name=genre_test_mic",
                             "rate=22050", "channels=1"], capture_output=True, text=True)
    if module.returncode != 0:
        pytest.skip(f"cannot create a PulseAudio null sink: {module.stderr.strip()[:200]}")
    previous = subprocess.run(["pactl", "get-default-source"], capture_output=True, text=True).stdout.strip()
    subprocess.run(["pactl", "set-default-source", "genre_test_mic.monitor"], check=True)
    import sounddevice as sd

    sd._terminate()  # let PortAudio see the devices PulseAudio now provides
    sd._initialize()

    def play(path):
        return subprocess.Popen(["paplay", "--device=genre_test_mic", str(path)])

    yield play
    if previous:
        subprocess.run(["pactl", "set-default-source", previous])
    subprocess.run(["pactl", "unload-module", module.stdout.strip()])
    if started:
        subprocess.run(["pulseaudio", "--kill"])
