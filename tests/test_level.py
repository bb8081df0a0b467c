"""The same genre at any loudness, sample rate and encoding.

Level: the network reads each slice brought to one level (``model.normalise_level``), so a
gain on the audio is undone exactly; silence is still told by the raw level. Re-encoding:
the same real track at 16 / 22.05 / 44.1 kHz and as a 128 kbps MP3 keeps its verdict.
``benchmarks/bench_level.py`` measures the sweep on every held-out track.
"""
from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
import soxr
import torch

from conftest import write
from genre_desktop.core.engine.audio.features import FeatureConfig, log_mel
from genre_desktop.core.engine.network.model import normalise_level
from genre_desktop.core.engine.classify.verdict import fit_slices, silent_slices

#: real held-out tracks of the bundled model (model.json validation_tracks)
TRACKS = ["gtzan/hiphop/hiphop.00001.ogg", "gtzan/classical/classical.00013.ogg", "gtzan/pop/pop.00099.ogg"]


def _tone_and_beat(seconds: float = 5.0, sr: int = 16000) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    rng = np.random.default_rng(0)
    beat = np.exp(-((t * 2) % 1) * 10) * rng.standard_normal(t.size)
    return (0.3 * np.sin(2 * np.pi * 330 * t) + 0.1 * beat).astype(np.float32)


def test_a_gain_is_undone_exactly_and_silence_keeps_its_raw_level():
    cfg = FeatureConfig()
    audio = _tone_and_beat()
    loud, _ = fit_slices(log_mel(audio, cfg), cfg.slice_frames)
    quiet, _ = fit_slices(log_mel(audio * np.float32(10 ** (-30 / 20)), cfg), cfg.slice_frames)
    assert np.abs(loud - quiet).max() > 1.0  # the raw log-mel moves with the level ...
    a, b = (normalise_level(torch.from_numpy(x), 1000.0) for x in (loud, quiet))
    assert (a - b).abs().max() < 1e-4  # ... what the network reads does not
    assert normalise_level(torch.from_numpy(loud), None) is not None
    assert torch.equal(normalise_level(torch.from_numpy(loud), None), torch.from_numpy(loud))  # older bundles
    # digital silence stays silent, and silence is judged before the normalisation
    zeros = np.zeros((1, cfg.n_mels, cfg.slice_frames), np.float32)
    assert float(normalise_level(torch.from_numpy(zeros), 1000.0).abs().max()) == 0.0
    hiss, _ = fit_slices(log_mel(np.random.default_rng(1).standard_normal(40000).astype(np.float32) * 1e-5, cfg),
                         cfg.slice_frames)
    assert silent_slices(hiss).all()


def test_the_bundled_model_normalises_the_level(bundled_model_path):
    from genre_desktop.core.engine.models.bundle import read_meta

    params = read_meta(bundled_model_path)["architecture"]["params"]
    assert params.get("level_reference", 0) > 0


@pytest.fixture(scope="module")
def classifier(bundled_model_path):
    from genre_desktop.core.engine.models.bundle import load_bundle
    from genre_desktop.core.engine.classify.classifier import Classifier

    return Classifier(load_bundle(bundled_model_path), runtime="auto")


def _track(shared_data, name: str, sr: int) -> np.ndarray:
    from genre_desktop.core.engine.audio.decode import load_audio

    return load_audio(shared_data / name, sr)


@pytest.mark.parametrize("name", TRACKS[:2])
def test_a_quieter_copy_keeps_its_verdict(classifier, name, shared_data):
    audio = _track(shared_data, name, classifier.config.sample_rate)
    loud = classifier.classify_audio(audio)
    for db in (-20, -30):
        quiet = classifier.classify_audio(audio * np.float32(10 ** (db / 20)))
        assert (quiet.verdict, quiet.genre, quiet.closest) == (loud.verdict, loud.genre, loud.closest), db
        np.testing.assert_allclose(quiet.probs, loud.probs, atol=2e-3)


@pytest.mark.parametrize("name", TRACKS)
def test_resampled_and_mp3_copies_keep_their_verdict(classifier, name, tmp_path, shared_data):
    original = _track(shared_data, name, 44100)
    files = {}
    for sr in (16000, 22050, 44100):
        files[f"{sr} Hz"] = write(tmp_path / f"copy_{sr}.wav", soxr.resample(original, 44100, sr) if sr != 44100
                                  else original, sr)
    if shutil.which("ffmpeg"):
        mp3 = tmp_path / "copy.mp3"
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(files["44100 Hz"]), "-b:a", "128k", str(mp3)],
                       check=True, timeout=120)
        files["128 kbps MP3"] = mp3
    results = {how: classifier.classify_file(path) for how, path in files.items()}
    answers = {how: (r.verdict, r.genre, r.closest) for how, r in results.items()}
    assert len(set(answers.values())) == 1, answers
    assert results["44100 Hz"].closest == name.split("/")[1]  # and it is the right genre
