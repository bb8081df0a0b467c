"""Where models live: bundled ones (``models/``) and the user's (platformdirs data folder).

The folders themselves are :mod:`genre_desktop.core.paths`'.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from genre_desktop.core.paths import bundled_models_folder, user_models_folder
from genre_desktop.core.engine.models.bundle import META, WEIGHTS, read_meta

from genre_desktop.core.errors import BundleError
from genre_desktop.core.engine.models.names import InvalidName, validate_model_name
from genre_desktop.core.safe_files import (BACKUP_SUFFIX, NotRegularFile, atomic_write_text, fsync_folder, name_lock, needs_recovery,
                         new_partial, open_regular, recover_folder, remove_folder, replace_folder)

log = logging.getLogger(__name__)

DEFAULT_MODEL = "genre_musicnn_v3"


@dataclass(frozen=True)
class ModelEntry:
    """A model folder found on disk: usable (``error`` is None) or broken, with the reason."""

    name: str
    path: Path
    bundled: bool
    meta: dict
    error: Optional[str] = None
    backup_of: Optional[str] = None  # set on ``NAME.previous``: the model it backs up

    @property
    def usable(self) -> bool:
        return self.error is None


def _entry(folder: Path, bundled: bool, backup_of: Optional[str] = None) -> Optional[ModelEntry]:
    """The entry of one folder; None for folders that are not genre models at all."""
    name = folder.name
    try:
        meta = read_meta(folder)
    except BundleError as exc:
        return ModelEntry(name, folder, bundled, {}, error=str(exc), backup_of=backup_of)
    except Exception as exc:  # listing must survive whatever a folder holds
        return ModelEntry(name, folder, bundled, {}, error=f"unreadable ({type(exc).__name__})",
                          backup_of=backup_of)
    if meta.get("task", "genre") != "genre":
        return None
    for tensors in (WEIGHTS, *(["openset.safetensors"] if "openset" in meta else [])):
        problem = safetensors_problem(folder / tensors)
        if problem is not None:
            return ModelEntry(name, folder, bundled, meta, error=f"{tensors} {problem}", backup_of=backup_of)
    return ModelEntry(name, folder, bundled, meta, backup_of=backup_of)


MAX_HEADER_BYTES = 100 << 20  # safetensors' own limit on a header


def safetensors_problem(path: Path) -> Optional[str]:
    """Why a ``.safetensors`` file cannot be loaded, from its header alone (cheap: the
    tensors are not read), or None when it looks whole: present, a regular file, a JSON
    header of tensors whose byte ranges lie inside the file."""
    try:
        with open_regular(path) as f:  # a FIFO or a device in its place is never opened
            size = os.fstat(f.fileno()).st_size
            head = f.read(8)
            length = int.from_bytes(head, "little") if len(head) == 8 else -1
            if not 2 <= length <= min(MAX_HEADER_BYTES, size - 8):
                return "is damaged (no valid header)"
            header = json.loads(f.read(length).decode("utf-8"))
    except FileNotFoundError:
        return "is missing"
    except NotRegularFile:
        return "is not a regular file"
    except PermissionError:
        return "cannot be read (permission denied)"
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    except (UnicodeDecodeError, ValueError, RecursionError):
        return "is damaged (its header is not JSON)"
    data = size - 8 - length
    if not isinstance(header, dict):
        return "is damaged (its header is not JSON)"
    for key, entry in header.items():
        if key == "__metadata__":
            continue
        offsets = entry.get("data_offsets") if isinstance(entry, dict) else None
        if (not isinstance(offsets, list) or len(offsets) != 2 or not all(isinstance(o, int) for o in offsets)
                or not 0 <= offsets[0] <= offsets[1] <= data):
            return f"is damaged (tensor {key[:60]!r} lies outside the file)"
    return None


def _scan(base: Path, bundled: bool) -> list[ModelEntry]:
    if not base.is_dir():
        return []
    if not bundled and needs_recovery(base):
        recover_folder(base)  # finish a save or delete that a kill interrupted
    entries = []
    try:
        children = sorted(base.iterdir())
    except OSError as exc:
        log.warning("cannot list models in %s: %s", base, exc)
        return []
    for folder in children:
        try:
            if folder.name.startswith(".") or not folder.is_dir():
                continue
        except OSError:
            continue
        backup_of = folder.name[:-len(BACKUP_SUFFIX)] if folder.name.endswith(BACKUP_SUFFIX) else None
        entry = _entry(folder, bundled, backup_of)
        if entry is not None:
            entries.append(entry)
    return entries


def list_models(include_broken: bool = False, include_backups: bool = False) -> list[ModelEntry]:
    """Genre models: bundled first, then the user's, each sorted by name.

    Never raises for what a models folder holds: a folder that is not a valid bundle is
    left out, or with ``include_broken`` listed with ``error`` saying why. Backups
    (``NAME.previous``) are listed only with ``include_backups``.
    """
    entries = _scan(bundled_models_folder(), True) + _scan(user_models_folder(), False)
    return [e for e in entries
            if (include_broken or e.usable) and (include_backups or e.backup_of is None)]


def resolve_model(name_or_path: Optional[str] = None) -> Path:
    """Turn a model name, a folder, or None (the default model) into a bundle folder.

    Raises
    ------
    BundleError
        When no such model exists (with the names that do), or it is broken (with why).
    """
    if name_or_path:
        candidate = Path(name_or_path).expanduser()
        if candidate.is_dir():
            return candidate
        everything = list_models(include_broken=True, include_backups=True)
        for entry in everything:
            if entry.name == name_or_path:
                if entry.error:
                    raise BundleError(f"the model {entry.name!r} is broken: {entry.error}")
                return entry.path
        known = ", ".join(e.name for e in everything if e.usable and not e.backup_of) or "none"
        raise BundleError(f"no model named {name_or_path!r} (installed: {known})")
    models = list_models()
    for entry in models:
        if entry.name == DEFAULT_MODEL:
            return entry.path
    if models:
        return models[0].path
    raise BundleError("no genre model is installed: the bundled model is missing from "
                      f"{bundled_models_folder()}; train one with 'genre-desktop-cli train'")


def user_model_path(name: str) -> Path:
    """Where the user model ``name`` lives; the name is validated first.

    Raises
    ------
    BundleError
        The name cannot be a model's (empty, a path, a reserved suffix, ...).
    """
    try:
        return user_models_folder() / validate_model_name(name)
    except InvalidName as exc:
        raise BundleError(str(exc)) from None


def _user_folder(name: str, backup: bool = False) -> Path:
    """An existing user model folder (or its backup), or BundleError."""
    folder = user_model_path(name)
    if backup:
        folder = folder.with_name(folder.name + BACKUP_SUFFIX)
    if not folder.is_dir():
        raise BundleError(f"no {'backup of a ' if backup else ''}user model named {name!r}")
    return folder


def delete_user_model(name: str, backup: bool = False) -> None:
    """Remove a user-trained model, or with ``backup`` its backup; bundled models stay.

    Broken models can be deleted too. The folder is moved aside in one rename and then
    removed, so a kill never leaves half a model.
    """
    folder = _user_folder(name, backup)
    with name_lock(folder.parent, name):
        remove_folder(folder)


def restore_backup(name: str) -> Path:
    """Make the backup of ``name`` the model again; the current one becomes the backup.

    Works when only the backup is left (the model was deleted). Crash-safe like a save.
    """
    from genre_desktop.core.engine.models.bundle import load_bundle

    backup = _user_folder(name, backup=True)
    dest = backup.with_name(name)
    load_bundle(backup)  # only restore what loads
    with name_lock(dest.parent, name):
        tmp = new_partial(dest)
        try:
            shutil.copytree(backup, tmp, dirs_exist_ok=True)
            had_model = dest.exists()
            replace_folder(tmp, dest)  # the current model (if any) becomes the backup
            if not had_model:  # the copy is the model now; the backup would repeat it
                remove_folder(backup)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return dest


def rename_user_model(old: str, new: str) -> Path:
    """Rename a user-trained model folder (and its display name); its backup follows it.

    Raises
    ------
    BundleError
        No such model, an invalid new name, or the name is taken (model or backup).
    """
    src = _user_folder(old)
    dst = user_model_path(new)
    folder = src.parent
    if dst.name == src.name:
        raise BundleError(f"the model is already called {dst.name!r}")
    with name_lock(folder, old), name_lock(folder, dst.name):
        for taken in (dst, dst.with_name(dst.name + BACKUP_SUFFIX)):
            if taken.exists():
                raise BundleError(f"cannot rename to {dst.name!r}: a model "
                                  f"{'backup ' if taken != dst else ''}of that name exists")
        os.replace(src, dst)
        fsync_folder(folder)
        backup = src.with_name(src.name + BACKUP_SUFFIX)
        if backup.is_dir():
            os.replace(backup, dst.with_name(dst.name + BACKUP_SUFFIX))
        try:
            meta = read_meta(dst)
        except BundleError:
            return dst  # a broken model keeps its file as it is
        meta["name"] = dst.name
        atomic_write_text(dst / META, json.dumps(meta, indent=2))
    return dst
