"""Live listening: the ring buffer, the analyser (simulated, faster than real time)."""
import tracemalloc

import numpy as np
import pytest

from conftest import synth
from genre_desktop.core.engine.classify.live import LiveAnalyzer, RingBuffer


def test_ring_buffer_wraps_and_counts_losses():
    ring = RingBuffer(10)
    ring.write(np.arange(7, dtype=np.float32))
    np.testing.assert_array_equal(ring.read_new(), np.arange(7))
    ring.write(np.arange(7, 15, dtype=np.float32))  # wraps
    np.testing.assert_array_equal(ring.read_new(), np.arange(7, 15))
    ring.write(np.arange(15, 40, dtype=np.float32))  # reader fell behind by 15
    np.testing.assert_array_equal(ring.read_new(), np.arange(30, 40))
    assert ring.lost == 15
    assert ring.read_new().size == 0


def test_predictions_arrive_at_the_hop_cadence(tiny_classifier):
    analyzer = LiveAnalyzer(tiny_classifier, hop_seconds=1.0)
    audio = synth("treble", 12.0)
    preds = []
    for i in range(0, len(audio), 320):  # 20-ms blocks, like a real stream
        preds += analyzer.feed(audio[i:i + 320]).predictions
    times = [p.time for p in preds]
    assert times[0] == pytest.approx(2.496, abs=0.02)  # the first full window
    assert np.diff(times) == pytest.approx(1.0, abs=0.02)
    assert len(preds) == 10
    assert all(p.genre == "treble" for p in preds) and preds[-1].smoothed_genre == "treble"


def test_latency_runs_from_the_audio_received_to_the_prediction(tiny_classifier):
    """``latency_ms`` counts from when the block arrived (``received_at``), for music and for
    quiet alike; a block with no arrival time has none. (How long it is, is measured in
    benchmarks/bench_live.py; here only that it is measured from the arrival.)"""
    import time

    for audio in (synth("bass", 3.0), np.zeros(16000 * 3, np.float32)):
        analyzer = LiveAnalyzer(tiny_classifier, hop_seconds=1.0)
        arrived = time.perf_counter() - 0.25  # this block arrived a quarter of a second ago
        (first, *_) = analyzer.feed(audio, received_at=arrived).predictions
        assert first.latency_ms >= 250.0
        assert all(p.latency_ms == 0.0 for p in LiveAnalyzer(tiny_classifier).feed(audio).predictions)


def test_quiet_input_is_no_music(tiny_classifier):
    analyzer = LiveAnalyzer(tiny_classifier, hop_seconds=0.5)
    preds = analyzer.feed(np.zeros(16000 * 5, np.float32)).predictions
    assert preds and all(p.genre is None and p.smoothed_genre is None for p in preds)
    hiss = (np.random.default_rng(0).standard_normal(16000 * 4) * 1e-4).astype(np.float32)
    assert all(p.genre is None for p in analyzer.feed(hiss).predictions)


def test_smoothing_follows_a_change(tiny_classifier):
    analyzer = LiveAnalyzer(tiny_classifier, hop_seconds=1.0, smoothing=3)
    preds = analyzer.feed(np.concatenate([synth("bass", 10.0), synth("noise", 10.0)])).predictions
    assert preds[5].smoothed_genre == "bass"
    assert preds[-1].smoothed_genre == "noise"


def test_long_listening_without_growth_or_drops(tiny_classifier):
    """Ten minutes of input, faster than real time: constant memory, every prediction made.

    ``benchmarks/bench_live.py`` runs the same for a whole hour.
    """
    analyzer = LiveAnalyzer(tiny_classifier, hop_seconds=1.25)
    block = synth("bass", 60.0)
    total = 0
    for minute in range(10):
        if minute == 2:
            tracemalloc.start()
            baseline = tracemalloc.get_traced_memory()[0]
        for i in range(0, len(block), 16000):
            total += len(analyzer.feed(block[i:i + 16000]).predictions)
        if minute == 3:
            grown = tracemalloc.get_traced_memory()[0] - baseline
            tracemalloc.stop()
    expected = int((600 - 2.496) / 1.248) + 1  # hop of 78 frames = 1.248 s
    assert abs(total - expected) <= 1
    assert grown < 1_000_000, f"memory grew by {grown} bytes in a minute"
    assert analyzer.window.shape == (96, 156) and len(analyzer.history) <= 4


def test_no_input_device_is_a_clear_error(monkeypatch):
    import sounddevice as sd

    from genre_desktop.core.engine.classify.live import CaptureStream, LiveError

    def no_device(*args, **kwargs):
        raise sd.PortAudioError("Error querying device -1")

    monkeypatch.setattr(sd, "query_devices", no_device)
    monkeypatch.setattr(CaptureStream, "RETRY_SECONDS", 0.0)
    with pytest.raises(LiveError, match="no audio input is available.*sound server"):
        CaptureStream(None)


def test_opening_an_input_is_retried_and_default_is_the_device_of_that_name(monkeypatch):
    """Under load PortAudio fails an open now and then; "default" names the device called
    exactly that (sounddevice's substring match found it ambiguous)."""
    import sounddevice as sd

    from genre_desktop.core.engine.classify import live

    devices = [{"name": "pulse default", "max_input_channels": 2, "default_samplerate": 44100.0},
               {"name": "default", "max_input_channels": 2, "default_samplerate": 48000.0}]

    def query(device=None, kind=None):
        if device is None and kind is None:
            return devices
        assert isinstance(device, int), f"asked by name: {device!r}"
        return devices[device]

    failures = iter([sd.PortAudioError("Error opening InputStream: Unanticipated host error"), None])

    class Stream:
        def __init__(self, **kwargs):
            error = next(failures)
            if error is not None:
                raise error
            self.kwargs = kwargs

    monkeypatch.setattr(sd, "query_devices", query)
    monkeypatch.setattr(sd, "InputStream", Stream)
    monkeypatch.setattr(live, "_reinitialise_portaudio", lambda: None)
    monkeypatch.setattr(live.CaptureStream, "RETRY_SECONDS", 0.0)
    capture = live.CaptureStream("default")
    assert capture.device_name == "default" and capture.stream.kwargs["device"] == 1
    assert capture.sample_rate == 48000


def test_a_device_that_stops_delivering_is_reported(tiny_classifier, monkeypatch):
    """An input that goes silent at the driver level (unplugged) ends the session with a reason."""
    from genre_desktop.core.engine.classify.live import LiveError, LiveSession

    class DeadStream:
        active = True

    class FakeCapture:
        device_name, sample_rate, overflows, callbacks = "usb mic", 16000, 0, 100
        stream = DeadStream()
        last_callback = 0.0  # the last callback was long ago

        def read(self):
            return np.zeros(0, np.float32)

    monkeypatch.setattr("genre_desktop.core.engine.classify.live.CaptureStream", lambda device: FakeCapture())
    session = LiveSession(tiny_classifier)
    with pytest.raises(LiveError, match="stopped delivering audio"):
        session.poll()


def test_the_live_tab_explains_a_missing_sound_server(qtbot, tiny_classifier, monkeypatch):
    import sounddevice as sd

    from genre_desktop.core.engine.classify import live
    from genre_desktop.gui.live_view import LivePanel
    from genre_desktop.gui.settings import app_settings

    def no_server(*args, **kwargs):
        raise sd.PortAudioError("Illegal combination of I/O devices [PaErrorCode -9993]")

    monkeypatch.setattr(sd, "query_devices", no_server)
    monkeypatch.setattr(live.CaptureStream, "RETRY_SECONDS", 0.0)
    monkeypatch.setattr(live, "_reinitialise_portaudio", lambda: None)
    panel = LivePanel(app_settings())
    qtbot.addWidget(panel)
    panel.set_classifier(tiny_classifier)
    panel.start()
    qtbot.waitUntil(lambda: panel.genre.text() == "Cannot listen", timeout=10000)
    assert "sound server" in panel.detail.text() and panel.listen_button.isEnabled()
    panel.shutdown()
