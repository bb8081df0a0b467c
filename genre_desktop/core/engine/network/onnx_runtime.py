"""The network through ONNX Runtime: the same numbers, a third less time, and no torch.

Measured on the 2-core machine (``benchmarks/bench_runtime.py``): MSD_musicnn's factorised
graph takes 2.5 ms per 2.5-s slice in ONNX Runtime against 3.8 ms in torch; on all 676
shared files the verdicts are identical and slice probabilities within 3e-6. A bundle's
network is exported once (a slice at a time: the factorised front-end works slice by slice
anyway) to the user cache folder, keyed by a digest of the bundle's files, together with
torch's outputs on fixed probe slices. Each load runs those probes through ONNX Runtime and
keeps the graph only when its outputs match (otherwise, or when ONNX Runtime is missing, or
with ``GENRE_DESKTOP_RUNTIME=torch``, the network stays in torch). A cache hit needs no
torch at all: the CLI then gives its first verdict 0.2 s after it starts instead of 1.5 s
(``benchmarks/bench_cli.py``). Training always runs in torch.
"""
from __future__ import annotations

import hashlib
import io
import logging
import os
import warnings
from pathlib import Path
from typing import Any, Optional, Protocol

import numpy as np

from genre_desktop.core.safe_files import atomic_write_bytes
from genre_desktop.core.engine.network.threads import network_threads
from genre_desktop.core.paths import RUNTIME_ENV


class Exportable(Protocol):
    """What this module needs of a model bundle (:class:`~genre_desktop.core.engine.models.bundle.ModelBundle`):
    its feature settings, the digest of its network (``network_key``: the bundle's
    ``bundle_digest``, given by the models room, which this room may not import) and its
    torch network (None when loaded without it)."""

    features: Any
    network_key: str
    network: Any

log = logging.getLogger(__name__)
TOLERANCE = 1e-3  # the largest difference from torch's outputs accepted at load
EXPORT_FORMAT = "slice-graph-2"  # part of the cache key: a new export format never reads an old file
OUTPUTS = ("logits", "tag_logits", "features")
SOURCE = "_source"  # the check file's record of what the entry is of
KEEP = 16  # cache entries kept (the most recently used): a few MB each


def _source(bundle: Exportable) -> str:
    """What a cache entry is of: the bundle's digest (its files), the slice shape and the
    export format. Recorded in the check file too, so an entry copied or swapped in under
    another bundle's name is refused."""
    cfg = bundle.features
    return f"{EXPORT_FORMAT}:{cfg.n_mels}x{cfg.slice_frames}:{bundle.network_key}"


def cache_key(bundle: Exportable) -> str:
    """The cache entry's name: a digest of its :func:`_source`."""
    return hashlib.sha256(_source(bundle).encode()).hexdigest()[:24]


def _probe_slices(n_mels: int, slice_frames: int) -> np.ndarray:
    """Fixed probe slices, (3, n_mels, slice_frames), log-mel-like values."""
    return np.random.default_rng(0).uniform(0, 3, (3, n_mels, slice_frames)).astype(np.float32)


def _export(model, probe: np.ndarray, graph: Path, check: Path, source: str) -> None:
    """Write the ONNX graph of ``model`` for one slice, and torch's outputs on ``probe``
    with ``source`` (what the entry is of: :func:`_source`)."""
    import torch

    with torch.inference_mode():
        want = dict(zip(OUTPUTS, model(torch.from_numpy(probe))))  # also builds the factorised front-end
    buffer = io.BytesIO()  # the check first: a graph without one is of an older format (pruned)
    np.savez(buffer, **{k: v.numpy() for k, v in want.items() if v is not None}, **{SOURCE: np.array(source)})
    atomic_write_bytes(check, buffer.getvalue())
    tmp = graph.with_name(f".{graph.name}.{os.getpid()}.export")
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, (torch.from_numpy(probe[:1]),), str(tmp), input_names=["mel"],
                              opset_version=17, dynamo=False)
        atomic_write_bytes(graph, tmp.read_bytes())
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


def _session(graph: Path, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # no busy waits
    return ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])


def _checked(graph: Path, check: Path, probe: np.ndarray, threads: int, source: str) -> Optional[OnnxNetwork]:
    """The cached graph as an :class:`OnnxNetwork` when its check file is of ``source`` and
    its outputs on ``probe`` are torch's recorded ones; None (both files removed: exported
    afresh) when anything is off."""
    try:
        with np.load(check, allow_pickle=False) as recorded:
            want = {k: recorded[k] for k in recorded.files}
        recorded_source = want.pop(SOURCE, None)
        if recorded_source is None or recorded_source.shape != () or str(recorded_source) != source:
            raise ValueError("its check file is of another model")
        network = OnnxNetwork(_session(graph, threads), has_tags="tag_logits" in want)
        got = dict(zip(OUTPUTS, network(probe)))
        worst = max(float(np.abs(got[k] - want[k]).max()) for k in want)
        if set(want) != {k for k, v in got.items() if v is not None} or not worst <= TOLERANCE:
            log.warning("ONNX Runtime's outputs differ from torch's by %.2g: the network stays in torch", worst)
            return None
        return network
    except Exception as exc:
        log.info("cached ONNX graph not used (%s)", " ".join(str(exc).split())[:200])
        graph.unlink(missing_ok=True)
        check.unlink(missing_ok=True)
        return None


def _prune(cache: Path) -> None:
    """Keep the :data:`KEEP` most recently used graphs (and their checks); drop the rest
    and any file of an older export format."""
    graphs = sorted(cache.glob("*.onnx"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in graphs[KEEP:] + [g for g in graphs[:KEEP] if not g.with_suffix(".check.npz").is_file()]:
        old.unlink(missing_ok=True)
        old.with_suffix(".check.npz").unlink(missing_ok=True)


def onnx_network(bundle: Exportable, cache: Path, threads: Optional[int] = None) -> Optional[OnnxNetwork]:
    """An :class:`OnnxNetwork` for ``bundle``'s network, checked against torch, or None
    (use torch).

    A cached graph is used without torch. Without one it is exported from ``bundle.network``
    (the torch network); a bundle loaded without its network then gets None.
    """
    if os.environ.get(RUNTIME_ENV, "").lower() == "torch":
        return None
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return None
    threads = threads or network_threads()
    try:
        if not bundle.network_key:
            return None
        source = _source(bundle)
        key = cache_key(bundle)
        graph, check = cache / f"{key}.onnx", cache / f"{key}.check.npz"
        probe = _probe_slices(bundle.features.n_mels, bundle.features.slice_frames)
        if graph.is_file() and check.is_file():
            network = _checked(graph, check, probe, threads, source)
            if network is not None or graph.is_file():  # used, or it differs (and stays differing)
                os.utime(graph)  # recently used: kept by _prune
                return network
        if bundle.network is None:
            return None
        cache.mkdir(parents=True, exist_ok=True)
        _export(bundle.network, probe, graph, check, source)
        _prune(cache)
        return _checked(graph, check, probe, threads, source)
    except Exception as exc:
        log.warning("ONNX Runtime not used (%s): the network stays in torch", " ".join(str(exc).split())[:200])
        return None
