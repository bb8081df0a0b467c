"""One digest of a bundle: its files' (``bundle_digest``) for the library's model key, a
loaded bundle's ``network_key`` and the ONNX cache's key; its tensors' for a draft never
saved. Real bundles on disk."""
from __future__ import annotations

import shutil

from genre_desktop.core.engine.models.bundle import ModelBundle, bundle_digest, load_bundle
from genre_desktop.core.engine.network.onnx_runtime import _source, cache_key
from genre_desktop.core.library.analyse import ModelRef


def test_every_user_of_a_bundles_digest_gets_the_same_one(tiny_model):
    digest = bundle_digest(tiny_model)
    loaded, slim = load_bundle(tiny_model), load_bundle(tiny_model, network=False)
    assert loaded.network_key == slim.network_key == ModelRef.of(tiny_model).digest == digest
    assert _source(slim).endswith(f":{digest}") and cache_key(slim) == cache_key(loaded)


def test_changed_files_change_the_digest(tiny_model, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_model, copy)
    assert bundle_digest(copy) == bundle_digest(tiny_model)
    (copy / "notes.txt").write_text("not part of the bundle")
    assert bundle_digest(copy) == bundle_digest(tiny_model)
    meta = (copy / "model.json").read_text()
    (copy / "model.json").write_text(meta.replace('"tiny"', '"tinier"', 1))
    assert bundle_digest(copy) != bundle_digest(tiny_model)


def test_a_draft_never_saved_is_keyed_by_its_tensors(tiny_model):
    import torch

    loaded = load_bundle(tiny_model)
    draft = ModelBundle(tiny_model, loaded.meta, loaded.network,
                        loaded.labels, loaded.features)
    assert draft.network_key.startswith("tensors:") and draft.network_key != loaded.network_key
    again = ModelBundle(tiny_model, loaded.meta, draft.network,
                        loaded.labels, loaded.features)
    assert again.network_key == draft.network_key
    net = loaded.network
    with torch.no_grad():
        net.head.bias.add_(1.0)
    changed = ModelBundle(tiny_model, loaded.meta, net, loaded.labels, loaded.features)
    assert changed.network_key != draft.network_key and cache_key(changed) != cache_key(draft)
