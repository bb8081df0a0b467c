"""Per-file cache of decoded log-mel features (keyed by path, size, mtime, feature config)."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path

import numpy as np

from genre_desktop.core.engine.audio.decode import iter_audio_blocks
from genre_desktop.core.engine.audio.features import FeatureConfig, StreamingLogMel

log = logging.getLogger(__name__)


def file_log_mel(path: os.PathLike | str, config: FeatureConfig) -> np.ndarray:
    """Decode ``path`` block by block and return its log-mel, shape (n_mels, n_frames)."""
    stream = StreamingLogMel(config)
    parts = [stream.push(block) for block in iter_audio_blocks(path, config.sample_rate)]
    parts.append(stream.finish())
    return np.concatenate(parts, axis=1)


STALE_TMP_SECONDS = 3600.0


class FeatureCache:
    """Log-mel features of files, stored as float16 ``.npy`` under ``folder``.

    The cache is an optimisation only: an entry that cannot be read, or does not hold a
    finite (n_mels, n_frames) array, is dropped and recomputed; a folder that cannot be
    written to means features are computed every time (one warning).
    """

    def __init__(self, folder: os.PathLike | str):
        self.folder = Path(folder)
        self._warned = False
        self._sweep_stale_tmp()

    def _sweep_stale_tmp(self) -> None:
        """Remove ``.tmp`` files that writers killed mid-write left behind."""
        import time

        try:
            for tmp in self.folder.glob("*.tmp"):
                if time.time() - tmp.stat().st_mtime > STALE_TMP_SECONDS:
                    tmp.unlink(missing_ok=True)
        except OSError:
            pass

    def _load(self, target: Path, config: FeatureConfig) -> np.ndarray | None:
        try:
            mel = np.load(target, allow_pickle=False)
        except Exception:  # any damage (0 bytes, truncated, not .npy): recompute
            mel = None
        if (mel is None or mel.ndim != 2 or mel.shape[0] != config.n_mels or mel.shape[1] == 0
                or not np.issubdtype(mel.dtype, np.floating) or not np.isfinite(mel).all()):
            log.warning("dropping an unusable feature cache entry %s", target.name)
            target.unlink(missing_ok=True)
            return None
        return mel.astype(np.float32)

    def _key(self, path: Path, config: FeatureConfig) -> str:
        stat = path.stat()
        ident = json.dumps([str(path.resolve()), stat.st_size, stat.st_mtime_ns, config.to_dict()],
                           sort_keys=True)
        return hashlib.sha1(ident.encode()).hexdigest()

    def get(self, path: os.PathLike | str, config: FeatureConfig) -> np.ndarray:
        """The log-mel of ``path`` (n_mels, n_frames), from the cache or computed and stored."""
        path = Path(path)
        target = self.folder / f"{self._key(path, config)}.npy"
        if target.exists():
            mel = self._load(target, config)
            if mel is not None:
                return mel
        mel = file_log_mel(path, config)
        self._store(target, mel)
        return mel

    def _store(self, target: Path, mel: np.ndarray) -> None:
        tmp = None
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
            with os.fdopen(fd, "wb") as f:
                np.save(f, mel.astype(np.float16))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except OSError as exc:
            if tmp:
                Path(tmp).unlink(missing_ok=True)
            if not self._warned:
                self._warned = True
                log.warning("features are not cached: cannot write to %s (%s)", self.folder,
                            exc.strerror or exc)
