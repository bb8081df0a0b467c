"""Stage 1 of the bundled-model recipe: the log-mel of every track.

    python scripts/prepare_training_data.py [--data ../shared/data] [--work build/training]

Writes ``WORK/dataset.npz``-style files: one ``.npz`` per track under ``WORK/tracks/``
(mel float16) and ``WORK/index.json``.
Re-running skips tracks already done.
"""
from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
import torch

from genre_desktop.core.training.feature_cache import file_log_mel
from genre_desktop.core.engine.audio.features import FeatureConfig
from genre_desktop.core.training.labelled_folders import scan_labelled_folders

ROOT = Path(__file__).resolve().parents[1]
log = logging.getLogger("prepare")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "training")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.manual_seed(0)
    config = FeatureConfig()
    out_dir = args.work / "tracks"
    out_dir.mkdir(parents=True, exist_ok=True)
    index = []
    t0 = time.perf_counter()
    for dataset in ("gtzan", "gtzan_clips", "emotify"):  # gtzan_clips: 2-3-s excerpts of other GTZAN tracks
        scan = scan_labelled_folders(args.data / dataset)
        for path, reason in scan.unreadable:
            log.warning("unreadable %s: %s", path, reason)
        for track in scan.tracks:
            name = f"{dataset}__{track.path.stem}"
            target = out_dir / f"{name}.npz"
            if not target.exists():
                mel = file_log_mel(track.path, config)
                np.savez(target, mel=mel.astype(np.float16))
            index.append({"name": name, "dataset": dataset, "genre": track.genre,
                          "group": f"{dataset}:{track.split_group}",
                          "path": str(track.path.relative_to(args.data)),
                          "duration": track.duration})
            if len(index) % 25 == 0:
                log.info("%d tracks, %.0f s", len(index), time.perf_counter() - t0)
    (args.work / "index.json").write_text(json.dumps(index, indent=1))
    log.info("done: %d tracks in %.0f s", len(index), time.perf_counter() - t0)


if __name__ == "__main__":
    main()
