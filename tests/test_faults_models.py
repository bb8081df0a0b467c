"""Models under hostile input: a planted unpack folder, a model sent under another's key,
a model that does not load given to a scan, swapped ONNX cache entries, absurd open-set
thresholds and temperatures, unreadable weights. Real bundles, real files, real processes."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from conftest import TINY_LABELS, synth, write
from genre_desktop.core.engine.models.bundle import bundle_digest, load_bundle, read_meta
from genre_desktop.core.errors import BundleError
from genre_desktop.core.library import model_ref
from genre_desktop.core.library.model_ref import ModelRef
from genre_desktop.core.library.analyse import analyse_path


def _copy(tiny_model, where: Path, name: str) -> Path:
    folder = where / name
    shutil.copytree(tiny_model, folder)
    return folder


def _with_labels(folder: Path, labels: list) -> Path:
    meta = json.loads((folder / "model.json").read_text())
    meta["labels"] = labels
    (folder / "model.json").write_text(json.dumps(meta))
    return folder


def _with_head_rolled(folder: Path) -> Path:
    """The same labels, another network: the head's rows rolled by one (bass -> treble...)."""
    import torch
    from safetensors.torch import load_file, save_file

    state = load_file(str(folder / "weights.safetensors"))
    state["head.weight"] = torch.roll(state["head.weight"], 1, 0).contiguous()
    state["head.bias"] = torch.roll(state["head.bias"], 1, 0).contiguous()
    save_file(state, str(folder / "weights.safetensors"))
    return folder


@pytest.fixture
def bass(tmp_path):
    return write(tmp_path / "audio" / "bass.flac", synth("bass", 6.0, seed=5))


@pytest.fixture(autouse=True)
def _fresh_worker_models():
    model_ref._LOADED.clear()
    yield
    model_ref._LOADED.clear()


def test_a_planted_unpack_folder_is_never_used(tmp_path, tiny_model, bass, monkeypatch):
    """A worker that cannot see the model's folder unpacks the files sent with the work into a
    private folder of its own; a folder planted at the old guessable name is ignored."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    genuine = ModelRef.of(tiny_model)
    assert analyse_path(str(bass), genuine)["result"]["genre"] == "bass"
    model_ref._LOADED.clear()
    remote = dataclasses.replace(genuine.portable(), folder=str(tmp_path / "not-on-this-machine"))
    planted = tmp_path / "tmp" / "genre-desktop-models" / hashlib.sha256(remote.key.encode()).hexdigest()[:16]
    planted.parent.mkdir()
    _with_labels(_copy(tiny_model, planted.parent, planted.name), ["treble", "noise", "bass"])
    record = analyse_path(str(bass), remote)
    assert record["result"]["genre"] == "bass"
    used = model_ref._LOADED[remote.key].bundle.path
    assert used != planted and used.parent == tmp_path / "tmp" and oct(used.stat().st_mode & 0o777) == "0o700"


def test_a_model_sent_under_another_key_is_refused(tmp_path, tiny_model):
    other = _with_labels(_copy(tiny_model, tmp_path, "other"), ["treble", "noise", "bass"])
    genuine = ModelRef.of(tiny_model)
    forged = dataclasses.replace(genuine, folder=str(tmp_path / "nowhere"),
                                 files=ModelRef.of(other).portable().files)
    with pytest.raises(BundleError, match="digest differs"):
        model_ref.load_model(forged)
    # a folder at the model's own path that holds another model is not used either
    moved = dataclasses.replace(genuine, folder=str(other))
    with pytest.raises(BundleError, match="is not at"):
        model_ref.load_model(moved)


def _bad_weights(folder: Path) -> Path:
    data = (folder / "weights.safetensors").read_bytes()
    (folder / "weights.safetensors").write_bytes(data[: len(data) // 2])
    return folder


def _missing_backbone(folder: Path) -> Path:
    """A model whose first tensor is "shared" with a bundled model that no bundled model has."""
    from safetensors.torch import load_file, save_file

    state = load_file(str(folder / "weights.safetensors"))
    del state[sorted(state)[0]]
    save_file(state, str(folder / "weights.safetensors"))
    meta = json.loads((folder / "model.json").read_text())
    meta["base_weights"] = {"model": "some_backbone", "tensors": 1, "sha256": "ab" * 32}
    (folder / "model.json").write_text(json.dumps(meta))
    return folder


@pytest.mark.parametrize("damage", [_bad_weights, _missing_backbone], ids=["broken-weights", "no-backbone"])
def test_scan_with_a_model_that_does_not_load_fails_once_in_one_line(damage, tmp_path, tiny_model, run_cli_process):
    model = damage(_copy(tiny_model, tmp_path, "damaged"))
    music = tmp_path / "music"
    for i in range(3):
        write(music / f"t{i}.flac", synth("bass", 3.0, seed=i))
    db = tmp_path / "l.sqlite3"
    # a real program: its stderr holds what the worker processes print too
    done = run_cli_process("library", "--library", db, "scan", music, "--model", model, "--workers", "2", timeout=300)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error")]
    assert len(errors) == 1 and ("weights" in errors[0] or "bundled weights" in errors[0]), done.stderr
    import sqlite3

    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM results").fetchone()[0] == 0


def test_swapped_onnx_cache_entries_are_refused(tmp_path, tiny_model, bass):
    """The graph and check file of another model copied over this model's entry: refused
    (the check records whose digest it is), and this model's own graph exported afresh."""
    pytest.importorskip("onnxruntime")
    from genre_desktop.core.engine.classify.classifier import Classifier
    from genre_desktop.core.engine.network.onnx_runtime import SOURCE, cache_key
    from genre_desktop.core.paths import onnx_cache_folder

    other = _with_head_rolled(_copy(tiny_model, tmp_path, "other"))
    cache = onnx_cache_folder()
    first = Classifier(load_bundle(tiny_model, network=False), runtime="auto")
    second = Classifier(load_bundle(other, network=False), runtime="auto")
    assert first.runtime == second.runtime == "onnxruntime"
    assert first.classify_file(bass).genre == "bass" and second.classify_file(bass).genre != "bass"
    mine, theirs = cache_key(first.bundle), cache_key(second.bundle)
    for suffix in (".onnx", ".check.npz"):
        shutil.copyfile(cache / f"{theirs}{suffix}", cache / f"{mine}{suffix}")
    again = Classifier(load_bundle(tiny_model, network=False), runtime="auto")
    assert again.classify_file(bass).genre == "bass"
    import numpy as np

    with np.load(cache / f"{mine}.check.npz") as check:
        assert bundle_digest(tiny_model) in str(check[SOURCE])


@pytest.mark.parametrize("entry, value, words", [
    ("openset", {"unknown_threshold_1": 1e308}, "not a usable threshold"),
    ("openset", {"unknown_threshold_1": float("nan")}, "must be a number"),
    ("openset", {"not_music_threshold_2": -3.0}, "not a usable threshold"),
    ("openset", {"steady_threshold": 0}, "not a usable threshold"),
    ("calibration", {"temperature": -1}, "calibration temperature"),
    ("calibration", {"temperature": 0}, "calibration temperature"),
    ("calibration", {"temperature": 1e9}, "calibration temperature"),
])
def test_absurd_thresholds_and_temperatures_are_refused(entry, value, words, tmp_path, tiny_model):
    from genre_desktop.core.engine.models.registry import list_models, resolve_model
    from genre_desktop.core.paths import user_models_folder

    folder = _copy(tiny_model, user_models_folder(), "absurd")
    meta = json.loads((folder / "model.json").read_text())
    meta[entry] = value
    (folder / "model.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match=words):
        read_meta(folder)
    with pytest.raises(BundleError, match=words):
        resolve_model("absurd")
    listed = {e.name: e for e in list_models(include_broken=True)}
    assert not listed["absurd"].usable and "\n" not in listed["absurd"].error


def _truncated(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:100])


def _no_header(path: Path) -> None:
    path.write_bytes(b"\xff" * 8 + b"{}")


def _garbage_header(path: Path) -> None:
    data = path.read_bytes()
    n = int.from_bytes(data[:8], "little")
    path.write_bytes(data[:8] + b"[" * n + data[8 + n:])


def _unreadable(path: Path) -> None:
    if os.geteuid() == 0:
        path.unlink()
        path.mkdir()  # root reads any file: a folder in its place cannot be read as one
    else:
        path.chmod(0)


@pytest.mark.parametrize("damage", [_truncated, _no_header, _garbage_header, _unreadable])
def test_models_with_unreadable_weights_are_listed_as_broken(damage, tiny_model):
    from genre_desktop.core.engine.models.registry import list_models, resolve_model
    from genre_desktop.core.paths import user_models_folder

    folder = _copy(tiny_model, user_models_folder(), "damaged")
    fine = _copy(tiny_model, user_models_folder(), "fine")
    damage(folder / "weights.safetensors")
    assert [e.name for e in list_models() if not e.bundled] == ["fine"]
    entry = {e.name: e for e in list_models(include_broken=True)}["damaged"]
    assert not entry.usable and entry.error.startswith("weights.safetensors "), entry.error
    with pytest.raises(BundleError, match="broken"):
        resolve_model("damaged")
    assert resolve_model("fine") == fine
    with pytest.raises(BundleError):
        load_bundle(folder)


def test_one_bundle_digest_for_the_key_the_network_and_the_cache(tiny_model):
    from genre_desktop.core.engine.network.onnx_runtime import _source

    digest = bundle_digest(tiny_model)
    ref = ModelRef.of(tiny_model)
    bundle = load_bundle(tiny_model, network=False)
    assert ref.digest == bundle.network_key == digest and ref.key.endswith(f"#{digest[:12]}")
    assert _source(bundle).endswith(digest)
    assert TINY_LABELS == bundle.labels
