"""The PyTorch port of MSD_musicnn reproduces the original TensorFlow tags.

``tests/data/musicnn_reference.npz`` was recorded by ``tools/convert_musicnn.py
--reference`` running musicnn's own TF graph, so this test needs no TensorFlow.
"""
from pathlib import Path

import numpy as np
import torch

from genre_desktop.recipes.backbone import load_msd_musicnn


def test_port_matches_tensorflow():
    ref = np.load(Path(__file__).parent / "data" / "musicnn_reference.npz")
    teacher = load_msd_musicnn()
    with torch.inference_mode():
        logits, emb = teacher(torch.from_numpy(ref["patches"]))
    tags = torch.sigmoid(logits).numpy()
    assert emb.shape == (len(ref["patches"]), 200)
    np.testing.assert_allclose(tags, ref["tags"], atol=1e-5)
    assert ref["tags"].std() > 0.01  # the reference is not a constant
