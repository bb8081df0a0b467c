"""One verdict vocabulary (issue 26): the verdict values and their words live in
``core/engine/classify/verdicts.py`` alone; live listening votes as a file does; the Tracks
tab exports through the library's one exporter."""
from __future__ import annotations

import ast
import csv
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from conftest import synth, write
from genre_desktop.core.engine.classify import verdicts
from genre_desktop.core.engine.classify.verdicts import Verdict

PACKAGE = Path(verdicts.__file__).parents[3]  # genre_desktop/
WORDS = ("not sure", "not music", "unknown genre", "no music heard")


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def modules_spelling_the_words(root: Path) -> dict[str, list[str]]:
    """module -> the string literals (f-string parts included, docstrings not) that hold a
    verdict word, in any case ("Not sure — maybe", "also tag 'not sure' tracks")."""
    hits: dict[str, list[str]] = {}
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docs = _docstrings(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
                if any(word in node.value.lower() for word in WORDS):
                    hits.setdefault(path.relative_to(root.parent).as_posix(), []).append(node.value)
    return hits


def test_the_verdict_words_are_spelt_in_one_module():
    hits = modules_spelling_the_words(PACKAGE)
    assert set(hits) == {"genre_desktop/core/engine/classify/verdicts.py"}, hits
    assert {w for w in WORDS if any(w in s for s in hits["genre_desktop/core/engine/classify/verdicts.py"])} == set(WORDS)


def test_the_scan_finds_a_second_spelling(tmp_path):
    """The scan above would see a word spelt anywhere else (in an f-string, capitalised)."""
    pkg = tmp_path / "genre_desktop"
    pkg.mkdir()
    (pkg / "a.py").write_text('"""Not music here: a docstring."""\nX = "not sure"\n')
    (pkg / "b.py").write_text('def f(g):\n    return f"No music heard ({g})"\n')
    (pkg / "c.py").write_text('Y = "unsure"  # the value, not the words\n')
    assert set(modules_spelling_the_words(pkg)) == {"genre_desktop/a.py", "genre_desktop/b.py"}


def test_the_stored_values_do_not_change():
    assert verdicts.VERDICTS == ("genre", "unsure", "unknown", "not_music", "silence")
    assert [v.value for v in Verdict] == list(verdicts.VERDICTS)
    assert json.dumps({"v": Verdict.NOT_MUSIC}) == '{"v": "not_music"}'
    assert f"{Verdict.UNSURE}" == str(Verdict.UNSURE) == "unsure" and Verdict.GENRE == "genre"
    assert {"silence": 1}[Verdict.SILENCE] == 1  # a member finds its value's key


def test_a_result_carries_a_verdict_of_the_vocabulary(tiny_classifier):
    from genre_desktop.core.engine.classify.result import TrackResult, result_record

    result = tiny_classifier.classify_audio(synth("bass", 6.0))
    assert isinstance(result.verdict, Verdict)
    assert json.loads(json.dumps(result.to_json()))["verdict"] == result.verdict.value
    record = result_record(result)
    assert type(record["verdict"]) is str and record["verdict"] == result.verdict.value  # stored as before
    with pytest.raises(ValueError):
        TrackResult(path="x", duration=1.0, labels=["a"], genre=None, confidence=0.0, uncertain=True,
                    probs=np.zeros(1), agreement=0.0, verdict="maybe")


def test_the_words_read_as_before():
    text = verdicts.verdict_text
    assert text("genre", "rock") == "rock"
    assert text("unsure", "rock", "low confidence (40%)") == "rock? (not sure: low confidence (40%))"
    assert text("unsure", None) == "-? (not sure: low confidence)"
    assert text("not_music", None, "not music: a steady sound") == "not music: a steady sound"
    assert text("unknown", None, "") == "unknown genre"
    assert text("silence", None, "no audible signal (silence)") == "no music heard: no audible signal (silence)"
    assert verdicts.column_text("unsure", "rock", None) == "rock? (not sure)"
    assert verdicts.column_text("genre", "rock", "boom") == "error"
    assert verdicts.column_text(None, None, None) == "not analysed"
    assert verdicts.genre_column_text("unknown", None, True) == "unknown"
    assert verdicts.genre_column_text("unsure", "jazz", True) == "jazz?"
    assert verdicts.status_text("not_music") == "not music" and verdicts.status_text("unsure") == "not sure"
    assert verdicts.with_confidence("genre", 0.834) == "confident 83%"
    assert verdicts.album_text("unsure", "rock", 0.48) == "not sure (rock 48%)"
    assert verdicts.maybe_text("rock") == "Not sure \u2014 maybe rock"
    assert verdicts.TITLES["silence"] == "No music heard"


def test_live_and_file_vote_the_same_slices_alike(tiny_classifier):
    """The live tab's "now playing" verdict is the file vote (``verdict.vote``, the bundle's
    temperature for that many slices, the hedges) over the same slices' probabilities."""
    from genre_desktop.core.engine.classify.calibration import apply_temperature, temperature_for
    from genre_desktop.core.engine.classify.classifier import Classifier
    from genre_desktop.core.engine.classify.live import LiveAnalyzer
    from genre_desktop.core.engine.classify.verdict import vote

    bundle = tiny_classifier.bundle
    calibrated = dataclasses.replace(bundle, meta={**bundle.meta, "calibration": {
        "temperature": 2.5, "temperature_slices_1": 3.0, "temperature_slices_2": 4.0}})
    classifier = Classifier(calibrated)
    cfg = classifier.config
    sf, hop = cfg.slice_frames, cfg.hop_length
    four = 4 * sf * hop  # samples of four slices
    audio = np.concatenate([synth("bass", 5.0), synth("treble", 7.0)])  # two slices of each, then more
    analyzer = LiveAnalyzer(classifier, hop_seconds=1.0, smoothing=4)
    preds = []
    for i in range(0, len(audio), 320):  # 20-ms blocks, like a real stream
        preds += analyzer.feed(audio[i:i + 320]).predictions
        if analyzer.frames_total >= 4 * sf and preds and preds[-1].time * cfg.frames_per_second >= 4 * sf:
            break
    live = preds[-1]
    heard = np.array([h[1] for h in analyzer.history])
    assert len(heard) == 4

    file_result = classifier.classify_audio(audio[:four])  # the same four slices, as a file
    assert np.allclose(heard, [s.probs for s in file_result.slices], atol=1e-4)
    assert (live.verdict, live.smoothed_genre, live.reason) == (file_result.verdict, file_result.closest,
                                                                file_result.reason)
    assert live.smoothed_confidence == pytest.approx(file_result.confidence, abs=1e-5)

    expected = apply_temperature(vote(heard), temperature_for(calibrated.calibration, 4))
    assert live.smoothed_confidence == pytest.approx(float(expected.max()), abs=1e-5)
    assert live.smoothed_genre == classifier.labels[int(np.argmax(expected))]
    assert abs(float(vote(heard).max()) - float(expected.max())) > 1e-3  # the temperature counts


def _menu_action(window, text: str):
    for menu_action in window.menuBar().actions():
        for action in menu_action.menu().actions():
            if action.text().replace("&", "") == text:
                return action
    raise AssertionError(f"no menu action {text!r}")


@pytest.mark.parametrize("suffix", ["csv", "json"])
def test_the_tracks_export_action_writes_the_library_format(qtbot, window, tmp_path, monkeypatch, suffix):
    """File › Export results… writes through ``listing.write_table``: the columns and the
    values of ``genre-desktop-cli library export``, replacing the file whole."""
    from PySide6.QtWidgets import QFileDialog

    from genre_desktop.core.library.listing import COLUMNS, write_table

    files = [write(tmp_path / "in" / "bass.wav", synth("bass", 6.0), 16000),
             write(tmp_path / "in" / "quiet.wav", np.zeros(16000 * 6, np.float32), 16000)]
    for path in files:
        with qtbot.waitSignal(window.verdict_ready, timeout=30000):
            window.open_paths([str(path)])
    out = tmp_path / "out" / f"tracks.{suffix}"
    out.parent.mkdir()
    out.write_text("an older export\n")
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(out), "")))
    _menu_action(window, "Export results\u2026").trigger()

    assert sorted(p.name for p in out.parent.iterdir()) == [out.name]  # no temporary left beside it
    if suffix == "csv":
        with out.open(newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            header = next(reader)
            rows = [dict(zip(header, r)) for r in reader]
        blank = write_table([], tmp_path / "blank.csv", "k", "n")  # the library exporter's own header
        assert header == next(csv.reader(blank.open(newline="", encoding="utf-8")))
        assert header[:len(COLUMNS)] == list(COLUMNS) and header[-1] == "model"
        assert all(r["model"] == window.library.ref.key for r in rows)
    else:
        data = json.loads(out.read_text(encoding="utf-8"))
        assert data["model_key"] == window.library.ref.key
        rows = data["tracks"]
        assert set(COLUMNS) <= set(rows[0])
    by_name = {Path(r["path"]).name: r for r in rows}
    assert by_name["quiet.wav"]["verdict"] == "silence" and by_name["quiet.wav"]["genre"] in ("", None)
    assert by_name["bass.wav"]["verdict"] in verdicts.VERDICTS and by_name["bass.wav"]["closest"] == "bass"
