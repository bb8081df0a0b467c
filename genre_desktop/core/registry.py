"""Where models live: bundled ones (``models/``) and the user's (platformdirs data folder).

``GENRE_DESKTOP_DATA`` overrides the user data folder (tests use it).
"""
from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Optional

from platformdirs import user_cache_dir, user_data_dir

from .bundle import BundleError, read_meta

log = logging.getLogger(__name__)

APP_NAME = "genre-desktop"
DATA_ENV = "GENRE_DESKTOP_DATA"
DEFAULT_MODEL = "genre_musicnn_v2"


def user_data_folder() -> Path:
    """The user's data folder (models they trained, feature cache)."""
    override = os.environ.get(DATA_ENV)
    return Path(override) if override else Path(user_data_dir(APP_NAME, appauthor=False))


def user_models_folder() -> Path:
    return user_data_folder() / "models"


def feature_cache_folder() -> Path:
    override = os.environ.get(DATA_ENV)
    base = Path(override) / "cache" if override else Path(user_cache_dir(APP_NAME, appauthor=False))
    return base / "features"


def bundled_models_folder() -> Path:
    """The folder of models shipped with the app."""
    return Path(str(resources.files("genre_desktop_models")))


@dataclass(frozen=True)
class ModelEntry:
    """A genre model found on disk."""

    name: str
    path: Path
    bundled: bool
    meta: dict


def list_models() -> list[ModelEntry]:
    """All usable genre models: bundled first, then the user's, each sorted by name."""
    entries = []
    for bundled, base in ((True, bundled_models_folder()), (False, user_models_folder())):
        if not base.is_dir():
            continue
        for folder in sorted(base.iterdir()):
            if not folder.is_dir() or folder.name.startswith(".") or folder.name.endswith(".previous"):
                continue
            try:
                meta = read_meta(folder)
            except BundleError:
                continue
            if meta.get("task", "genre") == "genre":
                entries.append(ModelEntry(folder.name, folder, bundled, meta))
    return entries


def resolve_model(name_or_path: Optional[str] = None) -> Path:
    """Turn a model name, a folder, or None (the default model) into a bundle folder.

    Raises
    ------
    BundleError
        When no such model exists, with the names that do.
    """
    if name_or_path:
        candidate = Path(name_or_path).expanduser()
        if candidate.is_dir():
            return candidate
        for entry in list_models():
            if entry.name == name_or_path:
                return entry.path
        known = ", ".join(e.name for e in list_models()) or "none"
        raise BundleError(f"no model named {name_or_path!r} (installed: {known})")
    models = list_models()
    for entry in models:
        if entry.name == DEFAULT_MODEL:
            return entry.path
    if models:
        return models[0].path
    raise BundleError("no genre model is installed: the bundled model is missing from "
                      f"{bundled_models_folder()}; train one with 'genre-desktop-cli train'")


def delete_user_model(name: str) -> None:
    """Remove a user-trained model (bundled models cannot be deleted)."""
    folder = user_models_folder() / name
    if not (folder / "model.json").is_file():
        raise BundleError(f"no user model named {name!r}")
    shutil.rmtree(folder)


def rename_user_model(old: str, new: str) -> Path:
    """Rename a user-trained model folder (and its display name)."""
    import json

    src, dst = user_models_folder() / old, user_models_folder() / new
    if not (src / "model.json").is_file():
        raise BundleError(f"no user model named {old!r}")
    if dst.exists() or not new or "/" in new or new.startswith("."):
        raise BundleError(f"cannot rename to {new!r}")
    os.replace(src, dst)
    meta = json.loads((dst / "model.json").read_text())
    meta["name"] = new
    (dst / "model.json").write_text(json.dumps(meta, indent=2))
    return dst
