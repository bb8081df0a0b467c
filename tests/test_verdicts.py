"""Every verdict state, through the CLI and the window: genre, unsure, unknown, not music,
silence. "Not music" and "unknown" need open-set statistics: the bundled model has them
(music at large), and a model trained here on the tiny library inherits the music part
and learns its own genres'."""
import json

import numpy as np
import pytest

from conftest import SHARED_DATA, synth, write
from genre_desktop.core.engine.models.bundle import load_bundle
from genre_desktop.core.engine.classify.verdicts import VERDICTS

SR = 22050


def noise(seconds=12.0, seed=0):
    return (0.3 * np.random.default_rng(seed).standard_normal(int(seconds * SR))).astype(np.float32)


def tone(freq=3000.0, seconds=12.0):
    return (0.3 * np.sin(2 * np.pi * freq * np.arange(int(seconds * SR)) / SR)).astype(np.float32)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("verdicts")
    files = {"noise": write(d / "white noise.wav", noise(), SR), "tone": write(d / "3 kHz tone.wav", tone(), SR),
             "silence": write(d / "silence.wav", np.zeros(SR * 10, np.float32), SR)}
    music = sorted((SHARED_DATA / "gtzan" / "metal").glob("*.ogg"))[:2] if SHARED_DATA.is_dir() else []
    return files, music


def cli_json(run_cli, *args):
    proc = run_cli("classify", "--json", "--no-progress", *args)
    assert "Traceback" not in proc.stderr, proc.stderr
    return {r["path"].rsplit("/", 1)[-1]: r for r in map(json.loads, proc.stdout.splitlines())}


def test_bundled_model_says_not_music_and_silence(bundled_model_path, inputs, run_cli):
    files, music = inputs
    rows = cli_json(run_cli, files["noise"], files["tone"], files["silence"], *music)
    for name in ("white noise.wav", "3 kHz tone.wav"):
        r = rows[name]
        assert r["verdict"] == "not_music" and r["genre"] is None and r["uncertain"], r
        assert "not music" in r["reason"] and r["closest"]
    assert rows["silence.wav"]["verdict"] == "silence"
    for path in music:  # real music is never "not music"
        assert rows[path.name]["verdict"] in ("genre", "unsure", "unknown")
    assert set(r["verdict"] for r in rows.values()) <= set(VERDICTS)


def test_genre_and_unsure_from_a_model_without_open_set_statistics(tiny_model, tmp_path, run_cli):
    clear = write(tmp_path / "bass.wav", synth("bass", 6.0), 16000)
    mixed = write(tmp_path / "mixed.wav", np.concatenate([synth("bass", 5.0), synth("treble", 5.0),
                                                          synth("noise", 5.0)]), 16000)
    rows = cli_json(run_cli, "--model", tiny_model, clear, mixed)
    assert rows["bass.wav"]["verdict"] == "genre" and rows["bass.wav"]["uncertain"] is False
    assert rows["mixed.wav"]["verdict"] == "unsure" and rows["mixed.wav"]["genre"] and rows["mixed.wav"]["uncertain"]


@pytest.fixture(scope="module")
def synth_genres_model(bundled_model_path, tiny_library, tmp_path_factory):
    """A model of three synthetic 'genres' on the bundled backbone (quick mode)."""
    from genre_desktop.core.training.labelled_folders import scan_labelled_folders
    from genre_desktop.core.training.train_on_library import TrainOptions, train_on_library

    outcome = train_on_library(scan_labelled_folders(tiny_library), "synth", TrainOptions(val_fraction=0.0, scope="only"),
                               base_model=str(bundled_model_path),
                               dest=tmp_path_factory.mktemp("synthmodel") / "synth")
    return outcome.path


def test_a_trained_model_knows_what_it_never_heard(synth_genres_model, inputs, tiny_library, shared_data, run_cli):
    files, music = inputs
    bundle = load_bundle(synth_genres_model)
    assert bundle.openset is not None and bundle.openset.music is not None  # inherited from the base
    own = tiny_library / "treble" / "treble_0.ogg"  # its own genre, though not music at large
    rows = cli_json(run_cli, "--model", synth_genres_model, *music, files["noise"], own)
    for path in music:  # metal, to a model of synthetic bass/treble/noise
        assert rows[path.name]["verdict"] == "unknown", rows[path.name]
        assert "unlike any of this model's 3 genres" in rows[path.name]["reason"]
    assert rows["white noise.wav"]["verdict"] == "not_music"
    assert rows["treble_0.ogg"]["verdict"] in ("genre", "unsure") and rows["treble_0.ogg"]["genre"] == "treble"


def test_calibrated_confidence_is_in_the_bundle(bundled_model_path):
    bundle = load_bundle(bundled_model_path)
    cal = bundle.meta["calibration"]
    assert 0.05 <= bundle.temperature <= 50 and cal["ece_after"] <= cal["ece_before"]


@pytest.mark.parametrize("kind", ["not_music", "unknown"])
def test_window_shows_the_state(qtbot, kind, bundled_model_path, synth_genres_model, inputs, request):
    from genre_desktop.gui.main_window import MainWindow
    from genre_desktop.gui.settings import app_settings

    files, music = inputs
    if kind == "unknown":
        request.getfixturevalue("shared_data")  # skips, saying why, without the real music
    window = MainWindow(app_settings())
    qtbot.addWidget(window)
    window.show()
    model = bundled_model_path if kind == "not_music" else synth_genres_model
    with qtbot.waitSignal(window.model_ready, timeout=60000):
        window.switch_model(str(model))
    path = str(files["noise"] if kind == "not_music" else music[0])
    with qtbot.waitSignal(window.verdict_ready, timeout=60000) as blocker:
        window.open_paths([path])
    assert blocker.args[1].verdict == kind
    window.select_path(path)
    expected = {"not_music": "Not music", "unknown": "None of this model's genres"}[kind]
    qtbot.waitUntil(lambda: window.verdict.genre.text() == expected, timeout=5000)
    row = window.table_model.rows[0]
    assert row.genre_text == {"not_music": "not music", "unknown": "unknown"}[kind]
    assert expected.lower() in window.plots.legend.text().lower()
    window.close()


def test_live_windows_get_verdicts(bundled_classifier):
    from genre_desktop.core.engine.classify.live import LiveAnalyzer

    clf = bundled_classifier
    analyzer = LiveAnalyzer(clf, hop_seconds=1.0)
    audio = noise(8.0, seed=3)
    import soxr

    preds = analyzer.feed(soxr.resample(audio, SR, clf.config.sample_rate)).predictions
    assert preds and preds[-1].verdict == "not_music"
    assert json.loads(json.dumps(preds[-1].to_json()))["verdict"] == "not_music"


def test_the_generated_not_music_set_through_the_cli(bundled_model_path, tmp_path, run_cli):
    """Speech (espeak-ng), noise, a hum and a tone (sox) and clicks in a quiet room: all
    "not music"; the noise, hum and clicks that sit among music in the embedding are
    caught as steady sounds. The full sets are measured in benchmarks/bench_openset.py."""
    import shutil

    if not (shutil.which("espeak-ng") and shutil.which("sox")):
        pytest.skip("espeak-ng and sox make the not-music set (README set-up)")
    from tools.notmusic import write_set

    files = write_set(tmp_path / "notmusic", voices=("en", "de"), speeds=(175,),
                      sox_kinds=("noise_pink", "noise_brown", "hum_60", "tone_440"))
    rows = cli_json(run_cli, *files)
    assert {name: r["verdict"] for name, r in rows.items()} == {f.name: "not_music" for f in files}
    for name in ("noise_pink.wav", "hum_60.wav", "clicks_in_a_quiet_room.wav"):
        assert "steady sound" in rows[name]["reason"], rows[name]


def test_the_steady_sound_rule_is_learnt_and_a_steady_genre_keeps_it():
    from genre_desktop.core.engine.models.openset import (STEADY_MARGIN, fit_openset, fit_steady_threshold,
                                                   slice_dispersion)

    rng = np.random.default_rng(0)
    assert slice_dispersion(np.ones((5, 8))) == 0.0 and slice_dispersion(np.ones((1, 8))) == 0.0
    varied = [rng.normal(1.0, 0.5, (12, 8)) for _ in range(40)]  # "music": slices that change
    steady = [np.ones((12, 8)) + rng.normal(0, 0.01, (12, 8)) for _ in range(40)]  # "noise"
    threshold = fit_steady_threshold(varied)
    assert threshold == pytest.approx(STEADY_MARGIN * np.quantile([slice_dispersion(s) for s in varied], 0.01))
    assert fit_steady_threshold(varied[:5]) is None  # too few tracks to say
    base = fit_openset(varied, [0, 1] * 20, fit_music=True)
    assert base.steady(slice_dispersion(steady[0]), 12) and not base.steady(slice_dispersion(varied[0]), 12)
    assert not base.steady(slice_dispersion(steady[0][:2]), 2)  # two slices say too little
    # a person's model with a steady genre of its own ("white noise for sleep") lowers the bar
    mine = fit_openset(varied[:20] + steady[:20], [0] * 20 + [1] * 20, steady=base.steady_threshold)
    assert mine.steady_threshold < base.steady_threshold
    assert not mine.steady(slice_dispersion(steady[30]), 12)


def test_live_hears_a_steady_hum_as_not_music(bundled_classifier):
    """A mains hum sits among music in the embedding; four non-overlapping windows that
    barely change make it "not music" in the live tab too."""
    import soxr

    from genre_desktop.core.engine.classify.live import LiveAnalyzer

    clf = bundled_classifier
    t = np.arange(int(12 * SR)) / SR
    hum = (0.2 * sum(np.sin(2 * np.pi * f * t) for f in (60, 120, 180)) / 3).astype(np.float32)
    preds = LiveAnalyzer(clf, hop_seconds=1.0).feed(soxr.resample(hum, SR, clf.config.sample_rate)).predictions
    assert preds[-1].verdict == "not_music", [p.verdict for p in preds]
