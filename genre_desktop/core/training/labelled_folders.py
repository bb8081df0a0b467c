"""Scan folders of music labelled by genre (one sub-folder each) for training.

These labelled folders are what the wizard trains on; the music database the window
browses is :mod:`genre_desktop.core.library`, a different thing.
"""
from __future__ import annotations

import logging
import os
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from genre_desktop.core.engine.audio.decode import AudioDecodeError, audio_info
from genre_desktop.core.engine.audio.sources import iter_audio_files
from genre_desktop.core.digests import short_digest
from genre_desktop.core.engine.models.genre_names import clean_label
from genre_desktop.core.tasks import ProgressCallback, StopCallback, check_stop, no_progress

log = logging.getLogger(__name__)


def gtzan_number(stem: str) -> Optional[int]:
    """The id of a GTZAN-style name (``"blues.00012"`` -> 12), or None for other names."""
    prefix, _, number = stem.rpartition(".")
    return int(number) if prefix and number.isdigit() and len(number) == 5 else None


@dataclass(frozen=True)
class LabelledTrack:
    """One track of a labelled library."""

    path: Path
    genre: str
    duration: float = 0.0

    @property
    def split_group(self) -> str:
        """Tracks sharing a group must stay on one side of a split (same artist, likely).

        GTZAN names files ``genre.NNNNN``; neighbouring ids often share an artist, so ids
        are grouped by fives. Other files are their own group.
        """
        number = gtzan_number(self.path.stem)
        if number is not None:
            return f"{self.genre}/{self.path.stem.rpartition('.')[0]}.{number // 5}"
        return f"{self.genre}/{self.path}"


@dataclass
class LabelledScan:
    """What a labelled folder holds, and what is wrong with it."""

    tracks: list[LabelledTrack] = field(default_factory=list)
    unreadable: list[tuple[Path, str]] = field(default_factory=list)
    duplicates: list[tuple[Path, Path]] = field(default_factory=list)

    @property
    def genres(self) -> list[str]:
        return sorted({t.genre for t in self.tracks})

    def counts(self) -> dict[str, int]:
        return dict(sorted(Counter(t.genre for t in self.tracks).items()))

    def durations(self) -> dict[str, float]:
        total: dict[str, float] = defaultdict(float)
        for t in self.tracks:
            total[t.genre] += t.duration
        return dict(sorted(total.items()))

    def warnings(self, min_tracks: int = 5, max_ratio: float = 5.0) -> list[str]:
        """Human-readable problems that do not stop training."""
        out = []
        counts = self.counts()
        for genre, n in counts.items():
            if n < min_tracks:
                out.append(f"'{genre}' has only {n} track{'s' if n != 1 else ''}: "
                           f"aim for at least {min_tracks}")
        if len(counts) == 1:
            out.append("only one genre: add at least one more to train")
        if len(counts) >= 2 and max(counts.values()) > max_ratio * min(counts.values()):
            out.append("genres are heavily imbalanced "
                       f"({min(counts.values())} to {max(counts.values())} tracks)")
        if self.duplicates:
            out.append(f"{len(self.duplicates)} file(s) appear in more than one genre")
        return out

    def blocking_problem(self) -> Optional[str]:
        """The reason training cannot start, or None."""
        if len(self.counts()) < 2:
            return "need at least two genres with readable audio"
        return None


def file_sample_digest(path: Path) -> str:
    """Cheap identity of a file's bytes (not its decoded audio): a digest of its size and
    its first and last 64 KiB. Two copies of one file in two genre folders share it."""
    h = short_digest()
    size = path.stat().st_size
    h.update(str(size).encode())
    with path.open("rb") as f:
        h.update(f.read(65536))
        if size > 65536:
            f.seek(max(size - 65536, 65536))
            h.update(f.read(65536))
    return h.hexdigest()


def genre_folders(root: Path) -> dict[str, list[Path]]:
    """``{folder name: [folder]}`` for the visible sub-folders of ``root`` (one per genre)."""
    return {d.name: [d] for d in sorted(root.iterdir()) if d.is_dir() and not d.name.startswith(".")}


def scan_labelled_folders(folders: dict[str, list[Path]] | Path,
                          progress: ProgressCallback = no_progress,
                          should_stop: Optional[StopCallback] = None) -> LabelledScan:
    """Scan genre-labelled music.

    Parameters
    ----------
    folders : Path or dict of genre -> list of folders
        A root whose sub-folders are genres, or an explicit mapping.
    progress, should_stop : the long-work contract.

    Returns
    -------
    LabelledScan
        Readable tracks with durations, unreadable files with reasons, duplicates.
    """
    if isinstance(folders, (str, os.PathLike)):
        root = Path(folders)
        if not root.is_dir():
            raise FileNotFoundError(f"not a folder: {root}")
        folders = genre_folders(root)
    scan = LabelledScan()
    candidates = []
    for genre, dirs in folders.items():
        label = clean_label(genre)
        if not label:
            scan.unreadable.append((dirs[0] if dirs else Path(genre), "a genre folder needs a name"))
            continue
        candidates += [(label, path) for path in
                       iter_audio_files(dirs, on_error=lambda f, r: scan.unreadable.append((f, r)))]
    seen: dict[str, tuple[Path, str]] = {}
    for i, (genre, path) in enumerate(candidates):
        check_stop(should_stop)
        progress(i / max(len(candidates), 1), f"checking {path.name}")
        try:
            info = audio_info(path)
            if info.duration <= 0:
                raise AudioDecodeError("no audio frames")
            key = file_sample_digest(path)
        except (AudioDecodeError, OSError) as exc:
            scan.unreadable.append((path, str(exc)))
            continue
        if key in seen:
            first, first_genre = seen[key]
            if first_genre != genre:
                scan.duplicates.append((first, path))
            continue  # the same file twice: keep its first occurrence only
        seen[key] = (path, genre)
        scan.tracks.append(LabelledTrack(path, genre, info.duration))
    progress(1.0, f"found {len(scan.tracks)} tracks in {len(scan.counts())} genres")
    return scan
