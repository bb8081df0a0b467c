import shutil
import subprocess

import numpy as np
import pytest

from conftest import synth, write
from genre_desktop.core.engine.audio import decode as audio_io
from genre_desktop.core.engine.audio.decode import AudioDecodeError, audio_info, iter_audio_blocks, load_audio


def dominant_hz(x: np.ndarray, sr: int) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spec) * sr / len(x))


@pytest.mark.parametrize("ext,subtype", [("wav", "PCM_16"), ("flac", None), ("ogg", "VORBIS"),
                                         ("opus", "OPUS"), ("mp3", "MPEG_LAYER_III")])
def test_decodes_common_formats_to_mono_at_model_rate(tmp_path, ext, subtype):
    sr = 48000 if ext == "opus" else 44100
    t = np.arange(int(2.0 * sr)) / sr
    stereo = np.stack([0.3 * np.sin(2 * np.pi * 440 * t), 0.3 * np.sin(2 * np.pi * 440 * t)], axis=1)
    kwargs = {"subtype": subtype} if subtype else {}
    if ext == "opus":
        kwargs["format"] = "OGG"
    path = write(tmp_path / f"a.{ext}", stereo.astype(np.float32), sr, **kwargs)
    audio = load_audio(path, 16000)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert abs(len(audio) / 16000 - 2.0) < 0.1
    assert abs(dominant_hz(audio[2000:30000], 16000) - 440) < 5


def test_six_channel_96k_wav(tmp_path):
    sr = 96000
    t = np.arange(sr) / sr
    x = np.stack([0.1 * np.sin(2 * np.pi * 1000 * t)] * 6, axis=1).astype(np.float32)
    path = write(tmp_path / "surround.wav", x, sr, subtype="FLOAT")
    info = audio_info(path)
    assert (info.channels, info.sample_rate) == (6, 96000)
    audio = load_audio(path, 16000)
    assert len(audio) == pytest.approx(16000, abs=32)
    assert abs(dominant_hz(audio[1000:15000], 16000) - 1000) < 5


def test_blocks_concatenate_to_whole_file(tmp_path):
    path = write(tmp_path / "long.flac", synth("bass", 12.0, sr=22050), 22050)
    blocks = list(iter_audio_blocks(path, 16000, block_seconds=2.5))
    assert len(blocks) >= 4
    whole = np.concatenate(blocks)
    one_block = np.concatenate(list(iter_audio_blocks(path, 16000, block_seconds=100)))
    np.testing.assert_allclose(whole, one_block, atol=1e-5)


@pytest.mark.parametrize("name,content,needle", [
    ("empty.mp3", b"", "empty file"),
    ("random.mp3", bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8)), "mp3"),
    ("notes.flac", b"this is a text file, not audio\n" * 20, "flac"),
])
def test_bad_files_have_one_line_reasons(tmp_path, name, content, needle):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(AudioDecodeError) as err:
        load_audio(path, 16000)
    message = str(err.value)
    assert needle in message and "\n" not in message


def test_missing_file(tmp_path):
    with pytest.raises(AudioDecodeError, match="not found"):
        load_audio(tmp_path / "nope.wav", 16000)


def test_truncated_mp3_decodes_what_is_there(tmp_path):
    path = write(tmp_path / "full.mp3", synth("treble", 6.0, sr=44100), 44100,
                 subtype="MPEG_LAYER_III")
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    audio = load_audio(cut, 16000)
    assert 1.5 < len(audio) / 16000 < 5.0


def test_m4a_without_ffmpeg_says_so(tmp_path, monkeypatch):
    path = tmp_path / "song.m4a"
    path.write_bytes(b"\x00\x00\x00\x20ftypM4A " + b"\x00" * 100)
    monkeypatch.setattr(audio_io.shutil, "which", lambda name: None)
    with pytest.raises(AudioDecodeError, match="needs ffmpeg"):
        load_audio(path, 16000)


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
def test_m4a_through_ffmpeg(tmp_path):
    wav = write(tmp_path / "src.wav", synth("bass", 3.0, sr=44100), 44100)
    m4a = tmp_path / "song.m4a"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-i", str(wav), "-c:a", "aac", str(m4a)], check=True)
    audio = load_audio(m4a, 16000)
    assert abs(len(audio) / 16000 - 3.0) < 0.2
    assert np.abs(audio).max() > 0.05


def test_a_cut_ogg_is_said_to_be_truncated(tmp_path, tiny_model):
    """Ogg carries no total length, so a cut file looks whole to decoders: the missing
    end-of-stream page tells; the verdict's notes and the CLI say so."""
    from genre_desktop.core.engine.audio.decode import ogg_cut_short
    from genre_desktop.core.engine.models.bundle import load_bundle
    from genre_desktop.core.engine.classify.classifier import Classifier

    full = write(tmp_path / "full.ogg", synth("bass", 30.0), 16000)
    cut = tmp_path / "cut.ogg"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 15])
    assert ogg_cut_short(cut) and not ogg_cut_short(full)
    clf = Classifier(load_bundle(tiny_model))
    assert clf.classify_file(full).notes == []
    notes = clf.classify_file(cut).notes
    assert len(notes) == 1 and notes[0].startswith("truncated")


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
def test_stereo_through_ffmpeg_keeps_frames_whole(tmp_path):
    """A stereo file decoded by ffmpeg: both channels, the right pitch and length."""
    sr = 44100
    t = np.arange(int(4.0 * sr)) / sr
    stereo = np.stack([0.3 * np.sin(2 * np.pi * 440 * t), 0.3 * np.sin(2 * np.pi * 440 * t)], axis=1)
    wav = write(tmp_path / "src.wav", stereo.astype(np.float32), sr)
    m4a = tmp_path / "stereo.m4a"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(wav), "-c:a", "aac", str(m4a)], check=True)
    audio = load_audio(m4a, 16000)
    assert abs(len(audio) / 16000 - 4.0) < 0.1
    assert abs(dominant_hz(audio[4000:60000], 16000) - 440) < 5
    assert audio_info(m4a).channels == 2


def test_a_folder_is_refused_in_one_line(tmp_path):
    with pytest.raises(AudioDecodeError, match=r"^not a regular file \(a folder\)$"):
        load_audio(tmp_path, 16000)
