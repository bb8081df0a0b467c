import numpy as np
import pytest

from conftest import synth, write
from genre_desktop.core.engine.models.bundle import load_bundle
from genre_desktop.core.training.feature_cache import FeatureCache
from genre_desktop.core.training.labelled_folders import LabelledTrack, scan_labelled_folders
from genre_desktop.core.engine.models.registry import list_models
from genre_desktop.core.paths import user_models_folder
from genre_desktop.core.training.splits import grouped_stratified_split
from genre_desktop.core.tasks import Cancelled
from genre_desktop.core.training.train_on_library import TrainOptions, train_on_library


def test_scan_reports_problems(tmp_path, tiny_library):
    import shutil

    lib = tmp_path / "lib"
    shutil.copytree(tiny_library, lib)
    (lib / "bass" / "broken.mp3").write_bytes(b"nonsense" * 100)
    shutil.copy(lib / "bass" / "bass_0.ogg", lib / "treble" / "copy_of_bass.ogg")
    (lib / "lonely").mkdir()
    write(lib / "lonely" / "one.wav", synth("noise", 3.0), 16000)
    scan = scan_labelled_folders(lib)
    assert scan.counts() == {"bass": 6, "lonely": 1, "noise": 6, "treble": 6}
    assert [p.name for p, _ in scan.unreadable] == ["broken.mp3"]
    assert len(scan.duplicates) == 1
    warnings = " ".join(scan.warnings())
    assert "'lonely' has only 1 track" in warnings and "more than one genre" in warnings
    assert scan.blocking_problem() is None


def test_one_genre_cannot_train(tmp_path):
    write(tmp_path / "rock" / "a.wav", synth("bass", 3.0), 16000)
    scan = scan_labelled_folders(tmp_path)
    assert "two genres" in scan.blocking_problem()
    with pytest.raises(ValueError):
        train_on_library(scan, "x")


def test_split_is_by_track_and_group():
    genres = ["a"] * 10 + ["b"] * 10
    groups = [f"a{i // 2}" for i in range(10)] + [f"b{i}" for i in range(10)]
    train, val = grouped_stratified_split(genres, groups, 0.3, seed=1)
    assert set(train).isdisjoint(val) and len(train) + len(val) == 20
    for g in set(groups):
        members = {i for i, x in enumerate(groups) if x == g}
        assert members <= set(train) or members <= set(val)
    assert LabelledTrack(__import__("pathlib").Path("x/blues.00012.ogg"), "blues").split_group == "blues/blues.2"


@pytest.mark.parametrize("mode", ["quick", "thorough"])
def test_train_on_library_really_trains(tiny_library, tiny_model, mode):
    scan = scan_labelled_folders(tiny_library)
    seen = []
    outcome = train_on_library(scan, f"mine-{mode}", TrainOptions(mode=mode, epochs=2),
                               base_model=str(tiny_model), progress=lambda f, m: seen.append(f))
    assert outcome.path == user_models_folder() / f"mine-{mode}"
    assert outcome.report.total == 6 and outcome.report.accuracy >= 0.8
    bundle = load_bundle(outcome.path)
    assert bundle.labels == ["bass", "treble", "noise"]  # extend: the base's genres, in its order
    assert f"mine-{mode}" in [m.name for m in list_models()]
    assert seen[-1] == 1.0
    if mode == "thorough":
        assert len(outcome.history.val_accuracy) == 2


def test_cancel_writes_nothing(tiny_library, tiny_model):
    scan = scan_labelled_folders(tiny_library)
    calls = []

    def stop_after_decoding():
        calls.append(1)
        return len(calls) > len(scan.tracks)

    with pytest.raises(Cancelled):
        train_on_library(scan, "cancelled", TrainOptions(mode="thorough", epochs=3),
                         base_model=str(tiny_model), should_stop=stop_after_decoding)
    assert not (user_models_folder() / "cancelled").exists()


def test_feature_cache_hits(tmp_path, monkeypatch):
    """The second ``get`` of a file reads the stored entry: the file is not decoded again,
    and what comes back is the stored float16 copy."""
    from genre_desktop.core.engine.audio.features import FeatureConfig
    from genre_desktop.core.training import feature_cache

    decoded = []
    decode = feature_cache.iter_audio_blocks
    monkeypatch.setattr(feature_cache, "iter_audio_blocks", lambda path, *a, **k: (decoded.append(path),
                                                                                  decode(path, *a, **k))[1])
    path = write(tmp_path / "a.flac", synth("bass", 4.0), 16000)
    cache = FeatureCache(tmp_path / "cache")
    first = cache.get(path, FeatureConfig())
    entries = list((tmp_path / "cache").iterdir())
    assert len(entries) == 1 and len(decoded) == 1
    again = cache.get(path, FeatureConfig())
    assert len(decoded) == 1, "a hit decodes nothing"
    np.testing.assert_array_equal(again, first.astype(np.float16).astype(np.float32))  # the stored copy
    cache.get(path, FeatureConfig(n_mels=64))  # another config, another entry
    assert len(list((tmp_path / "cache").iterdir())) == 2 and len(decoded) == 2
    path.write_bytes(path.read_bytes() + b"\0")  # the file changed: a miss
    cache.get(path, FeatureConfig())
    assert len(decoded) == 3


def test_known_genres_start_from_the_base_head(tiny_library, tiny_model):
    from genre_desktop.core.training.heads import fit_standardised_head
    from genre_desktop.core.engine.models.genre_names import genre_key
    from genre_desktop.core.training.scope import head_prior, plan_labels

    assert genre_key("Hip-Hop") == genre_key("hip hop") == "hiphop"
    base = load_bundle(tiny_model)
    plan = plan_labels(base.labels, ["Treble", "shoegaze"], "only")
    weight, bias = head_prior(plan, base.labels, base.network.head.weight.detach().numpy(),
                              base.network.head.bias.detach().numpy())
    assert plan.known == ["Treble"]
    np.testing.assert_array_equal(weight[0], base.network.head.weight[base.labels.index("treble")].detach().numpy())
    assert not weight[1].any() and bias[1] == 0
    # the penalty pulls towards the prior: strongly regularised, the head stays there
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(60, weight.shape[1])).astype(np.float32), np.repeat([0, 1], 30)
    w, _ = fit_standardised_head(x, y, 2, l2=1e4, prior=(weight, bias))
    np.testing.assert_allclose(w, weight, atol=1e-3 * np.abs(weight).max())
    w0, _ = fit_standardised_head(x, y, 2, l2=1e4)
    assert np.abs(w0).max() < 1e-3 * np.abs(weight).max()
    # the wizard reports and records what it reused, or nothing when told not to
    scan = scan_labelled_folders(tiny_library)
    outcome = train_on_library(scan, "known", TrainOptions(), base_model=str(tiny_model))
    assert outcome.known_genres == ["bass", "noise", "treble"]
    assert load_bundle(outcome.path).meta["provenance"]["known_genres"] == outcome.known_genres
    fresh = train_on_library(scan, "fresh", TrainOptions(reuse_known_genres=False), base_model=str(tiny_model))
    assert fresh.known_genres == [] and fresh.report.accuracy >= 0.8


@pytest.mark.parametrize("mode", ["quick", "thorough"])
def test_wizard_accuracy_is_what_evaluate_gives(tiny_library, tiny_model, tmp_path, mode, run_cli):
    """The wizard's validation goes through the app's verdict path: the saved model, run by
    `genre-desktop-cli evaluate` on the same held-out tracks, gets the same confusion matrix."""
    import json
    import shutil

    lib = tmp_path / "lib"
    shutil.copytree(tiny_library, lib)
    for i in range(3):  # mislabelled tracks, so that the matrix has errors to agree on
        write(lib / "bass" / f"really_treble_{i}.wav", synth("treble", 4.0, seed=300 + i), 16000)
        write(lib / "noise" / f"really_bass_{i}.wav", synth("bass", 4.0, seed=400 + i), 16000)
    scan = scan_labelled_folders(lib)
    outcome = train_on_library(scan, f"same-{mode}", TrainOptions(mode=mode, epochs=2, seed=3, val_fraction=0.5),
                               base_model=str(tiny_model))
    assert outcome.report.accuracy < 1.0  # some mislabelled tracks were held out
    held_out = tmp_path / "held_out"
    for path in outcome.validation_paths:
        (held_out / path.parent.name).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, held_out / path.parent.name / path.name)
    proc = run_cli("evaluate", "--json", "--model", outcome.path, held_out, check_rc=0)
    report = json.loads(proc.stdout)
    assert report["tracks"] == outcome.report.total == len(outcome.validation_paths)
    assert report["accuracy"] == pytest.approx(outcome.report.accuracy)
    assert report["confusion"] == outcome.report.to_json()["confusion"]
