"""The shipped architecture: MSD_musicnn's fast front-end and the musicnn_genre bundles."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import TINY_LABELS, synth

from genre_desktop.core.engine.models.bundle import load_bundle, save_bundle
from genre_desktop.core.engine.audio.features import FeatureConfig, log_mel
from genre_desktop.core.engine.classify.verdict import fit_slices
from genre_desktop.core.training.labelled_folders import scan_labelled_folders
from genre_desktop.core.engine.network.model import MusicnnGenre, build_model
from genre_desktop.core.engine.network.musicnn import MSD_TAGS, MusiCNN
from genre_desktop.recipes.backbone import load_msd_musicnn
from genre_desktop.core.training.train_on_library import TrainOptions, train_on_library


def music_like_slices(n: int = 3) -> torch.Tensor:
    """(n, 96, 156) log-mel slices of synthesised tones and noise (realistic value ranges)."""
    audio = np.concatenate([synth(kind, 2.6, seed=i) for i, kind in enumerate(["bass", "treble", "noise"])])
    slices, _ = fit_slices(log_mel(audio, FeatureConfig()), 156)
    return torch.from_numpy(slices[:n])


def reference_outputs(model: MusiCNN, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The straightforward conv -> ReLU -> batch norm -> max path (the one gradients use)."""
    with torch.enable_grad():
        x = x.clone().requires_grad_(True)
        assert not model._fast_path_applies() or not model.timbral_74.weight.requires_grad
        logits, emb = model(x)
    return logits.detach(), emb.detach()


@pytest.mark.parametrize("freq_stride", [1, 2])
def test_factorised_front_end_gives_the_same_outputs(freq_stride):
    teacher = load_msd_musicnn()
    model = MusiCNN(freq_stride=freq_stride)
    model.load_state_dict(teacher.state_dict())
    model.eval()
    x = music_like_slices()
    ref_logits, ref_emb = reference_outputs(model, x)
    with torch.inference_mode():
        logits, emb = model(x)
    assert model._fast is not None, "inference must take the factorised path"
    ranks = [sum(b.shape[0] for b, _, _ in part.convs) for part in model._fast]
    assert ranks[0] < 204 // 4 and ranks[1] < 204 // 4  # the timbral filters are low-rank
    np.testing.assert_allclose(emb.numpy(), ref_emb.numpy(), atol=1e-3 * float(ref_emb.abs().max()))
    np.testing.assert_allclose(logits.numpy(), ref_logits.numpy(), atol=1e-3 * float(ref_logits.abs().max()))
    # loading new weights invalidates the factorised copy
    model.load_state_dict(teacher.state_dict())
    assert model._fast is None


def musicnn_bundle(folder, labels=TINY_LABELS):
    """A musicnn_genre bundle with the real backbone and an untrained head."""
    model = MusicnnGenre(len(labels))
    model.backbone.load_state_dict(load_msd_musicnn().state_dict())
    meta = {"name": folder.name, "version": "test",
            "architecture": {"name": "musicnn_genre", "params": {"freq_stride": 1}},
            "labels": list(labels), "tags": MSD_TAGS, "features": FeatureConfig().to_dict(),
            "thresholds": {"min_confidence": 0.45, "min_agreement": 0.5}}
    return save_bundle(folder, model.eval(), meta)


def test_bundle_roundtrip_and_tags(tmp_path):
    bundle = load_bundle(musicnn_bundle(tmp_path / "m"))
    assert isinstance(bundle.network, MusicnnGenre) and bundle.tags == MSD_TAGS
    with torch.inference_mode():
        logits, tags, emb = bundle.network(music_like_slices(2))
    assert logits.shape == (2, len(TINY_LABELS)) and tags.shape == (2, 50) and emb.shape == (2, 200)
    with pytest.raises(ValueError, match="unknown architecture"):
        build_model({"name": "nope"}, 3)


@pytest.mark.parametrize("mode", ["quick", "thorough"])
def test_training_keeps_the_front_end_and_learns(tmp_path, tiny_library, mode):
    base = musicnn_bundle(tmp_path / "base")
    before = load_bundle(base).network.state_dict()
    outcome = train_on_library(scan_labelled_folders(tiny_library), f"mn-{mode}",
                               TrainOptions(mode=mode, epochs=1), base_model=str(base))
    after = load_bundle(outcome.path).network.state_dict()
    for key in ("backbone.timbral_74.weight", "backbone.temporal.0.weight", "backbone.input_bn.running_mean"):
        assert torch.equal(before[key], after[key]), f"{key} must stay frozen"
    changed = not torch.equal(before["backbone.mid.0.weight"], after["backbone.mid.0.weight"])
    assert changed == (mode == "thorough"), "only thorough mode fine-tunes the mid-end"
    assert not torch.equal(before["head.weight"], after["head.weight"])
    assert outcome.report.total == 6 and outcome.report.accuracy >= 0.8
