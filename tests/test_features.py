import json

import librosa
import numpy as np
import pytest

from genre_desktop.core.engine.audio.features import FeatureConfig, StreamingLogMel, log_mel
from genre_desktop.core.engine.classify.verdict import fit_slices


def test_log_mel_matches_librosa():
    cfg = FeatureConfig()
    x = np.random.default_rng(0).standard_normal(16000 * 3 + 77).astype(np.float32) * 0.1
    ref = librosa.feature.melspectrogram(y=x, sr=16000, n_fft=512, hop_length=256, n_mels=96,
                                         fmax=8000, pad_mode="constant")
    np.testing.assert_allclose(log_mel(x, cfg), np.log10(1 + 10000 * ref), atol=1e-4)


def test_log_mel_matches_torch_stft():
    """The numpy STFT gives the numbers the bundled models were trained on (torch.stft)."""
    import torch

    from genre_desktop.core.engine.audio.features import _frames_to_logmel, mel_filterbank

    cfg = FeatureConfig()
    x = np.random.default_rng(2).standard_normal(16000 * 20).astype(np.float32) * 0.1
    window = torch.hann_window(cfg.n_fft, periodic=True, dtype=torch.float32)
    spec = torch.stft(torch.from_numpy(x), cfg.n_fft, cfg.hop_length, window=window, center=False,
                      return_complex=True)
    ref = torch.log10(torch.from_numpy(mel_filterbank(cfg)) @ spec.abs().square() * 10000.0 + 1.0).numpy()
    np.testing.assert_allclose(_frames_to_logmel(x, cfg), ref, atol=2e-5)


@pytest.mark.parametrize("chunk", [1, 100, 777, 16000])
def test_streaming_equals_whole(chunk):
    cfg = FeatureConfig()
    x = np.random.default_rng(1).standard_normal(20000).astype(np.float32)
    stream = StreamingLogMel(cfg)
    parts = [stream.push(x[i:i + chunk]) for i in range(0, len(x), chunk)] + [stream.finish()]
    np.testing.assert_allclose(np.concatenate(parts, axis=1), log_mel(x, cfg), atol=1e-4)


def test_fit_slices_pads_short_and_keeps_tail():
    mel = np.arange(96 * 50, dtype=np.float32).reshape(96, 50)
    slices, starts = fit_slices(mel, 156)
    assert slices.shape == (1, 96, 156) and starts.tolist() == [0]
    np.testing.assert_array_equal(slices[0, :, 50:100], mel)  # looped, not zero-padded
    mel = np.zeros((96, 156 * 3 + 100), np.float32)
    slices, starts = fit_slices(mel, 156)
    assert starts.tolist() == [0, 156, 312, 156 * 3 + 100 - 156]
    slices, starts = fit_slices(np.zeros((96, 156 * 3 + 20), np.float32), 156)
    assert starts.tolist() == [0, 156, 312]  # a short remainder is dropped


def test_config_roundtrip_and_validation():
    cfg = FeatureConfig(n_mels=64)
    assert FeatureConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError):
        FeatureConfig.from_dict({**cfg.to_dict(), "bogus": 1})
    with pytest.raises(ValueError):
        FeatureConfig.from_dict({**cfg.to_dict(), "fmax": 12000.0})
    assert abs(cfg.slice_seconds - 2.496) < 1e-9


@pytest.mark.parametrize("cfg", [FeatureConfig(), FeatureConfig(sample_rate=22050, n_fft=1024, hop_length=512,
                                                                n_mels=128, fmax=11025.0),
                                 FeatureConfig(fmin=50.0, fmax=7000.0, n_mels=64)])
def test_mel_filterbank_is_librosas_to_the_bit(cfg):
    """The run-time filterbank is numpy's; librosa (a test dependency only) is the reference."""
    from genre_desktop.core.engine.audio.features import mel_band_frequencies, mel_filterbank

    ref = librosa.filters.mel(sr=cfg.sample_rate, n_fft=cfg.n_fft, n_mels=cfg.n_mels, fmin=cfg.fmin, fmax=cfg.fmax)
    assert np.array_equal(mel_filterbank(cfg), ref)
    assert np.array_equal(mel_band_frequencies(cfg),
                          librosa.mel_frequencies(cfg.n_mels + 2, fmin=cfg.fmin, fmax=cfg.fmax)[1:-1])


def test_classifying_never_imports_librosa_or_scipy(tiny_model, tmp_path, run_cli_process):
    from conftest import synth, write

    f = write(tmp_path / "x.wav", synth("bass", 3.0), 16000)
    proc = run_cli_process("classify", "--json", "--model", tiny_model, f, forbid_imports=("librosa", "scipy", "numba"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout)["genre"] == "bass"
