"""Convert the musicnn wheel's MSD_musicnn checkpoint to PyTorch (safetensors).

A conversion-time tool, never a runtime dependency. Needs the ``convert`` extra
(``pip install -e .[convert]``: tensorflow-cpu) and the musicnn 0.1.0 wheel, which it
downloads with pip if ``--wheel`` is not given.

    python tools/convert_musicnn.py                       # writes models/msd_musicnn/
    python tools/convert_musicnn.py --reference tests/data/musicnn_reference.npz

``--reference`` also runs the *original* TensorFlow graph (musicnn's own ``models.py``)
on a few patches of synthesised audio and records inputs and tags, so the test suite
can check the port without TensorFlow.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# musicnn's tf.compat.v1.layers need Keras 2 (the tf_keras package); set before TF loads
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
log = logging.getLogger("convert_musicnn")


def fetch_wheel(dest: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "musicnn==0.1.0",
                    "-d", str(dest)], check=True)
    return next(dest.glob("musicnn-0.1.0*.whl"))


def unpack(wheel: Path, dest: Path) -> Path:
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(dest)
    ck_dir = dest / "musicnn" / "MSD_musicnn"
    # The wheel's "checkpoint" file names its authors' folder: point TF at the files directly.
    prefix = dest / "ck" / "model"
    prefix.parent.mkdir()
    shutil.copy(ck_dir / ".data-00000-of-00001", str(prefix) + ".data-00000-of-00001")
    shutil.copy(ck_dir / ".index", str(prefix) + ".index")
    return prefix


def read_variables(prefix: Path) -> dict:
    import tensorflow as tf

    reader = tf.train.load_checkpoint(str(prefix))
    names = [n for n in reader.get_variable_to_shape_map()
             if "Adam" not in n and "power" not in n and n != "global_step"]
    return {n: reader.get_tensor(n) for n in names}


def reference_outputs(unpacked: Path, prefix: Path, patches: np.ndarray) -> np.ndarray:
    """Run musicnn's own TF graph on ``patches`` (batch, 96, 187); return sigmoid tags."""
    import tensorflow as tf

    sys.path.insert(0, str(unpacked))
    from musicnn import models  # the original network definition

    tf.compat.v1.disable_eager_execution()
    tf.compat.v1.reset_default_graph()
    with tf.name_scope("model"):
        x = tf.compat.v1.placeholder(tf.float32, [None, 187, 96])
        is_training = tf.compat.v1.placeholder(tf.bool)
        logits = models.define_model(x, is_training, "MSD_musicnn", 50)[0]
        tags = tf.nn.sigmoid(logits)
    with tf.compat.v1.Session() as sess:
        tf.compat.v1.train.Saver().restore(sess, str(prefix))
        return sess.run(tags, {x: patches.transpose(0, 2, 1), is_training: False})


def synth_patches(n: int = 4) -> np.ndarray:
    """Log-mel patches of synthesised music-like audio (chords, noise bursts)."""
    sys.path.insert(0, str(ROOT))
    from genre_desktop.core.engine.audio.features import FeatureConfig, log_mel

    cfg = FeatureConfig()
    rng = np.random.default_rng(0)
    t = np.arange(int(3.2 * cfg.sample_rate)) / cfg.sample_rate
    out = []
    for i in range(n):
        f0 = 110 * 2 ** (i / 3)
        audio = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6))
        audio = audio * (0.5 + 0.5 * np.sin(2 * np.pi * (i + 1) * t)) + 0.05 * i * rng.standard_normal(t.size)
        out.append(log_mel((0.2 * audio).astype(np.float32), cfg)[:, :187])
    return np.stack(out).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, help="musicnn-0.1.0 wheel (downloaded if absent)")
    parser.add_argument("--out", type=Path, default=ROOT / "models" / "msd_musicnn")
    parser.add_argument("--reference", type=Path, help="also record TF reference outputs here (.npz)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    import torch
    from safetensors.torch import save_file

    sys.path.insert(0, str(ROOT))
    from genre_desktop.core.engine.models.bundle_meta import BundleMeta
    from genre_desktop.core.engine.audio.features import FeatureConfig
    from genre_desktop.core.engine.network.musicnn import MSD_TAGS, MusiCNN, tf_to_torch_state

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        wheel = args.wheel or fetch_wheel(tmp)
        prefix = unpack(wheel, tmp / "wheel")
        tf_vars = read_variables(prefix)
        log.info("read %d variables, %d parameters", len(tf_vars), sum(v.size for v in tf_vars.values()))
        state = tf_to_torch_state(tf_vars)
        model = MusiCNN()
        model.load_state_dict(state, strict=True)
        args.out.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in state.items()}, str(args.out / "weights.safetensors"))
        meta = BundleMeta(
            name="msd_musicnn", task="tagging", architecture={"name": "musicnn", "params": {}},
            labels=MSD_TAGS, thresholds={}, features=FeatureConfig(slice_frames=187),
            provenance={"source": "musicnn 0.1.0 wheel (PyPI), MSD_musicnn checkpoint",
                        "licence": "ISC, (c) Jordi Pons and Xavier Serra",
                        "paper": "Pons & Serra, musicnn: pre-trained convolutional neural "
                                 "networks for music audio tagging, ISMIR LBD 2019"})
        (args.out / "model.json").write_text(json.dumps(meta.to_dict(), indent=2))
        log.info("wrote %s", args.out)
        if args.reference:
            patches = synth_patches()
            tags = reference_outputs(tmp / "wheel", prefix, patches)
            with torch.inference_mode():
                port = torch.sigmoid(model.eval()(torch.from_numpy(patches))[0]).numpy()
            log.info("max |TF - torch| over tags: %.2e", float(np.abs(tags - port).max()))
            args.reference.parent.mkdir(parents=True, exist_ok=True)
            np.savez_compressed(args.reference, patches=patches, tags=tags)
            log.info("wrote %s", args.reference)


if __name__ == "__main__":
    main()
