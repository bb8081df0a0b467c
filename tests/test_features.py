import librosa
import numpy as np
import pytest

from genre_desktop.core.engine.features import FeatureConfig, StreamingLogMel, log_mel
from genre_desktop.core.engine.verdict import fit_slices


def test_log_mel_matches_librosa():
    cfg = FeatureConfig()
    x = np.random.default_rng(0).standard_normal(16000 * 3 + 77).astype(np.float32) * 0.1
    ref = librosa.feature.melspectrogram(y=x, sr=16000, n_fft=512, hop_length=256, n_mels=96,
                                         fmax=8000, pad_mode="constant")
    np.testing.assert_allclose(log_mel(x, cfg), np.log10(1 + 10000 * ref), atol=1e-4)


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
