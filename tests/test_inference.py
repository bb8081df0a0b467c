import json

import numpy as np
import pytest

from conftest import synth, write
from genre_desktop.core.engine.classify.classifier import Classifier
from genre_desktop.core.tasks import Cancelled


@pytest.mark.parametrize("genre", ["bass", "treble", "noise"])
def test_classifies_synthetic_genres(tiny_classifier, tmp_path, genre):
    path = write(tmp_path / f"{genre}.flac", synth(genre, 12.0, seed=999), 16000)
    result = tiny_classifier.classify_file(path)
    assert result.genre == genre
    assert not result.uncertain
    assert len(result.slices) == 5  # 12 s: 4 full slices + the tail
    assert [s.start for s in result.slices[:4]] == pytest.approx([0, 2.496, 4.992, 7.488])
    assert result.top(3)[0][0] == genre and len(result.top(3)) == 3
    assert result.probs.sum() == pytest.approx(1.0, abs=1e-5)
    record = result.to_json()
    assert record["genre"] == genre and len(record["slices"]) == 5


def test_file_and_audio_paths_agree(tiny_classifier, tmp_path):
    audio = synth("treble", 9.0, seed=5)
    path = write(tmp_path / "t.wav", audio, 16000, subtype="FLOAT")
    a = tiny_classifier.classify_file(path)
    b = tiny_classifier.classify_audio(audio)
    np.testing.assert_allclose(a.probs, b.probs, atol=1e-4)


def test_short_clip_is_padded_not_rejected(tiny_classifier, tmp_path):
    path = write(tmp_path / "short.wav", synth("bass", 0.3), 16000)
    result = tiny_classifier.classify_file(path)
    assert result.genre == "bass" and len(result.slices) == 1


def test_silence_is_not_a_genre(tiny_classifier, tmp_path):
    path = write(tmp_path / "silence.wav", np.zeros(16000 * 60, np.float32), 16000)
    result = tiny_classifier.classify_file(path)
    assert result.genre is None and result.uncertain
    assert "silence" in result.reason
    assert all(s.silent for s in result.slices)


def test_mixed_track_is_uncertain(tiny_classifier):
    audio = np.concatenate([synth("bass", 5.0), synth("treble", 5.0), synth("noise", 5.0)])
    result = tiny_classifier.classify_audio(audio)
    assert result.uncertain and "disagree" in result.reason
    genres = [s.genre for s in result.slices]
    assert genres[0] == "bass" and genres[-1] == "noise"  # the timeline follows the music


def test_cancel(tiny_classifier, tmp_path):
    path = write(tmp_path / "long.wav", synth("bass", 70.0), 16000)
    with pytest.raises(Cancelled):
        tiny_classifier.classify_file(path, should_stop=lambda: True)


def test_progress_and_spectrogram(tiny_classifier, tmp_path):
    path = write(tmp_path / "long.ogg", synth("noise", 65.0), 16000)
    seen = []
    result = tiny_classifier.classify_file(path, progress=lambda f, m: seen.append(f),
                                           keep_spectrogram=True)
    assert seen and seen[-1] == pytest.approx(1.0, abs=0.02) and seen == sorted(seen)
    assert result.spectrogram.shape[0] == 96
    assert result.spectrogram.shape[1] == pytest.approx(65 * 62.5, abs=2)


def test_batch_size_does_not_change_results(tiny_model, tmp_path):
    from genre_desktop.core.engine.models.bundle import load_bundle

    bundle = load_bundle(tiny_model)
    audio = synth("treble", 20.0, seed=3)
    a = Classifier(bundle, batch_size=1).classify_audio(audio)
    b = Classifier(bundle, batch_size=64).classify_audio(audio)
    np.testing.assert_allclose(a.probs, b.probs, atol=1e-5)


def test_spectrogram_is_pooled_while_decoding(tiny_classifier, tmp_path):
    path = write(tmp_path / "long.flac", synth("bass", 120.0), 16000)
    full = tiny_classifier.classify_file(path, keep_spectrogram=True)
    pooled = tiny_classifier.classify_file(path, keep_spectrogram=True, spectrogram_columns=500)
    assert pooled.spectrogram.shape[1] <= 500 and pooled.spectrogram_factor == 16
    n = (full.spectrogram.shape[1] // 16) * 16
    expected = full.spectrogram[:, :n].astype(np.float32).reshape(96, -1, 16).mean(axis=2)
    np.testing.assert_allclose(pooled.spectrogram[:, : expected.shape[1]], expected, atol=0.02)


def test_the_fast_path_runs_a_third_of_the_slices_unless_the_verdict_is_borderline(tiny_classifier, tmp_path,
                                                                                     monkeypatch):
    path = write(tmp_path / "bass.flac", synth("bass", 60.0, seed=5))
    full = tiny_classifier.classify_file(path)
    fast = tiny_classifier.classify_file(path, slice_step=3)
    assert full.verdict == "genre" and (fast.verdict, fast.genre) == (full.verdict, full.genre)
    assert len(fast.slices) == -(-len(full.slices) // 3)  # every third, the first included
    monkeypatch.setattr(Classifier, "borderline", lambda self, result: True)
    decided = tiny_classifier.classify_file(path, slice_step=3)
    assert [s.start for s in decided.slices] == [s.start for s in full.slices]  # all, in time order
    assert np.allclose(decided.probs, full.probs, atol=1e-3) and decided.genre == full.genre
    clip = write(tmp_path / "clip.wav", synth("treble", 1.5))  # one slice: nothing to skip
    assert len(tiny_classifier.classify_file(clip, slice_step=3).slices) == 1


def test_a_pipelined_network_gives_the_serial_timeline_and_stops_cleanly(tiny_classifier, tmp_path):
    import threading

    path = write(tmp_path / "long.flac", synth("treble", 75.0, seed=3))
    serial = Classifier(tiny_classifier.bundle, pipelined=False).classify_file(path)
    pipelined = Classifier(tiny_classifier.bundle, pipelined=True)
    result = pipelined.classify_file(path)
    assert [s.start for s in result.slices] == [s.start for s in serial.slices]
    np.testing.assert_allclose([s.probs for s in result.slices], [s.probs for s in serial.slices], atol=1e-6)
    assert (result.verdict, result.genre) == (serial.verdict, serial.genre)
    calls = []
    with pytest.raises(Cancelled):  # a cancel between blocks: the network thread ends with the call
        pipelined.classify_file(path, should_stop=lambda: calls.append(1) or len(calls) > 2)
    assert not [t for t in threading.enumerate() if t.name.startswith("network")]


def test_onnx_runtime_gives_torchs_numbers(tiny_model, tmp_path, monkeypatch):
    """The app runs the network in ONNX Runtime once its outputs match torch's; the
    exported graph is cached; GENRE_DESKTOP_RUNTIME=torch keeps torch."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from genre_desktop.core.engine.models.bundle import load_bundle
    from genre_desktop.core.paths import onnx_cache_folder

    path = write(tmp_path / "mix.ogg", np.concatenate([synth("bass", 8.0), synth("noise", 8.0)]))
    torch_clf = Classifier(load_bundle(tiny_model))
    fast = Classifier(load_bundle(tiny_model), runtime="auto")
    assert torch_clf.runtime == "torch" and fast.runtime == "onnxruntime"
    assert len(list(onnx_cache_folder().glob("*.onnx"))) == 1
    a, b = torch_clf.classify_file(path), fast.classify_file(path)
    assert (a.verdict, a.genre) == (b.verdict, b.genre)
    assert np.abs(np.stack([s.probs for s in a.slices]) - np.stack([s.probs for s in b.slices])).max() < 1e-4
    assert Classifier(load_bundle(tiny_model), runtime="auto").runtime == "onnxruntime"  # from the cache
    assert len(list(onnx_cache_folder().glob("*.onnx"))) == 1
    monkeypatch.setenv("GENRE_DESKTOP_RUNTIME", "torch")
    assert Classifier(load_bundle(tiny_model), runtime="auto").runtime == "torch"


def test_a_damaged_onnx_cache_entry_is_rebuilt_and_a_cached_one_needs_no_torch(tiny_model, tmp_path, run_cli_process):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from genre_desktop.core.engine.models.bundle import load_bundle
    from genre_desktop.core.paths import onnx_cache_folder

    assert Classifier(load_bundle(tiny_model), runtime="auto").runtime == "onnxruntime"
    (entry,) = onnx_cache_folder().glob("*.onnx")
    for damaged in (entry, entry.with_suffix(".check.npz")):
        good = damaged.read_bytes()
        damaged.write_bytes(b"not a graph")
        clf = Classifier(load_bundle(tiny_model, network=False), runtime="auto")
        assert clf.runtime == "onnxruntime" and clf.bundle.network is not None  # exported afresh from torch
        assert damaged.read_bytes() == good
    lazy = Classifier(load_bundle(tiny_model, network=False), runtime="auto")
    assert lazy.runtime == "onnxruntime" and lazy.bundle.network is None
    with pytest.MonkeyPatch.context() as mp:  # torch's numbers recorded at export must still hold
        mp.setattr("genre_desktop.core.engine.network.onnx_runtime.TOLERANCE", -1.0)
        clf = Classifier(load_bundle(tiny_model, network=False), runtime="auto")
        assert clf.runtime == "torch" and clf.bundle.network is not None
    # the CLI, with the graph cached: a verdict without importing torch
    f = write(tmp_path / "x.wav", synth("bass", 3.0), 16000)
    out = run_cli_process("classify", "--json", "--model", tiny_model, f, forbid_imports=("torch",))
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout)["genre"] == "bass"
