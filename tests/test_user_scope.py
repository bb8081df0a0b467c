"""What a user model knows: "extend" (the base's genres plus the person's, the default) or
"only" (the person's genres alone), and that a model of three genres does not call music
of a fourth one of its own with confidence."""
import shutil

import numpy as np
import pytest

from genre_desktop.core.engine.models.bundle import load_bundle, read_meta
from genre_desktop.core.training.labelled_folders import LabelledTrack, LabelledScan, scan_labelled_folders
from genre_desktop.core.training.scope import fit_scoped_head, head_prior, plan_labels, pseudo_samples
from genre_desktop.core.training.train_on_library import TrainOptions, train_on_library

# the real-music tests train two models on the bundled network: about a minute on 2 idle
# cores, many more when the machine is shared
pytestmark = pytest.mark.timeout(1200)


def test_extend_keeps_the_base_genres_and_adds_new_ones():
    base = ["blues", "classical", "hiphop", "metal"]
    plan = plan_labels(base, ["Hip-Hop", "shoegaze", "vaporwave"], "extend")
    assert plan.labels == base + ["shoegaze", "vaporwave"]  # the base's spelling for a genre it knows
    assert plan.index == {"Hip-Hop": 2, "shoegaze": 4, "vaporwave": 5}
    assert plan.kept == [0, 1, 3] and plan.known == ["Hip-Hop"]
    only = plan_labels(base, ["Hip-Hop", "shoegaze"], "only")
    assert only.labels == ["Hip-Hop", "shoegaze"] and only.kept == [] and only.known == ["Hip-Hop"]
    with pytest.raises(ValueError, match="scope"):
        plan_labels(base, ["a", "b"], "everything")


def test_kept_rows_stay_the_base_rows_and_new_rows_learn_not_to_claim_them():
    """The rows of genres the person did not supply are the base's exactly; the pseudo-samples
    of those genres keep a new genre's row from claiming their music."""
    rng = np.random.default_rng(0)
    d = 8
    means = np.eye(3, d) * 6  # three base genres, far apart
    base_w, base_b = means.astype(np.float32), -0.5 * (means ** 2).sum(axis=1).astype(np.float32)

    class Base:  # the base's open-set statistics: genre means, tied precision of track means
        genres = type("G", (), {"means": means, "precision": np.eye(d)})()

    plan = plan_labels(["a", "b", "c"], ["b", "new"], "extend")
    new_mean = np.r_[np.zeros(3), 6, np.zeros(d - 4)]
    tracks = [means[1] + rng.normal(size=(6, d)) for _ in range(5)] + [new_mean + rng.normal(size=(6, d))
                                                                      for _ in range(5)]
    rows = np.array([1] * 5 + [3] * 5)
    x, y = np.concatenate(tracks), np.repeat(rows, 6)
    prior = head_prior(plan, ["a", "b", "c"], base_w, base_b)
    pseudo = pseudo_samples(Base(), plan.kept, tracks, per_genre=200)
    assert set(pseudo[1]) == {0, 2} and pseudo[0].shape == (400, d)
    w, b = fit_scoped_head(plan, x, y, 0.1, prior, pseudo)
    np.testing.assert_allclose(w[plan.kept], base_w[plan.kept], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(b[plan.kept], base_b[plan.kept], rtol=1e-5, atol=1e-4)
    # music of a kept genre is still that genre, the new genre is learnt
    for row, centre in ((0, means[0]), (2, means[2]), (3, new_mean)):
        sample = centre + rng.normal(size=(50, d))
        assert ((sample @ w.T + b).argmax(axis=1) == row).mean() > 0.9
    # without the pseudo-samples nothing tells the new row where the kept genres are
    w0, b0 = fit_scoped_head(plan, x, y, 0.1, prior, None)
    kept_music = means[0] + rng.normal(size=(200, d))
    assert ((kept_music @ w.T + b).argmax(axis=1) == 0).mean() >= ((kept_music @ w0.T + b0).argmax(axis=1) == 0).mean()


def test_only_scope_learns_that_other_music_is_none_of_its_genres():
    """Outlier exposure: pseudo-samples of the base genres the person did not supply are
    taught to get no genre of theirs (a flat distribution), so music of those genres is no
    longer called one of the person's genres with confidence; their own music still is."""
    rng = np.random.default_rng(1)
    d = 8
    e = np.eye(d) * 6
    means = np.array([e[0], e[0] + e[1], e[4] + e[2]])  # b and c lie beyond a and x: a plain head extrapolates

    class Base:
        genres = type("G", (), {"means": means, "precision": np.eye(d)})()

    plan = plan_labels(["a", "b", "c"], ["a", "x"], "only")
    assert plan.labels == ["a", "x"] and plan.others == [1, 2]
    x_mean = e[4]
    tracks = [means[0] + rng.normal(size=(6, d)) for _ in range(5)] + [x_mean + rng.normal(size=(6, d))
                                                                      for _ in range(5)]
    x, y = np.concatenate(tracks), np.repeat([0] * 5 + [1] * 5, 6)
    prior = (np.zeros((2, d), np.float32), np.zeros(2, np.float32))
    pseudo = pseudo_samples(Base(), plan.others, tracks, per_genre=200)
    exposed = fit_scoped_head(plan, x, y, 0.1, prior, pseudo)
    plain = fit_scoped_head(plan, x, y, 0.1, prior, None)

    def confidence(head, centre):
        logits = (centre + rng.normal(size=(300, d))) @ head[0].T + head[1]
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        return (p / p.sum(axis=1, keepdims=True)).max(axis=1)

    other_music = [confidence(exposed, means[k]).mean() for k in (1, 2)]
    assert max(other_music) < 0.7 < min(confidence(plain, means[k]).mean() for k in (1, 2))
    assert confidence(exposed, means[0]).mean() > 0.8 and confidence(exposed, x_mean).mean() > 0.8


def test_thorough_mode_cannot_move_kept_genres(tmp_path, tiny_library, tiny_model):
    """Fine-tuning on the person's tracks alone would change the base genres it keeps: refused
    (before any work) for extend; fine for only."""
    lib = tmp_path / "lib"
    for genre in ("bass", "treble"):
        shutil.copytree(tiny_library / genre, lib / genre)
    scan = scan_labelled_folders(lib)
    with pytest.raises(ValueError, match="thorough mode"):
        train_on_library(scan, "moved", TrainOptions(mode="thorough", epochs=1), base_model=str(tiny_model))
    outcome = train_on_library(scan, "fine", TrainOptions(mode="thorough", epochs=1, scope="only"),
                               base_model=str(tiny_model))
    assert load_bundle(outcome.path).labels == ["bass", "treble"]


def test_cli_scope(tmp_path, tiny_library, tiny_model, run_cli):
    """``train --scope``: extend (the default) keeps the base genres beside a new one; only
    says plainly that everything will be called one of the person's genres."""
    from genre_desktop.core.paths import user_models_folder

    lib = tmp_path / "lib"
    shutil.copytree(tiny_library / "bass", lib / "Bass")
    shutil.copytree(tiny_library / "treble", lib / "shoegaze")
    out = run_cli("train", lib, "--name", "wide", "--base", tiny_model, check_rc=0).stdout
    meta = read_meta(user_models_folder() / "wide")
    assert meta["labels"] == ["bass", "treble", "noise", "shoegaze"]
    assert meta["provenance"]["scope"] == "extend" and meta["provenance"]["kept_genres"] == ["treble", "noise"]
    assert "It knows 4 genres: the base model's 3 and 1 new one of yours" in out
    first = out.splitlines()[0]  # the one estimate, and how it was measured
    assert first.startswith("accuracy: ") and "cross-validation over all 12 of your tracks" in first
    narrow = run_cli("train", lib, "--name", "narrow", "--base", tiny_model, "--scope", "only", check_rc=0)
    assert read_meta(user_models_folder() / "narrow")["labels"] == ["Bass", "shoegaze"]
    assert "will be called one of them" in narrow.stderr and "knows only your 2 genres" in narrow.stdout


# --- real music (../shared/data): three genres meet a fourth
MINE = ("classical", "metal", "reggae")
FOURTH = "jazz"


def held_out_of(bundle) -> set:
    return set(bundle.meta.get("provenance", {}).get("validation_tracks", []))


@pytest.fixture(scope="module")
def real_music(bundled_model_path, shared_data):
    base = load_bundle(bundled_model_path)
    held_out = held_out_of(base)
    train, test = [], []
    for genre in MINE:  # the person's library: tracks the bundled model trained on (none of the test tracks)
        pool = sorted(p for p in (shared_data / "gtzan" / genre).glob("*.ogg") if f"gtzan/{genre}/{p.name}" not in held_out)
        train += [LabelledTrack(p, genre) for p in pool[-5:]]
    test = sorted(shared_data / p for p in held_out if p.startswith(f"gtzan/{FOURTH}/"))[:4]
    assert len(train) == 15 and len(test) == 4
    return LabelledScan(train), test


@pytest.fixture(scope="module")
def trained(real_music, bundled_model_path, tmp_path_factory):
    """The same library trained with each scope (quick mode), and the fourth genre's tracks."""
    from genre_desktop.core.training.feature_cache import FeatureCache

    scan, test = real_music
    cache = FeatureCache(tmp_path_factory.mktemp("features"))
    models = {scope: train_on_library(scan, f"three-{scope}", TrainOptions(scope=scope, val_fraction=0.0),
                                      base_model=str(bundled_model_path), cache=cache,
                                      dest=tmp_path_factory.mktemp(scope) / "m")
              for scope in ("only", "extend")}
    return models, test


def classify(model_path, paths):
    from genre_desktop.core.engine.classify.classifier import Classifier

    clf = Classifier(load_bundle(model_path))
    return [clf.classify_file(str(p)) for p in paths]


def test_only_my_genres_does_not_call_a_fourth_genre_its_own(trained):
    """A model of classical, metal and reggae hears jazz it never heard: never a confident
    (>= 90 %) verdict of one of its genres: it hedges ("none of my genres", "not sure")."""
    models, test = trained
    assert models["only"].labels == list(MINE)
    for path, result in zip(test, classify(models["only"].path, test)):
        confident_own = result.verdict == "genre" and result.confidence >= 0.9
        assert not confident_own, f"{path.name}: {result.verdict} {result.closest} {result.confidence:.1%}"


def test_extend_gives_other_genres_their_bundled_genre(trained, bundled_model_path, shared_data):
    """The same library added to the bundled genres: held-out tracks of other genres that the
    bundled model gets right keep their genre, and the model knows the bundled model's genres."""
    models, _ = trained
    outcome = models["extend"]
    base = load_bundle(bundled_model_path)
    assert outcome.labels == base.labels and outcome.known_genres == list(MINE)
    held_out = held_out_of(base)
    test = [shared_data / p for g in (FOURTH, "hiphop", "disco")
            for p in sorted(p for p in held_out if p.startswith(f"gtzan/{g}/"))[:2]]
    truth = [p.parent.name for p in test]
    base_right = [r.closest == g for r, g in zip(classify(bundled_model_path, test), truth)]
    assert sum(base_right) >= 3, "the bundled model should know some of these tracks"
    extended = classify(outcome.path, test)
    for path, g, right, result in zip(test, truth, base_right, extended):
        if right:
            assert result.closest == g, f"{path.name}: {result.verdict} {result.closest} {result.confidence:.1%}"
    assert "It knows 11 genres" in outcome.knows()
