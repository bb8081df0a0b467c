"""The converted MSD_musicnn backbone, as the recipe and the port's tests load it."""
from __future__ import annotations

from importlib import resources

from safetensors.torch import load_file

from genre_desktop.core.engine.network.musicnn import MusiCNN


def load_msd_musicnn() -> MusiCNN:
    """The converted MSD_musicnn shipped in ``models/msd_musicnn`` (eval mode)."""
    weights = resources.files("genre_desktop_models") / "msd_musicnn" / "weights.safetensors"
    model = MusiCNN()
    with resources.as_file(weights) as path:
        model.load_state_dict(load_file(str(path)), strict=True)
    return model.eval()
