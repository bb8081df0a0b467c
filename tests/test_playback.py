"""Playback: a real output stream when PulseAudio runs, and a clear message when none can open."""
import time

import numpy as np
import pytest

from conftest import synth, write
from genre_desktop.core.engine.audio.playback import PlaybackError, Player


def wait_until(condition, what: str, timeout: float = 60.0) -> None:
    """Poll ``condition`` until it holds; fail (saying ``what``) only if it never does: a
    hang guard, not a speed limit."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.02)


def recording_callbacks(player: Player) -> list[int]:
    """The sample position at the start of each call of the output stream's callback."""
    starts: list[int] = []
    callback = player._callback

    def recorded(outdata, frames, time_info, status):
        starts.append(player._pos)
        return callback(outdata, frames, time_info, status)

    player._callback = recorded  # play() hands the stream this instance's callback
    return starts


def test_player_plays_and_seeks(virtual_mic):
    """The output stream really pulls the audio (its callback moves the position), from where
    it was sought to; paused, it stops pulling, and resumed it goes on from the same sample."""
    player = Player()
    player.load(np.zeros(22050 * 3, np.float32), 22050)
    starts = recording_callbacks(player)
    player.seek(1.0)
    assert player.position == pytest.approx(1.0)
    player.play()
    try:
        wait_until(lambda: player.position >= 1.3, "the stream's callback moved the position")
        assert player.playing and starts[0] == 22050  # the first block came from the sought position
        assert all(b > a for a, b in zip(starts, starts[1:]))  # block after block, forwards
        stream = player._stream
    finally:
        player.pause()
    assert not player.playing and stream.closed  # the output stream itself stopped and closed, not just dropped
    stopped_at, calls = player._pos, len(starts)
    player.play()  # resumed: the first block after the pause is the sample it stopped at
    try:
        wait_until(lambda: len(starts) > calls, "the resumed stream called back")
        assert starts[calls] == stopped_at and player.position > 1.3
    finally:
        player.pause()


def test_no_output_device_is_a_clear_message(monkeypatch):
    import sounddevice as sd

    def no_device(*args, **kwargs):
        raise sd.PortAudioError("Error querying device -1")

    monkeypatch.setattr(sd, "OutputStream", no_device)
    player = Player()
    player.load(np.zeros(1000, np.float32), 22050)
    with pytest.raises(PlaybackError, match="audio output unavailable"):
        player.play()


def test_window_says_when_it_cannot_play(qtbot, tiny_model, tmp_path, monkeypatch):
    import sounddevice as sd

    from genre_desktop.gui.main_window import MainWindow
    from genre_desktop.gui.settings import app_settings

    monkeypatch.setattr(sd, "OutputStream", lambda *a, **k: (_ for _ in ()).throw(sd.PortAudioError("no device")))
    w = MainWindow(app_settings())
    qtbot.addWidget(w)
    with qtbot.waitSignal(w.model_ready, timeout=20000):
        w.switch_model(str(tiny_model))
    path = write(tmp_path / "x.wav", synth("bass", 4.0), 16000)
    with qtbot.waitSignal(w.verdict_ready, timeout=20000):
        w.open_paths([str(path)])
    qtbot.waitUntil(lambda: w.play_button.isEnabled(), timeout=5000)
    w.toggle_playback()
    qtbot.waitUntil(lambda: "Cannot play" in w.statusBar().currentMessage(), timeout=10000)
    assert w.verdict.genre.text() == "Bass"  # everything else still works
    w.close()


def test_a_file_plays_as_it_is(tmp_path, virtual_mic):
    """44.1 kHz stereo plays at 44.1 kHz in stereo (it was a 22.05 kHz mono down-mix)."""
    from genre_desktop.core.engine.audio.playback import preview_audio

    left, right = synth("bass", 3.0, sr=44100), synth("treble", 3.0, sr=44100)
    path = write(tmp_path / "stereo.flac", np.stack([left, right], axis=1), 44100)
    audio, rate = preview_audio(path)
    assert rate == 44100 and audio.shape == (3 * 44100, 2)
    assert np.abs(audio[:, 0] - left).max() < 1e-3 and np.abs(audio[:, 1] - right).max() < 1e-3
    surround = write(tmp_path / "six.wav", np.tile(left[:, None], (1, 6)), 44100)
    assert preview_audio(surround)[0].shape[1] == 2
    player = Player()
    player.load(audio, rate)
    assert (player.channels, player.sample_rate) == (2, 44100) and player.duration == pytest.approx(3.0)
    starts = recording_callbacks(player)
    player.play()
    try:
        wait_until(lambda: player.position >= 0.5, "the stream's callback moved the position")
        assert starts[0] == 0 and player.playing
    finally:
        player.pause()
