"""The network through ONNX Runtime: the same numbers, a third less time.

Measured on the 2-core machine (``benchmarks/bench_classify.py``): MSD_musicnn's factorised
graph takes 2.5 ms per 2.5-s slice in ONNX Runtime against 3.8 ms in torch, outputs within
1e-5. A bundle's network is exported once (a slice at a time: the factorised front-end
works slice by slice anyway) to the user cache folder, keyed by a digest of its weights;
each load checks ONNX Runtime's outputs against torch's on probe slices and keeps torch
whenever they differ (or ONNX Runtime is missing, or ``GENRE_DESKTOP_RUNTIME=torch``).
Training always runs in torch.
"""
from __future__ import annotations

import hashlib
import logging
import os
import warnings
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from .safe_files import atomic_write_bytes

log = logging.getLogger(__name__)
RUNTIME_ENV = "GENRE_DESKTOP_RUNTIME"  # "torch" keeps the network in torch
TOLERANCE = 1e-3  # the largest difference from torch's outputs accepted at load


def _digest(model: torch.nn.Module, slice_frames: int) -> str:
    h = hashlib.sha256(f"{torch.__version__}:{slice_frames}".encode())
    for name, tensor in model.state_dict().items():
        h.update(name.encode())
        h.update(tensor.detach().cpu().numpy().tobytes())
    return h.hexdigest()[:24]


def _export(model: torch.nn.Module, n_mels: int, slice_frames: int, path: Path) -> None:
    probe = torch.zeros(1, n_mels, slice_frames)
    with torch.no_grad():
        model(probe)  # builds the factorised front-end, so that the graph holds it
        tmp = path.with_name(f".{path.name}.{os.getpid()}.export")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, (probe,), str(tmp), input_names=["mel"], opset_version=17, dynamo=False)
    try:
        atomic_write_bytes(path, tmp.read_bytes())
    finally:
        tmp.unlink(missing_ok=True)


class OnnxNetwork:
    """Runs a bundle's network with ONNX Runtime; called like the torch module on a batch
    (n, n_mels, slice_frames) and returns numpy arrays (logits, tag logits or None,
    features)."""

    def __init__(self, session, has_tags: bool):
        self.session = session
        self.has_tags = has_tags

    def __call__(self, batch: np.ndarray) -> tuple[np.ndarray, Optional[np.ndarray], np.ndarray]:
        outs = [self.session.run(None, {"mel": batch[i:i + 1]}) for i in range(len(batch))]
        columns = [np.concatenate(parts) for parts in zip(*outs)]
        if self.has_tags:
            return columns[0], columns[1], columns[2]
        return columns[0], None, columns[-1]


def onnx_network(model: torch.nn.Module, n_mels: int, slice_frames: int, cache: Path,
                 threads: Optional[int] = None) -> Optional[OnnxNetwork]:
    """An :class:`OnnxNetwork` for ``model``, checked against torch, or None (use torch)."""
    if os.environ.get(RUNTIME_ENV, "").lower() == "torch":
        return None
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    try:
        path = cache / f"{_digest(model, slice_frames)}.onnx"
        if not path.is_file():
            cache.mkdir(parents=True, exist_ok=True)
            _export(model, n_mels, slice_frames, path)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception:
            path.unlink(missing_ok=True)  # a damaged cache entry: exported afresh next time
            raise
        probe = np.random.default_rng(0).uniform(0, 3, (3, n_mels, slice_frames)).astype(np.float32)
        with torch.inference_mode():
            want = [o for o in model(torch.from_numpy(probe)) if o is not None]
        network = OnnxNetwork(session, has_tags=len(want) == 3)
        got = [o for o in network(probe) if o is not None]
        worst = max(float(np.abs(g - w.numpy()).max()) for g, w in zip(got, want))
        if len(got) != len(want) or not worst <= TOLERANCE:
            log.warning("ONNX Runtime's outputs differ from torch's by %.2g: the network stays in torch", worst)
            return None
        return network
    except Exception as exc:  # noqa: BLE001 - an export or runtime problem: torch still works
        log.warning("ONNX Runtime not used (%s): the network stays in torch", " ".join(str(exc).split())[:200])
        return None
