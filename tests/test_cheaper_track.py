"""The cheaper decode path for the files people have (44.1 kHz stereo AAC in M4A): the
header read instead of an ffmpeg start, and 16-bit PCM downmixed as integers, give the same
audio and features as the reference path."""
from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf

from genre_desktop.core.engine.audio import decode
from genre_desktop.core.engine.audio.decode import (AudioDecodeError, _pcm16_to_mono, _Resampler, _to_mono,
                                                    audio_info, load_audio)
from genre_desktop.core.engine.audio.features import FeatureConfig, log_mel

needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
RATE = 44100


def _stereo_m4a(tmp_path, seconds: float = 6.0):
    t = np.arange(int(seconds * RATE)) / RATE
    left = 0.3 * np.sin(2 * np.pi * 440 * t) * (1 + np.sin(2 * np.pi * 3 * t)) / 2
    right = 0.2 * np.sin(2 * np.pi * 660 * t + 1.0)
    wav = tmp_path / "source.wav"
    sf.write(str(wav), np.stack([left, right], axis=1).astype(np.float32), RATE, subtype="PCM_16")
    m4a = tmp_path / "song.m4a"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(wav), "-c:a", "aac", "-b:a", "192k",
                    str(m4a)], check=True)
    return m4a


@pytest.mark.parametrize("channels", [1, 2, 3, 6])
def test_pcm16_downmix_is_the_float_downmix_bit_for_bit(channels):
    frames = np.random.default_rng(channels).integers(-32768, 32768, (50_000, channels)).astype("<i2")
    frames[0], frames[1] = -32768, 32767  # the extremes
    want = _to_mono(frames.astype(np.float32) / 32768.0)
    got = _pcm16_to_mono(frames)
    assert got.dtype == np.float32
    assert np.array_equal(got, want)


@needs_ffmpeg
def test_m4a_info_comes_from_its_header_without_starting_ffmpeg(tmp_path, monkeypatch):
    m4a = _stereo_m4a(tmp_path)
    with_ffmpeg = decode._ffmpeg_info(m4a, str(m4a))

    def no_ffmpeg(*args, **kwargs):
        raise AssertionError("ffmpeg was started to read an MP4 header")

    import audioread.ffdec

    monkeypatch.setattr(audioread.ffdec, "FFmpegAudioFile", no_ffmpeg)
    info = audio_info(m4a)
    assert (info.sample_rate, info.channels, info.format) == (RATE, 2, "ffmpeg")
    assert (with_ffmpeg.sample_rate, with_ffmpeg.channels) == (RATE, 2)
    assert info.duration == pytest.approx(with_ffmpeg.duration, abs=0.05)
    assert info.duration == pytest.approx(6.0, abs=0.1)


@needs_ffmpeg
def test_a_file_called_m4a_that_is_not_mp4_is_still_asked_of_ffmpeg(tmp_path):
    wav_inside = tmp_path / "really_wav.m4a"
    sf.write(str(wav_inside), np.zeros((RATE, 2), np.float32), RATE, format="WAV")
    info = audio_info(wav_inside)  # mutagen refuses it; libsndfile reads it
    assert (info.sample_rate, info.channels) == (RATE, 2)
    garbage = tmp_path / "garbage.m4a"
    garbage.write_bytes(b"\x00ftyp" + bytes(range(256)) * 40)
    with pytest.raises(AudioDecodeError):
        audio_info(garbage)


@needs_ffmpeg
def test_m4a_info_without_ffmpeg_still_says_ffmpeg_is_needed(tmp_path, monkeypatch):
    """The header could be read, but the audio could not be decoded: the same answer as before."""
    path = _stereo_m4a(tmp_path, seconds=1.0)
    monkeypatch.setattr(decode.shutil, "which", lambda name: None)
    with pytest.raises(AudioDecodeError, match="needs ffmpeg"):
        audio_info(path)


@needs_ffmpeg
def test_m4a_decodes_to_the_reference_audio_and_features(tmp_path):
    """The app's streaming ffmpeg path against a plain reference: ffmpeg's 16-bit PCM as
    floats, averaged, resampled in one go; samples and log-mel agree."""
    m4a = _stereo_m4a(tmp_path)
    pcm = subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(m4a), "-f", "s16le", "-"],
                         capture_output=True, check=True).stdout
    frames = np.frombuffer(pcm, "<i2").reshape(-1, 2)
    resampler = _Resampler(RATE, 16000)
    reference = np.concatenate([resampler.push(_to_mono(frames.astype(np.float32) / 32768.0)), resampler.finish()])
    got = load_audio(m4a, 16000)
    assert got.shape == reference.shape
    assert np.abs(got - reference).max() < 1e-5
    config = FeatureConfig()
    assert np.abs(log_mel(got, config) - log_mel(reference, config)).max() < 1e-4
