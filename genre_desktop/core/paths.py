"""Every folder the app uses and every environment variable it reads, in one place.

Folders follow the platform's conventions (platformdirs); ``GENRE_DESKTOP_DATA`` puts
data, config and cache under one folder instead (tests, a portable install). Bundled files
are found through :mod:`importlib.resources`, never by a path written in the code.
"""
from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from platformdirs import user_cache_dir, user_config_dir, user_data_dir

APP_NAME = "genre-desktop"

#: environment variables the app reads (each documented where it is used)
DATA_ENV = "GENRE_DESKTOP_DATA"  # one folder for data, config/ and cache/ (tests)
LIBRARY_ENV = "GENRE_DESKTOP_LIBRARY"  # another library database file
RUNTIME_ENV = "GENRE_DESKTOP_RUNTIME"  # "torch": keep the network in torch, no ONNX Runtime
TAGGER_ENV = "GENRE_DESKTOP_SOUND_TAGGER"  # "off": the genre model's own not-music test alone
DASK_TIMEOUT_ENV = "GENRE_DESKTOP_DASK_TIMEOUT"  # seconds to reach a scheduler / wait for a worker
FAULT_ENV = "GENRE_DESKTOP_FAULT"  # tests: kill the process at a named point
XDG_DATA_HOME_ENV = "XDG_DATA_HOME"  # where desktop-install writes the menu entry


def user_data_folder() -> Path:
    """The user's data folder (models they trained, the library database, vectors)."""
    override = os.environ.get(DATA_ENV)
    return Path(override) if override else Path(user_data_dir(APP_NAME, appauthor=False))


def user_config_folder() -> Path:
    """The user's config folder (settings, the genre map); ``$GENRE_DESKTOP_DATA/config`` under tests."""
    override = os.environ.get(DATA_ENV)
    return Path(override) / "config" if override else Path(user_config_dir(APP_NAME, appauthor=False))


def user_cache_folder() -> Path:
    """The user's cache folder (rebuilt when missing); ``$GENRE_DESKTOP_DATA/cache`` under tests."""
    override = os.environ.get(DATA_ENV)
    return Path(override) / "cache" if override else Path(user_cache_dir(APP_NAME, appauthor=False))


def user_models_folder() -> Path:
    """Where the models a person trains are saved."""
    return user_data_folder() / "models"


def feature_cache_folder() -> Path:
    """Where "train on my library" keeps the features of files it has read."""
    return user_cache_folder() / "features"


def onnx_cache_folder() -> Path:
    """Where bundles' networks exported for ONNX Runtime are kept (rebuilt when missing)."""
    return user_cache_folder() / "onnx"


def library_path() -> Path:
    """Where the library database lives (``GENRE_DESKTOP_LIBRARY`` names another)."""
    override = os.environ.get(LIBRARY_ENV)
    return Path(override) if override else user_data_folder() / "library.sqlite3"


def desktop_data_home() -> Path:
    """``$XDG_DATA_HOME`` (``~/.local/share``): where desktop menu entries and icons go."""
    return Path(os.environ.get(XDG_DATA_HOME_ENV) or Path.home() / ".local" / "share")


def bundled_models_folder() -> Path:
    """The folder of models shipped with the app."""
    return Path(str(resources.files("genre_desktop_models")))


def bundled_resource(name: str) -> Path:
    """A file shipped in ``resources/`` (icons, style sheets, the desktop entry)."""
    return Path(str(resources.files("genre_desktop_resources") / name))
