"""Hedges that catch errors: one rule for files, live windows and the recipe; a hedged
verdict keeps its closest genres; confidence calibrated per length; live agrees with files."""
from __future__ import annotations

import copy

import numpy as np
import pytest

from genre_desktop.core.engine.classify.calibration import length_bucket, temperature_for
from genre_desktop.core.engine.classify.verdict import hedge
from genre_desktop.core.engine.models.bundle_meta import Calibration
from genre_desktop.core.errors import BundleError

RULES = {"min_confidence": 0.5, "min_agreement": 0.5, "unknown_margin": 2.0, "unknown_max_confidence": 0.9}


def test_the_hedge_rule():
    assert hedge(0.9, 1.0, 12, None, 0.5, False, RULES) == ("genre", [])
    assert hedge(0.4, 1.0, 12, None, 0.5, False, RULES) == ("unsure", ["low_confidence"])
    assert hedge(0.9, 0.3, 12, None, 0.5, False, RULES) == ("unsure", ["disagree"])
    assert hedge(0.9, 0.3, 2, None, 0.5, False, RULES) == ("genre", [])  # two slices say nothing of agreement
    assert hedge(0.6, 1.0, 1, None, 0.5, False, {**RULES, "min_confidence_1": 0.7}) == ("unsure", ["low_confidence"])
    assert hedge(0.6, 1.0, 4, None, 0.5, False, {**RULES, "min_confidence_1": 0.7}) == ("genre", [])
    assert hedge(0.95, 1.0, 12, None, 0.5, True, RULES) == ("not_music", ["steady"])  # a hum, whatever else
    # the open-set answer counts only far enough beyond its threshold and below the confidence line
    assert hedge(0.6, 1.0, 12, "unknown", 3.0, False, RULES) == ("unknown", ["outlier"])
    assert hedge(0.6, 1.0, 12, "not_music", 3.0, False, RULES) == ("not_music", ["outlier"])
    assert hedge(0.6, 1.0, 12, "unknown", 1.5, False, RULES) == ("genre", [])
    assert hedge(0.95, 1.0, 12, "unknown", 3.0, False, RULES) == ("genre", [])
    # a bundle without these rules keeps the old behaviour: any open-set answer counts
    assert hedge(0.99, 1.0, 12, "unknown", 1.01, False, {}) == ("unknown", ["outlier"])


def test_temperature_per_length():
    assert [length_bucket(n) for n in (0, 1, 2, 4, 5, 12, 47, 48, 300)] == [1, 1, 2, 2, 5, 5, 5, 48, 48]
    cal = {"temperature": 0.7, "temperature_slices_1": 1.4, "temperature_slices_2": 1.1,
           "temperature_slices_5": 0.8, "temperature_slices_48": 0.8}
    assert [temperature_for(Calibration.from_dict(cal), n) for n in (1, 4, 12, 100)] == [1.4, 1.1, 0.8, 0.8]
    assert temperature_for(Calibration.from_dict({"temperature": 0.7}), 1) == 0.7  # one temperature
    assert temperature_for(Calibration(), 1) == 1.0  # none fitted
    with pytest.raises(BundleError, match="temperature_slices_1"):  # nonsense is refused when read
        Calibration.from_dict({"temperature_slices_1": 1e9})


def _music(seconds: float, sr: int = 16000, seed: int = 0) -> np.ndarray:
    """Synthetic 'music' that changes (no shared data needed): a chord every half second
    from a random progression, a bass line and a beat."""
    rng = np.random.default_rng(seed)
    n, step = int(seconds * sr), sr // 2
    t = np.arange(step) / sr
    out = []
    for _ in range(-(-n // step)):
        root = 110.0 * 2 ** (rng.integers(0, 12) / 12)
        chord = sum(np.sin(2 * np.pi * root * r * t) for r in (2, 2.52, 3.0)) / 3
        bass = np.sin(2 * np.pi * root / 2 * t) * np.exp(-t * 4)
        hit = np.exp(-t * 30) * rng.standard_normal(step) * rng.choice([0.0, 0.3])
        out.append(0.15 * chord + 0.2 * bass + hit)
    return np.concatenate(out)[:n].astype(np.float32)


@pytest.fixture(scope="module")
def classifier(bundled_classifier):
    return bundled_classifier


def _with(classifier, thresholds=None, openset_scale=None):
    """A copy of ``classifier`` whose bundle has other hedge rules or open-set thresholds."""

    bundle = copy.copy(classifier.bundle)
    bundle.meta = {**bundle.meta, "thresholds": {**bundle.meta.get("thresholds", {}), **(thresholds or {})}}
    if openset_scale is not None:
        bundle.openset = copy.copy(bundle.openset)
        bundle.openset.unknown_thresholds = {n: t * openset_scale for n, t in bundle.openset.unknown_thresholds.items()}
    clf = copy.copy(classifier)
    clf.bundle = bundle
    return clf


def test_a_hedged_verdict_keeps_its_closest_genres(classifier):
    audio = _music(12.0)
    plain = classifier.classify_audio(audio)
    for clf, verdicts in ((_with(classifier, {"min_confidence": 0.999, "min_confidence_1": 0.999,
                                              "unknown_max_confidence": 0.0}), {"unsure"}),
                          (_with(classifier, {"unknown_margin": 1.0, "unknown_max_confidence": 1.01},
                                 openset_scale=1e-6), {"unknown", "not_music"})):
        r = clf.classify_audio(audio)
        assert r.verdict in verdicts and r.uncertain and r.reason
        assert r.closest == plain.closest  # the genre the model did have
        top = r.top(3)
        assert [g for g, _ in top] == [g for g, _ in plain.top(3)] and top[0][0] == r.closest
        assert sum(p for _, p in top) <= 1.0 + 1e-6 and top[0][1] > 0
        record = r.to_json()
        assert record["closest"] == r.closest and len(record["top"]) == 3
        assert all(s.genre is not None for s in r.slices)  # every slice keeps its own genre


def _agree(classifier, audio):
    from genre_desktop.core.engine.classify.live import LiveAnalyzer

    sf, hop = classifier.config.slice_frames, classifier.config.hop_length
    ten_seconds = audio[:4 * sf * hop]  # exactly four file slices
    file_result = classifier.classify_audio(ten_seconds)
    assert len(file_result.slices) == 4
    analyzer = LiveAnalyzer(classifier, hop_seconds=1.0, smoothing=4)
    stream = audio[:4 * sf * hop + classifier.config.sample_rate]
    preds = [p for i in range(0, len(stream), 320) for p in analyzer.feed(stream[i:i + 320]).predictions]
    live = [p for p in preds if p.time * classifier.config.frames_per_second >= 4 * sf][0]
    assert live.verdict == file_result.verdict, (live.reason, file_result.reason)
    assert live.smoothed_genre == file_result.closest
    assert live.smoothed_confidence == pytest.approx(file_result.confidence, abs=1e-4)
    assert live.reason == file_result.reason
    return file_result


def test_live_and_file_verdicts_of_the_same_audio_agree(classifier):
    audio = _music(12.0, seed=1)
    _agree(classifier, audio)
    # the case: where a file says "not sure", live says it too (not a bare genre)
    hedged = _agree(_with(classifier, {"min_confidence": 0.999, "unknown_max_confidence": 0.0}), audio)
    assert hedged.verdict == "unsure"


def test_live_and_file_agree_on_real_music(classifier, shared_data):
    source = shared_data / "gtzan" / "jazz" / "jazz.00004.ogg"
    from genre_desktop.core.engine.audio.decode import load_audio

    audio = load_audio(source, classifier.config.sample_rate)
    for start in (0, 8, 16):  # three 10-s windows of one track
        _agree(classifier, audio[start * classifier.config.sample_rate:])


@pytest.mark.parametrize("verdict", ["unknown", "not_music", "unsure"])
def test_the_panel_keeps_the_bars_of_a_hedged_verdict(qtbot, verdict):
    """The panel names the hedge and still shows the three closest genres with their bars."""
    from genre_desktop.core.engine.classify.result import TrackResult
    from genre_desktop.gui.track_view import VerdictPanel

    labels = ["blues", "classical", "metal", "rock"]
    result = TrackResult(path="x.ogg", duration=30.0, labels=labels, genre="metal" if verdict == "unsure" else None,
                         confidence=0.46, uncertain=True, probs=np.array([0.04, 0.1, 0.46, 0.4], np.float32),
                         agreement=0.6, reason="music unlike any of this model's 4 genres (closest: metal)",
                         verdict=verdict, closest="metal")
    panel = VerdictPanel()
    qtbot.addWidget(panel)
    panel.show_result(result)
    shown = [(name.text(), bar.value()) for name, bar in panel.bars if not bar.isHidden()]
    assert shown == [("metal", 460), ("rock", 400), ("classical", 100)]


@pytest.mark.parametrize("verdict", ["unknown", "not_music"])
def test_a_hedged_timeline_keeps_each_slices_genre_striped(qtbot, verdict):
    """"None of this model's genres" / "not music" stripe the timeline in the verdict's
    colour; between the stripes each slice keeps its own genre's colour (not erased)."""
    from PySide6.QtGui import QColor

    from genre_desktop.core.engine.classify.result import SliceResult, TrackResult
    from genre_desktop.gui.track_view import VERDICT_COLORS, TrackPlots, genre_color

    labels = ["blues", "classical", "metal", "rock"]
    slices = [SliceResult(start=2.5 * i, end=2.5 * (i + 1), probs=np.eye(4, dtype=np.float32)[g], genre=labels[g])
              for i, g in enumerate([2, 2, 3, 1])]
    result = TrackResult(path="x.ogg", duration=10.0, labels=labels, genre=None, confidence=0.5, uncertain=True,
                         probs=np.array([0.0, 0.25, 0.5, 0.25], np.float32), agreement=0.5, reason="",
                         verdict=verdict, closest="metal", slices=slices)
    plots = TrackPlots()
    qtbot.addWidget(plots)
    plots.show_result(result)
    image = plots.cells.image  # (bands, slices, 3)
    hedge = QColor(VERDICT_COLORS[verdict]).getRgb()[:3]
    assert image.shape[:2][1] == 4 and image.shape[0] > 1
    assert all(tuple(px) == hedge for px in image[0])
    assert [tuple(px) for px in image[1]] == [genre_color(labels, s.genre).getRgb()[:3] for s in slices]
    assert "metal" in plots.legend.text() and "rock" in plots.legend.text()
