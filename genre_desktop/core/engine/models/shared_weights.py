"""Weights a trained model shares with a bundled model are referenced, not copied.

"Train on my library" in quick mode learns only a genre head: the 3 MB MSD_musicnn
backbone is the bundled model's, bit for bit. Such a bundle stores its own tensors and,
in ``model.json``, ``"base_weights": {"model": NAME, "tensors": N, "sha256": DIGEST}``;
loading takes the missing tensors from whichever bundled model holds them with that
digest (so an app update that keeps the backbone keeps the user's models working) and
refuses the bundle, with the reason, when none does. Tensors that training changed (a
fine-tuned backbone) are always stored in the bundle itself.
"""
from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from genre_desktop.core.engine.models.bundle_meta import REF_KEY
from genre_desktop.core.errors import BundleError
from genre_desktop.core.paths import bundled_models_folder

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)


def digest(state: dict, keys: Iterable[str]) -> str:
    """sha256 of the named tensors (names, dtypes, shapes and bytes), in sorted order."""
    h = hashlib.sha256()
    for key in sorted(keys):
        tensor = state[key].detach().cpu().contiguous()
        h.update(f"{key}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        h.update(tensor.numpy().tobytes())
    return h.hexdigest()




def split_shared(state: dict, base_state: dict) -> tuple[dict, list[str]]:
    """The tensors of ``state`` that differ from ``base_state``, and the names of the rest."""
    import torch

    shared = [k for k, v in state.items()
              if k in base_state and base_state[k].shape == v.shape and base_state[k].dtype == v.dtype
              and torch.equal(base_state[k], v)]
    own = {k: v for k, v in state.items() if k not in set(shared)}
    return own, shared


def _bundled_weight_files() -> list[Path]:
    base = bundled_models_folder()
    return sorted(p for p in base.glob("*/weights.safetensors")) if base.is_dir() else []


def is_bundled(folder: Path) -> bool:
    try:
        return folder.resolve().parent == bundled_models_folder().resolve()
    except OSError:
        return False


def resolve(ref: dict, missing: list[str]) -> dict:
    """The ``missing`` tensors, from the bundled model that holds them with ``ref``'s digest.

    Raises
    ------
    BundleError
        No bundled model holds them (the app was updated to a different backbone, or the
        reference was tampered with): the model must be trained again.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if len(missing) != ref["tensors"]:
        raise BundleError(f"it needs {len(missing)} tensors from its base model, {REF_KEY} says {ref['tensors']}")
    for path in _bundled_weight_files():
        try:
            state = load_file(str(path))
        except (SafetensorError, OSError, ValueError):
            continue
        if all(k in state for k in missing) and digest(state, missing) == ref["sha256"]:
            return {k: state[k] for k in missing}
    raise BundleError(f"the bundled weights it builds on (from {ref['model']!r}) are not installed "
                      "any more: train it again")


def reference(base_name: str, base_state: dict, shared: list[str]) -> dict:
    """The ``base_weights`` entry for tensors ``shared`` with the bundled model ``base_name``."""
    return {"model": base_name, "tensors": len(shared), "sha256": digest(base_state, shared)}


def shared_state(model: "torch.nn.Module", base) -> tuple[dict, dict | None]:
    """(tensors to store, ``base_weights`` entry or None) for saving ``model``.

    ``base`` is the ModelBundle it was trained from; only a bundled one is referenced (a
    user's model may be deleted or replaced).
    """
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    if base is None or not is_bundled(base.path):
        return state, None
    base_state = {k: v.detach().cpu().contiguous() for k, v in base.network.state_dict().items()}
    own, shared = split_shared(state, base_state)
    if not shared:
        return state, None
    return own, reference(base.name, base_state, shared)
