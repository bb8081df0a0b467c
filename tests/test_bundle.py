import json
import shutil

import pytest
import torch

from genre_desktop.core.engine.bundle import BundleError, load_bundle, read_meta, save_bundle


def copy(src, dst):
    shutil.copytree(src, dst)
    return dst


def test_roundtrip(tiny_model):
    bundle = load_bundle(tiny_model)
    assert bundle.labels == ["bass", "treble", "noise"]
    assert not bundle.model.training
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
    save_bundle(dest, bundle.model, {**bundle.meta, "version": "1"})
    save_bundle(dest, bundle.model, {**bundle.meta, "version": "2"})
    assert read_meta(dest)["version"] == "2"
    assert read_meta(tmp_path / "mine.previous")["version"] == "1"
    # a save that fails (labels do not fit the weights) leaves the old bundle intact
    with pytest.raises(BundleError):
        save_bundle(dest, bundle.model, {**bundle.meta, "labels": ["x", "y"], "version": "3"})
    assert read_meta(dest)["version"] == "2"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]
