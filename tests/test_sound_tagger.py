"""The AudioSet sound tagger (core/engine/sound_tagger*.py): features, network, ONNX, decision."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from genre_desktop.core.engine.classify import sound_tagger as st

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "models" / "audioset_mn04"


def test_features_match_a_hand_computation_on_a_tiny_signal():
    """1 200 samples: pre-emphasis, reflect padding, a Hann(800, symmetric) window centred
    in 1024, |rfft|^2, Kaldi triangles, log and the (x + 4.5) / 5 scaling, written out."""
    x = np.sin(2 * np.pi * 1000 * np.arange(1200) / 32000).astype(np.float32) * 0.5
    x[100] += 0.3  # a click: not a pure tone
    y = np.asarray(x, np.float64)
    y = np.concatenate([y[1:] - 0.97 * y[:-1]])
    padded = np.concatenate([y[1:513][::-1], y, y[-513:-1][::-1]])  # numpy "reflect" by hand
    n = np.arange(800)
    window = np.zeros(1024)
    window[112:912] = 0.5 - 0.5 * np.cos(2 * np.pi * n / 799)
    frames = [padded[i * 320:i * 320 + 1024] for i in range(1 + (len(padded) - 1024) // 320)]
    power = np.abs(np.fft.rfft(np.array(frames) * window, axis=1)) ** 2  # (frames, 513)
    mel = lambda f: 1127.0 * np.log(1 + f / 700.0)
    edges = np.linspace(0, mel(15000.0), 130)
    bank = np.zeros((128, 513))
    for m in range(128):
        for k in range(512):  # the Nyquist bin keeps weight 0
            f = mel(k * 32000 / 1024)
            up = (f - edges[m]) / (edges[m + 1] - edges[m])
            down = (edges[m + 2] - f) / (edges[m + 2] - edges[m + 1])
            bank[m, k] = max(0.0, min(up, down))
    want = (np.log(bank @ power.T + 1e-5) + 4.5) / 5
    got = st.tagger_features(x)
    assert got.shape == want.shape == (128, 1 + 1199 // 320)
    assert np.abs(got - want).max() < 1e-3
    assert bank[:, 512].sum() == 0 and st.mel_banks()[:, 512].sum() == 0


def test_mel_banks_are_kaldi_triangles_between_0_and_15_khz():
    bank = st.mel_banks()
    assert bank.shape == (128, 513)
    peaks = bank.argmax(axis=1)
    assert np.all(np.diff(peaks) >= 0) and peaks[-1] * 32000 / 1024 < 15000
    assert bank.max() <= 1.0 and bank[:, int(15000 * 1024 / 32000) + 1:].sum() == 0


def test_shipped_weights_load_strictly_and_match_the_published_state_dict(request):
    net = st.load_network(FOLDER)  # strict: raises on a missing or unexpected key or shape
    assert sum(p.numel() for p in net.parameters()) == 983_599
    meta = json.loads((FOLDER / "model.json").read_text())
    assert meta["labels"][st.MUSIC] == "Music" and meta["labels"][st.SPEECH] == "Speech"
    published_file = request.getfixturevalue("shared_models") / "audioset_mn04" / "mn04_as.pt"  # skips without it
    import torch

    published = torch.load(published_file, map_location="cpu", weights_only=True)
    ours = net.state_dict()
    assert set(published) == set(ours)
    assert all(torch.equal(published[k], ours[k]) for k in published)


def test_damaged_weights_are_refused(tmp_path):
    import shutil

    from safetensors.torch import load_file, save_file

    shutil.copy(FOLDER / "model.json", tmp_path / "model.json")
    tensors = load_file(str(FOLDER / st.WEIGHTS))
    tensors.pop("classifier.5.bias")
    save_file(tensors, str(tmp_path / st.WEIGHTS))
    with pytest.raises(RuntimeError, match="classifier.5.bias"):
        st.load_network(tmp_path)


def _tone_and_noise(seconds: float = 10.0, rate: int = 16000) -> np.ndarray:
    rng = np.random.default_rng(3)
    t = np.arange(int(seconds * rate)) / rate
    return (0.2 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(len(t))).astype(np.float32)


def test_onnx_runtime_matches_torch(tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    monkeypatch.setenv("GENRE_DESKTOP_DATA", str(tmp_path))  # a fresh cache: exported here
    onnx = st.SoundTagger(FOLDER, runtime="auto")
    torch_tagger = st.SoundTagger(FOLDER, runtime="torch")
    assert onnx.runtime == "onnxruntime" and torch_tagger.runtime == "torch"
    audio = _tone_and_noise()
    windows = [audio, audio[: 16000 * 3]]  # a whole window and a short one (tiled)
    a = onnx.window_probabilities(windows, 16000)
    b = torch_tagger.window_probabilities(windows, 16000)
    assert a.shape == (2, 527) and np.abs(a - b).max() < 1e-4
    assert list((tmp_path / "cache" / "onnx").glob("*.onnx")), "the graph was cached"
    again = st.SoundTagger(FOLDER, runtime="auto")  # a cache hit: no torch network built
    assert again.runtime == "onnxruntime" and again.model is None
    assert np.abs(again.window_probabilities(windows, 16000) - b).max() < 1e-4


def test_window_picker_keeps_a_bounded_spread_of_windows():
    rate = 100
    picker = st.WindowPicker(rate, max_windows=4)
    audio = np.repeat(np.arange(37, dtype=np.float32), 10 * rate)  # 37 windows, each its index
    for block in np.array_split(audio, 53):
        picker.push(block)
    kept = [int(w[0]) for w in picker.windows()]
    assert kept == [0, 16, 32]  # at most 4, spread over the track (the stride doubled to 16)
    assert all(len(w) == 10 * rate for w in picker.windows())
    short = st.WindowPicker(rate)
    short.push(np.ones(int(0.3 * rate), np.float32))
    assert short.windows() == []  # under MIN_SECONDS: nothing to judge
    short.push(np.ones(rate, np.float32))
    assert len(short.windows()) == 1


def test_silent_windows_are_left_out():
    tagger = st.SoundTagger(FOLDER, runtime="torch")
    assert tagger.music_probability([np.zeros(16000 * 10, np.float32)], 16000) is None


@pytest.mark.parametrize("verdict,p,steady,want", [
    ("genre", 0.2, False, "not_music"), ("unsure", 0.2, False, "not_music"), ("unknown", 0.2, False, "not_music"),
    ("genre", 0.9, False, "genre"), ("not_music", 0.9, False, "unknown"), ("not_music", 0.9, True, "not_music"),
    ("silence", 0.1, False, "silence"), ("genre", None, False, "genre"), ("not_music", None, False, "not_music")])
def test_music_verdict(verdict, p, steady, want):
    assert st.music_verdict(verdict, p, steady, threshold=0.5) == want


def test_the_tagger_can_be_switched_off(monkeypatch):
    class Bundle:
        openset = object()

    class Classifier:
        bundle, runtime = Bundle(), "torch"

    monkeypatch.setenv(st.TAGGER_ENV, "off")
    assert st.tagger_for(Classifier()) is None
    monkeypatch.delenv(st.TAGGER_ENV)
    assert st.tagger_for(Classifier()) is not None
    Classifier.bundle = type("NoOpenSet", (), {"openset": None})()
    assert st.tagger_for(Classifier()) is None


def test_a_genre_a_person_taught_keeps_its_name():
    """A user model's own new genre (a 'white noise' or 'spoken word' genre) is not overruled
    by the tagger; bundled genres, kept or re-taught, are."""
    meta = {"labels": ["classical", "rock", "spoken word"],
            "provenance": {"base_model": "genre_musicnn_v3", "known_genres": ["rock"], "kept_genres": ["classical"]}}
    assert st.taught_genres(meta) == {"spoken word"}
    assert st.taught_genres({"labels": ["rock"], "provenance": {"recipe": "x"}}) == frozenset()  # bundled
    assert st.music_verdict("genre", 0.01, taught=True) == "genre"
    assert st.music_verdict("genre", 0.01, taught=False) == "not_music"
    assert st.music_verdict("unknown", 0.01, taught=True) == "not_music"
