"""Is this music at all? An AudioSet sound tagger's P(Music), averaged over 10-s windows.

The tagger is EfficientAT's ``mn04_as`` (:mod:`.sound_tagger_net`; 527 AudioSet classes,
MIT, shipped as ``models/audioset_mn04``). Its input features are computed here in numpy,
as its authors' front-end does: 32 kHz mono, pre-emphasis ``y[n] - 0.97 y[n-1]``, a centred
STFT (n_fft 1024, hop 320, a symmetric 800-sample Hann window), the power spectrum, 128
Kaldi-style mel triangles between 0 and 15 kHz, ``log(mel + 1e-5)`` and ``(x + 4.5) / 5``.

A track is judged on at most :data:`MAX_WINDOWS` non-overlapping 10-s windows spread over it
(:class:`WindowPicker`, streaming: the stride doubles whenever more would be kept); a
window shorter than 10 s is tiled to 10 s. Silent windows are left out. The network runs
in ONNX Runtime through :mod:`.onnx_runtime` (exported once, cached, checked against
torch on probe inputs; torch otherwise).
"""
from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Optional

import numpy as np
from genre_desktop.core.paths import TAGGER_ENV

log = logging.getLogger(__name__)

SAMPLE_RATE = 32000
N_FFT, HOP, WIN, N_MELS, FMAX = 1024, 320, 800, 128, 15000.0
WINDOW_SECONDS = 10.0
WINDOW_FRAMES = 1 + (int(WINDOW_SECONDS * SAMPLE_RATE) - 1) // HOP  # 1000
MAX_WINDOWS = 6
SILENT_RMS = 10 ** (-60 / 20)  # a window quieter than -60 dBFS says nothing
MIN_SECONDS = 0.5  # less audio than this is not judged
MUSIC, SPEECH = 137, 0  # AudioSet class indices
FOLDER_NAME = "audioset_mn04"
WEIGHTS = "weights.safetensors"


def mel_scale(f: np.ndarray) -> np.ndarray:
    return 1127.0 * np.log(1.0 + np.asarray(f, np.float64) / 700.0)


@lru_cache(maxsize=1)
def mel_banks() -> np.ndarray:
    """Kaldi's triangular mel filters (``torchaudio.compliance.kaldi.get_mel_banks`` with
    no warping), 0-15 kHz, plus a zero column for the Nyquist bin: (128, 513) float32."""
    lo, hi = mel_scale(0.0), mel_scale(FMAX)
    delta = (hi - lo) / (N_MELS + 1)
    left = lo + np.arange(N_MELS)[:, None] * delta
    centre, right = left + delta, left + 2 * delta
    mel = mel_scale(SAMPLE_RATE / N_FFT * np.arange(N_FFT // 2))[None, :]
    bank = np.maximum(0.0, np.minimum((mel - left) / (centre - left), (right - mel) / (right - centre)))
    return np.pad(bank, ((0, 0), (0, 1))).astype(np.float32)


@lru_cache(maxsize=1)
def _window() -> np.ndarray:
    """The symmetric 800-sample Hann window centred in 1024 samples (as torch.stft pads it)."""
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(WIN) / (WIN - 1))
    pad = (N_FFT - WIN) // 2
    return np.pad(hann, (pad, N_FFT - WIN - pad)).astype(np.float32)


def tagger_features(audio: np.ndarray) -> np.ndarray:
    """The tagger's log-mel of mono 32-kHz audio (at least 513 samples): (128, frames)
    float32, frames = 1 + (len(audio) - 1) // 320."""
    x = np.asarray(audio, np.float32)
    x = x[1:] - np.float32(0.97) * x[:-1]
    x = np.pad(x, N_FFT // 2, mode="reflect")
    n_frames = 1 + (len(x) - N_FFT) // HOP
    frames = np.lib.stride_tricks.as_strided(x, (n_frames, N_FFT), (x.strides[0] * HOP, x.strides[0]))
    from scipy.fft import rfft

    spectrum = rfft(frames * _window(), axis=1)  # float32 throughout: half the time of float64
    power = spectrum.real ** 2 + spectrum.imag ** 2
    mel = mel_banks() @ power.T
    return ((np.log(mel + 1e-5) + 4.5) / 5.0).astype(np.float32)


def to_tagger_rate(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mono float32 audio resampled to 32 kHz."""
    audio = np.asarray(audio, np.float32)
    if sample_rate == SAMPLE_RATE:
        return audio
    import soxr

    return soxr.resample(audio, sample_rate, SAMPLE_RATE, quality="HQ").astype(np.float32)


def fit_window(audio: np.ndarray) -> np.ndarray:
    """A 32-kHz window made exactly 10 s long: cut, or tiled when shorter."""
    n = int(WINDOW_SECONDS * SAMPLE_RATE)
    if len(audio) >= n:
        return audio[:n]
    return np.tile(audio, -(-n // max(len(audio), 1)))[:n]


class WindowPicker:
    """Keeps at most ``max_windows`` non-overlapping 10-s windows of a stream, spread over it.

    Windows start at multiples of 10 s; those whose index is a multiple of the stride are
    kept, and the stride doubles (dropping every other kept window) whenever more than
    ``max_windows`` would be kept. Memory stays bounded whatever the length.
    """

    def __init__(self, sample_rate: int, max_windows: int = MAX_WINDOWS):
        self.sample_rate = sample_rate
        self.size = int(WINDOW_SECONDS * sample_rate)
        self.max_windows = max_windows
        self.stride = 1
        self.kept: list[tuple[int, np.ndarray]] = []
        self.index = 0  # the window being filled
        self.parts: list[np.ndarray] = []
        self.filled = 0

    def push(self, block: np.ndarray) -> None:
        block = np.asarray(block, np.float32)
        while len(block):
            take = min(self.size - self.filled, len(block))
            if self.index % self.stride == 0:
                self.parts.append(block[:take])
            self.filled += take
            block = block[take:]
            if self.filled == self.size:
                self._close()

    def _close(self) -> None:
        if self.parts:
            self.kept.append((self.index, np.concatenate(self.parts)))
        self.parts, self.filled = [], 0
        self.index += 1
        while len(self.kept) > self.max_windows:
            self.stride *= 2
            self.kept = [(i, w) for i, w in self.kept if i % self.stride == 0]

    def windows(self) -> list[np.ndarray]:
        """The kept windows (model rate); the unfinished last one only when none is whole
        and it holds at least :data:`MIN_SECONDS`."""
        out = [w for _, w in self.kept]
        if not out and self.parts and self.filled >= MIN_SECONDS * self.sample_rate:
            out.append(np.concatenate(self.parts))
        return out


@dataclass
class _TaggerBundle:
    """What :func:`.onnx_runtime.onnx_network` reads of a bundle."""

    network_key: str
    network: object
    features: object


@dataclass(frozen=True)
class _Shape:
    n_mels: int = N_MELS
    slice_frames: int = WINDOW_FRAMES


class _OnnxShaped:
    """The network as the ONNX exporter sees a bundle's: (n, 128, frames) in,
    ``(logits, None, embedding)`` out."""

    def __new__(cls, net):
        import torch

        class Wrapped(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.net = net

            def forward(self, mel):
                logits, embedding = self.net(mel.unsqueeze(1))
                return logits, None, embedding

        return Wrapped().eval()


def default_folder() -> Path:
    from genre_desktop.core.paths import bundled_models_folder

    return bundled_models_folder() / FOLDER_NAME


class SoundTagger:
    """The tagger, loaded from a folder holding ``weights.safetensors`` and ``model.json``.

    Parameters
    ----------
    folder : Path, optional
        Default: the bundled ``models/audioset_mn04``.
    runtime : {"auto", "torch"}
        "auto": ONNX Runtime when its outputs agree with torch's.
    """

    def __init__(self, folder: Optional[Path] = None, runtime: str = "auto"):
        folder = Path(folder) if folder is not None else default_folder()
        meta = json.loads((folder / "model.json").read_text(encoding="utf-8"))
        self.labels: list[str] = list(meta["labels"])
        self.folder = folder
        self.model = None
        self.network = None
        if runtime == "auto":
            from genre_desktop.core.engine.models.bundle import bundle_digest
            from genre_desktop.core.engine.network.onnx_runtime import onnx_network
            from genre_desktop.core.paths import onnx_cache_folder

            key = bundle_digest(folder)
            self.network = onnx_network(_TaggerBundle(key, None, _Shape()), onnx_cache_folder())
            if self.network is None:
                self.model = load_network(folder)
                self.network = onnx_network(_TaggerBundle(key, _OnnxShaped(self.model), _Shape()),
                                            onnx_cache_folder())
        if self.network is None and self.model is None:
            self.model = load_network(folder)

    @property
    def runtime(self) -> str:
        return "onnxruntime" if self.network is not None else "torch"

    def logits(self, mels: np.ndarray) -> np.ndarray:
        """Logits (n, 527) of log-mel windows (n, 128, frames)."""
        mels = np.ascontiguousarray(mels, np.float32)
        if self.network is not None and mels.shape[2] == WINDOW_FRAMES:
            return self.network(mels)[0]
        import torch

        with torch.inference_mode():
            return self.model(torch.from_numpy(mels)[:, None])[0].numpy()

    def window_probabilities(self, windows: list[np.ndarray], sample_rate: int) -> np.ndarray:
        """Class probabilities (n, 527) of the audible ones of ``windows`` (mono, any length,
        at ``sample_rate``); (0, 527) when none is audible."""
        audible = [w for w in windows if len(w) and float(np.sqrt(np.mean(np.square(w, dtype=np.float64))))
                   >= SILENT_RMS]
        if not audible:
            return np.zeros((0, len(self.labels)), np.float32)
        mels = np.stack([tagger_features(fit_window(to_tagger_rate(w, sample_rate))) for w in audible])
        logits = self.logits(mels)
        return (0.5 * (1.0 + np.tanh(0.5 * logits))).astype(np.float32)

    def music_probability(self, windows: list[np.ndarray], sample_rate: int) -> Optional[float]:
        """Mean P(Music) over the audible windows; None when none is audible."""
        probs = self.window_probabilities(windows, sample_rate)
        return float(probs[:, MUSIC].mean()) if len(probs) else None


def load_network(folder: Path):
    """The torch network with the folder's weights, loaded strictly (every key, every shape).

    Raises
    ------
    RuntimeError
        The weights do not fit the network.
    """
    from safetensors.torch import load_file

    from genre_desktop.core.engine.network.sound_tagger_net import SoundTaggerNet

    net = SoundTaggerNet()
    net.load_state_dict(load_file(str(Path(folder) / WEIGHTS)), strict=True)
    return net.eval()


_shared: dict[str, SoundTagger] = {}
_shared_lock = threading.Lock()


def shared_tagger(runtime: str = "auto") -> Optional[SoundTagger]:
    """The bundled tagger, loaded once per process; None (logged once) when it cannot load:
    the verdicts then fall back to the genre model's own not-music test."""
    with _shared_lock:
        if runtime not in _shared:
            try:
                _shared[runtime] = SoundTagger(runtime=runtime)
            except Exception as exc:
                log.warning("sound tagger not available (%s): not-music uses the genre model alone",
                            " ".join(str(exc).split())[:200])
                _shared[runtime] = None  # type: ignore[assignment]
        return _shared[runtime]


# --- the decision --------------------------------------------------------------------------
#: mean P(Music) below which a recording is "not music": the rule of ``benchmarks/bench_notmusic.py
#: --choose`` (the lowest threshold within 1 point of the best recall on the ``train`` part of the
#: real non-music set with <= 1 % of GTZAN tracks and 2-3-s clips, both bands, flagged): 0.13.
#: 2-3-s clips of rapped or spoken music through a telephone band fall below any higher line.
MUSIC_THRESHOLD = 0.13


def music_verdict(verdict: str, p_music: Optional[float], steady: bool = False,
                  threshold: float = MUSIC_THRESHOLD, taught: bool = False) -> str:
    """The verdict once the tagger has heard the audio.

    ``verdict`` is the genre model's (:data:`.verdicts.VERDICTS`), ``steady`` whether its
    steady-sound test fired. Silence stays silence and a steady sound stays "not music";
    otherwise a mean P(Music) below ``threshold`` is "not music", and a "not music" of the
    genre model's embedding alone, where the tagger hears music, becomes "unknown" (music
    unlike its genres). Without a P(Music) (too little audible audio) nothing changes.
    ``taught``: the genre model heard one of the genres a person taught it (one its base
    model does not have, see :func:`taught_genres`): a "white noise" or "spoken word" genre
    keeps its name, as the steady-sound test lets it (:func:`.openset.fit_openset`).
    """
    if (p_music is None or verdict == "silence" or (verdict == "not_music" and steady)
            or (taught and verdict in ("genre", "unsure"))):
        return verdict
    if p_music < threshold:
        return "not_music"
    return "unknown" if verdict == "not_music" else verdict


def taught_genres(meta) -> frozenset:
    """The genres a person taught a trained model that its base model does not have: its
    labels less those it kept from the base or re-taught (``provenance`` of a trained
    model's ``model.json``); none for a bundled model."""
    provenance = meta.get("provenance", {}) if hasattr(meta, "get") else {}
    if not isinstance(provenance, dict) or "base_model" not in provenance:
        return frozenset()
    from_base = set(provenance.get("known_genres") or []) | set(provenance.get("kept_genres") or [])
    return frozenset(label for label in meta.get("labels", []) if label not in from_base)




def tagger_for(classifier) -> Optional[SoundTagger]:
    """The tagger a :class:`.inference.Classifier` consults: the shared one when its bundle
    has a not-music test (open-set statistics) and ``GENRE_DESKTOP_SOUND_TAGGER`` is not
    "off"; None otherwise."""
    if os.environ.get(TAGGER_ENV, "").lower() == "off" or getattr(classifier.bundle, "openset", None) is None:
        return None
    return shared_tagger("auto" if classifier.runtime == "onnxruntime" else "torch")


def music_probability_of(classifier, windows: list[np.ndarray]) -> Optional[float]:
    """Mean P(Music) of ``windows`` (mono, the classifier's rate) by :func:`tagger_for`'s
    tagger; None without one, or without audible audio."""
    tagger = tagger_for(classifier)
    return None if tagger is None else tagger.music_probability(windows, classifier.config.sample_rate)


def windows_of(audio: np.ndarray, sample_rate: int) -> list[np.ndarray]:
    """:class:`WindowPicker`'s windows of audio held whole."""
    picker = WindowPicker(sample_rate)
    picker.push(audio)
    return picker.windows()
