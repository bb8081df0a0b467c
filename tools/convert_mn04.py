"""Convert EfficientAT's mn04_as state dict (../shared/models/audioset_mn04) into the
shipped ``models/audioset_mn04`` (weights.safetensors + model.json with the 527 labels).

    .venv/bin/python tools/convert_mn04.py [SOURCE_FOLDER]

The state dict is loaded with ``weights_only=True`` and strictly into the plain-torch
network (:mod:`genre_desktop.core.engine.network.sound_tagger_net`) before it is written.
"""
from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

from genre_desktop.core.engine.network.sound_tagger_net import SoundTaggerNet

ROOT = Path(__file__).resolve().parents[1]


def main(source: Path) -> None:
    state = torch.load(source / "mn04_as.pt", map_location="cpu", weights_only=True)
    SoundTaggerNet().load_state_dict(state, strict=True)  # every key and shape, or it raises
    with open(source / "class_labels_indices.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    labels = [r["display_name"] for r in sorted(rows, key=lambda r: int(r["index"]))]
    assert len(labels) == 527 and labels[0] == "Speech" and labels[137] == "Music", labels[:3]
    out = ROOT / "models" / "audioset_mn04"
    out.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in state.items()}, str(out / "weights.safetensors"))
    meta = {"format_version": 1, "name": "audioset_mn04", "task": "tagging",
            "architecture": {"name": "efficientat_mn04_as", "params": {"width": 0.4}},
            "source": "EfficientAT mn04_as (Schmid, Koutini & Widmer, ICASSP 2023), MIT; labels: AudioSet "
                      "ontology (Google, CC BY-SA 4.0)",
            "tagger_features": {"sample_rate": 32000, "n_fft": 1024, "hop_length": 320, "win_length": 800,
                                "n_mels": 128, "fmax": 15000, "preemphasis": 0.97},
            "labels": labels}
    (out / "model.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "models" / "audioset_mn04")
