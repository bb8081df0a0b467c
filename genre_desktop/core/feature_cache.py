"""Per-file cache of decoded log-mel features (keyed by path, size, mtime, feature config)."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path

import numpy as np

from .audio_io import iter_audio_blocks
from .features import FeatureConfig, StreamingLogMel

log = logging.getLogger(__name__)


def file_log_mel(path: os.PathLike | str, config: FeatureConfig) -> np.ndarray:
    """Decode ``path`` block by block and return its log-mel, shape (n_mels, n_frames)."""
    stream = StreamingLogMel(config)
    parts = [stream.push(block) for block in iter_audio_blocks(path, config.sample_rate)]
    parts.append(stream.finish())
    return np.concatenate(parts, axis=1)


class FeatureCache:
    """Log-mel features of files, stored as float16 ``.npy`` under ``folder``."""

    def __init__(self, folder: os.PathLike | str):
        self.folder = Path(folder)

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
            try:
                return np.load(target).astype(np.float32)
            except (OSError, ValueError):
                log.warning("dropping unreadable cache entry %s", target)
        mel = file_log_mel(path, config)
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                np.save(f, mel.astype(np.float16))
            os.replace(tmp, target)
        except OSError:
            Path(tmp).unlink(missing_ok=True)
            log.warning("could not write feature cache in %s", self.folder)
        return mel
