"""Live listening through a REAL audio path: PulseAudio null sink -> PortAudio capture.

A track is played into a virtual microphone; the capture pipeline (core and GUI) must
receive it, produce slices at the expected cadence, and agree with the file verdict.
"""
import time

import numpy as np
import pytest

from conftest import synth, write
from genre_desktop.core.engine.audio.decode import load_audio
from genre_desktop.core.engine.classify.live import LiveSession

pytestmark = pytest.mark.slow
CLIP_SECONDS = 12.0


def listen(classifier, play, wav, seconds):
    session = LiveSession(classifier, None, hop_seconds=1.0)
    session.start()
    player = play(wav)
    predictions, columns = [], 0
    t0 = time.monotonic()
    try:
        while time.monotonic() - t0 < seconds:
            time.sleep(0.02)
            update = session.poll()
            columns += update.columns.shape[1]
            predictions += update.predictions
    finally:
        session.stop()
        player.wait(timeout=30)
    return predictions, columns


def check(predictions, columns, file_genre):
    audible = [p for p in predictions if p.genre is not None]
    assert columns > 10 * 62, "spectrogram columns arrived"
    assert len(audible) >= 6, f"only {len(audible)} audible predictions"
    gaps = np.diff([p.time for p in predictions])
    assert np.median(gaps) == pytest.approx(1.0, abs=0.05)  # the hop cadence
    # how fast predictions come is measured in benchmarks/bench_live.py, never asserted here
    assert all(p.latency_ms > 0 for p in predictions)  # measured for each, from the audio's arrival
    assert audible[-1].smoothed_genre == file_genre


def test_core_hears_a_synthetic_track(tiny_classifier, virtual_mic, tmp_path):
    audio = synth("treble", CLIP_SECONDS, sr=22050)
    wav = write(tmp_path / "treble.wav", audio, 22050)
    file_genre = tiny_classifier.classify_file(wav).genre
    predictions, columns = listen(tiny_classifier, virtual_mic, wav, CLIP_SECONDS + 2)
    check(predictions, columns, file_genre)


@pytest.fixture(scope="module")
def real_clip(tmp_path_factory, shared_data):
    source = shared_data / "gtzan" / "classical" / "classical.00010.ogg"
    wav = tmp_path_factory.mktemp("clip") / "classical.wav"
    write(wav, load_audio(source, 22050)[: int(CLIP_SECONDS * 22050)], 22050)
    return wav


def test_core_hears_real_music(bundled_classifier, virtual_mic, real_clip):
    classifier = bundled_classifier
    file_genre = classifier.classify_file(real_clip).genre
    predictions, columns = listen(classifier, virtual_mic, real_clip, CLIP_SECONDS + 2)
    check(predictions, columns, file_genre)


def test_gui_listens_to_real_music(qtbot, bundled_classifier, virtual_mic, real_clip):
    from genre_desktop.gui.live_view import LivePanel
    from genre_desktop.gui.settings import app_settings

    classifier = bundled_classifier
    file_genre = classifier.classify_file(real_clip).genre
    panel = LivePanel(app_settings())
    qtbot.addWidget(panel)
    panel.show()
    panel.set_classifier(classifier)
    panel.start()
    qtbot.waitUntil(lambda: panel.listening, timeout=10000)
    player = virtual_mic(real_clip)
    try:
        qtbot.waitUntil(lambda: len([p for p in panel.predictions if p.genre]) >= 8, timeout=30000)
    finally:
        player.wait(timeout=30)
        panel.stop()
        qtbot.waitUntil(lambda: not panel.listening, timeout=5000)
        panel.shutdown()
    heard = [p for p in panel.predictions if p.genre]
    assert heard[-1].smoothed_genre == file_genre
    assert panel.genre.text().lower() == file_genre
    assert panel.column_latency_ms  # timed per column; the figures live in benchmarks/bench_live.py
    assert panel.buffer.max() > 0.5  # the spectrogram shows sound
    assert file_genre in panel.strip_legend.text()  # the strip's colours are named
    assert panel.level.value() == panel.level.minimum()  # the meter does not freeze at its last level


def test_cli_listen_prints_a_line_per_slice(tiny_model, virtual_mic, tmp_path, run_cli):
    import json

    wav = write(tmp_path / "bass.wav", synth("bass", 8.0, sr=22050), 22050)
    player = virtual_mic(wav)
    proc = run_cli("listen", "--seconds", "7", "--json", "--model", tiny_model)
    player.wait(timeout=30)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(lines) >= 3
    assert {"time", "genre", "confidence", "smoothed_genre"} <= set(lines[0])
    assert lines[-1]["smoothed_genre"] == "bass"


def test_recording_is_written_while_listening(tiny_classifier, virtual_mic, tmp_path):
    import soundfile as sf

    wav = write(tmp_path / "noise.wav", synth("noise", 4.0, sr=22050), 22050)
    session = LiveSession(tiny_classifier)
    target = tmp_path / "rec" / "live.wav"
    session.start(record_to=target)
    player = virtual_mic(wav)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 5.5:
        time.sleep(0.02)
        session.poll()
    player.wait(timeout=30)
    assert session.stop() == target
    audio, rate = sf.read(str(target))
    assert rate == session.capture.sample_rate and len(audio) / rate > 3.0  # capture starts ~1 s late
    assert np.abs(audio).max() > 0.05  # the music is in the file
