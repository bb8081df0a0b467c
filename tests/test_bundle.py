import json
import shutil

import pytest
import torch

from genre_desktop.core.engine.models.bundle import load_bundle, read_meta, save_bundle

from genre_desktop.core.errors import BundleError


def copy(src, dst):
    shutil.copytree(src, dst)
    return dst


def test_roundtrip(tiny_model):
    bundle = load_bundle(tiny_model)
    assert bundle.labels == ["bass", "treble", "noise"]
    assert not bundle.network.training
    assert "tiny" in bundle.describe()


@pytest.mark.parametrize("mutate,message", [
    (lambda m: m.update(labels=["a", "b"]), "labels do not match weights"),
    (lambda m: m.update(labels="bass"), "labels must be"),
    (lambda m: m.update(format_version=99), "unsupported bundle format"),
    (lambda m: m.update(architecture={"name": "resnet"}), "unknown architecture"),
    (lambda m: m["architecture"]["params"].update(channels=[4, 4, 4, 4]), "do not fit"),
    (lambda m: m["features"].update(n_mels="many"), "bad feature settings"),
])
def test_malformed_bundles_are_refused(tiny_model, tmp_path, mutate, message):
    folder = copy(tiny_model, tmp_path / "m")
    meta = json.loads((folder / "model.json").read_text())
    mutate(meta)
    (folder / "model.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match=message):
        load_bundle(folder)


def test_not_json_and_missing_weights(tiny_model, tmp_path):
    folder = copy(tiny_model, tmp_path / "m")
    (folder / "weights.safetensors").unlink()
    with pytest.raises(BundleError, match="weights missing"):
        load_bundle(folder)
    (folder / "model.json").write_text("{not json")
    with pytest.raises(BundleError, match="not valid JSON"):
        read_meta(folder)
    with pytest.raises(BundleError, match="not a model bundle"):
        load_bundle(tmp_path)


def test_pickle_weights_are_never_loaded(tiny_model, tmp_path):
    """A pickle disguised as weights is rejected, not executed."""
    folder = copy(tiny_model, tmp_path / "m")

    class Evil:
        def __reduce__(self):
            return (exec, ("open('%s', 'w').write('pwned')" % (tmp_path / "pwned"),))

    torch.save({"x": Evil()}, folder / "weights.safetensors")
    with pytest.raises(BundleError, match="weights unreadable"):
        load_bundle(folder)
    assert not (tmp_path / "pwned").exists()


def test_save_is_atomic_and_keeps_a_backup(tiny_model, tmp_path):
    bundle = load_bundle(tiny_model)
    dest = tmp_path / "mine"
    save_bundle(dest, bundle.network, {**bundle.meta, "version": "1"})
    save_bundle(dest, bundle.network, {**bundle.meta, "version": "2"})
    assert read_meta(dest)["version"] == "2"
    assert read_meta(tmp_path / "mine.previous")["version"] == "1"
    # a save that fails (labels do not fit the weights) leaves the old bundle intact
    with pytest.raises(BundleError):
        save_bundle(dest, bundle.network, {**bundle.meta, "labels": ["x", "y"], "version": "3"})
    assert read_meta(dest)["version"] == "2"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]


def test_quick_models_reference_the_bundled_backbone(bundled_model_path, tiny_library, tmp_path):
    """A quick-mode model stores its head, not a second copy of the 3 MB backbone, and
    classifies exactly as a full copy does; a reference no bundled model matches is broken."""
    import numpy as np

    from conftest import synth
    from genre_desktop.core.engine.classify.classifier import Classifier
    from genre_desktop.core.engine.models.registry import list_models
    from genre_desktop.core.training.labelled_folders import scan_labelled_folders
    from genre_desktop.core.training.train_on_library import train_on_library

    outcome = train_on_library(scan_labelled_folders(tiny_library), "slim", base_model=str(bundled_model_path))
    slim = load_bundle(outcome.path)
    meta = read_meta(outcome.path)
    assert meta["base_weights"]["model"] == "genre_musicnn_v3" and meta["base_weights"]["tensors"] > 50
    own_bytes = (outcome.path / "weights.safetensors").stat().st_size
    assert own_bytes < 0.1 * (bundled_model_path / "weights.safetensors").stat().st_size
    full = save_bundle(tmp_path / "full", slim.network, meta)  # no base given: a full copy
    assert "base_weights" not in read_meta(full)
    audio = synth("bass", 6.0)
    a = Classifier(slim).classify_audio(audio)
    b = Classifier(load_bundle(full)).classify_audio(audio)
    assert np.array_equal(a.probs, b.probs)
    # a reference that no bundled model satisfies: listed as broken, with the reason
    meta["base_weights"]["sha256"] = "0" * 64
    (outcome.path / "model.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match="train it again"):
        load_bundle(outcome.path)
    assert {e.name for e in list_models(include_broken=True)} >= {"slim"}


@pytest.mark.parametrize("value", ["0.1", -0.2, float("nan"), True])
def test_a_bad_steady_threshold_is_refused(bundled_model_path, tmp_path, value):
    dest = tmp_path / "m"
    shutil.copytree(bundled_model_path, dest)
    meta = json.loads((dest / "model.json").read_text())
    assert load_bundle(dest, network=False).openset.steady_threshold > 0
    meta["openset"]["steady_threshold"] = value
    (dest / "model.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match="steady_threshold|positive"):
        load_bundle(dest, network=False)
