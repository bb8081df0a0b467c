"""Live listening: capture into a ring buffer, slice into 2.5-s windows, classify, smooth.

Three parts, each testable alone:

* :class:`RingBuffer` — preallocated; the audio callback only copies into it.
* :class:`LiveAnalyzer` — pure: fed model-rate samples, it yields spectrogram columns and,
  every ``hop_seconds``, a :class:`LivePrediction`: the verdict a file of the last 10 s
  would get (the same vote, temperature and hedges), the latest 2.5-s window's own genre,
  and an honest "no music heard" for quiet input.
* :class:`CaptureStream` — a sounddevice input stream feeding a :class:`RingBuffer`.

:class:`LiveSession` ties them together for the CLI and the GUI (which calls ``poll``
from a worker thread's timer).
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import numpy as np
import soxr

from genre_desktop.core.engine.classify.calibration import apply_temperature, temperature_for
from genre_desktop.core.engine.audio.features import SILENCE_LEVEL, StreamingLogMel
from genre_desktop.core.engine.classify.sound_tagger import WINDOW_SECONDS, music_probability_of
from genre_desktop.core.engine.classify.verdicts import Verdict
from genre_desktop.core.errors import GenreDesktopError

if TYPE_CHECKING:
    from genre_desktop.core.engine.classify.classifier import Classifier

log = logging.getLogger(__name__)

QUIET_DBFS = -50.0  # a window quieter than this is "no music heard"


class LiveError(GenreDesktopError):
    """Live input cannot start or stopped; the message says why in one line."""


class RingBuffer:
    """A fixed-size float32 ring; one writer (the audio callback), one reader.

    ``write`` only copies (at most two slice assignments). The reader asks for everything
    written since its last read; if it fell more than ``capacity`` behind, the oldest
    samples are lost and counted in ``lost``.
    """

    def __init__(self, capacity: int):
        self.data = np.zeros(capacity, np.float32)
        self.capacity = capacity
        self.written = 0  # total samples ever written (monotonic)
        self.read_pos = 0
        self.lost = 0

    def write(self, samples: np.ndarray) -> None:
        n = len(samples)
        if n > self.capacity:  # only the newest ``capacity`` samples can be kept
            self.written += n - self.capacity
            samples, n = samples[-self.capacity:], self.capacity
        start = self.written % self.capacity
        first = min(n, self.capacity - start)
        self.data[start:start + first] = samples[:first]
        if first < n:
            self.data[:n - first] = samples[first:]
        self.written += n

    def read_new(self) -> np.ndarray:
        """Samples written since the last call, oldest first (a copy)."""
        end = self.written
        if end - self.read_pos > self.capacity:
            self.lost += end - self.read_pos - self.capacity
            self.read_pos = end - self.capacity
        n = end - self.read_pos
        start = self.read_pos % self.capacity
        if start + n <= self.capacity:
            out = self.data[start:start + n].copy()
        else:
            out = np.concatenate([self.data[start:], self.data[:n - (self.capacity - start)]])
        self.read_pos = end
        return out


@dataclass
class LivePrediction:
    """The model's view of the latest 2.5-s window."""

    time: float  # seconds since listening started, at the window's end
    probs: np.ndarray  # (n_labels,) of the latest window, calibrated as one slice
    genre: Optional[str]  # the latest window's own top genre; None when no music is heard
    confidence: float
    smoothed_genre: Optional[str]  # the vote's top genre (TrackResult.closest), whatever the verdict
    smoothed_confidence: float  # calibrated as a file of that many slices
    level_dbfs: float
    latency_ms: float = 0.0  # window end (audio received) to prediction ready
    verdict: str = Verdict.GENRE  # as TrackResult.verdict, of the vote over the last few slices
    reason: str = ""  # why the verdict is hedged, in words (TrackResult.reason)

    def to_json(self) -> dict:
        return {"time": round(self.time, 2), "genre": self.genre, "verdict": self.verdict,
                "reason": self.reason or None,
                "confidence": round(self.confidence, 3),
                "smoothed_genre": self.smoothed_genre, "smoothed_confidence": round(self.smoothed_confidence, 3),
                "level_dbfs": round(self.level_dbfs, 1)}


@dataclass
class LiveUpdate:
    """What one ``feed``/``poll`` produced."""

    columns: np.ndarray  # (n_mels, n_new_frames) log-mel columns for the spectrogram
    predictions: list[LivePrediction] = field(default_factory=list)
    level_dbfs: float = -120.0
    callback_time: float = 0.0  # perf_counter() of the newest audio callback in this update
    overflows: int = 0  # input overflows so far


def _shift_in(buffer: np.ndarray, new: np.ndarray) -> None:
    """Append ``new`` along the last axis of a fixed-size ``buffer``, dropping the oldest, in place."""
    k = new.shape[-1]
    width = buffer.shape[-1]
    if k == 0:
        return
    if k >= width:
        buffer[...] = new[..., -width:]
    else:
        buffer[..., :-k] = buffer[..., k:]
        buffer[..., -k:] = new


def dbfs(samples: np.ndarray) -> float:
    if samples.size == 0:
        return -120.0
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    return 20 * np.log10(max(rms, 1e-6))


class LiveAnalyzer:
    """Turns a stream of model-rate samples into spectrogram columns and predictions.

    The verdict is a file's: the stream is cut into the same consecutive 2.5-s slices a file
    is cut into, and the last ``smoothing`` of them are voted by
    :meth:`~.inference.Classifier.verdict` (the same vote, temperature per length, hedges
    and open-set tests as a file of that length), so that a window of audio gets the answer
    its file would get. Every ``hop_seconds`` a prediction reports that verdict and the
    latest 2.5-s window's own genre ("this slice").

    Parameters
    ----------
    classifier : Classifier
    hop_seconds : float
        A prediction every ``hop_seconds`` (each over the latest 2.5-s window).
    smoothing : int
        Consecutive 2.5-s slices voted (4: the last 10 s).
    """

    def __init__(self, classifier: "Classifier", hop_seconds: float = 1.0, smoothing: int = 4):
        self.classifier = classifier
        self.config = classifier.config
        cfg = self.config
        self.hop_frames = max(1, int(round(hop_seconds * cfg.frames_per_second)))
        self.mel = StreamingLogMel(cfg)
        # a fixed window of the latest frames (no growth, updated in place)
        self.window = np.zeros((cfg.n_mels, cfg.slice_frames), np.float32)
        self.frames_total = 0
        self.next_prediction = cfg.slice_frames
        self.next_slice = cfg.slice_frames  # a file's slices end at multiples of slice_frames
        self.recent_audio = np.zeros(int(cfg.slice_seconds * cfg.sample_rate), np.float32)
        # the voted slices: (first frame, probs, tags or None, embedding, silent)
        self.history: deque[tuple] = deque(maxlen=max(1, smoothing))
        self._last_run: Optional[tuple] = None  # (frames_total, network outputs) of the latest window
        self.tagger_audio = np.zeros(int(WINDOW_SECONDS * cfg.sample_rate), np.float32)  # the sound tagger's
        self._p_music: Optional[float] = None  # its P(Music) of the voted slices' audio (a file's decision)

    def feed(self, samples: np.ndarray, received_at: Optional[float] = None) -> LiveUpdate:
        """Add mono samples at the model's rate; returns new columns and due predictions."""
        samples = np.asarray(samples, np.float32)
        _shift_in(self.recent_audio, samples)
        _shift_in(self.tagger_audio, samples)
        columns = self.mel.push(samples)
        predictions = []
        pos, n_new = 0, columns.shape[1]
        while pos < n_new:
            take = min(n_new - pos, min(self.next_prediction, self.next_slice) - self.frames_total)
            _shift_in(self.window, columns[:, pos:pos + take])
            pos += take
            self.frames_total += take
            if self.frames_total >= self.next_slice:
                self.next_slice += self.config.slice_frames
                self._add_slice()
            if self.frames_total >= self.next_prediction:
                self.next_prediction += self.hop_frames
                predictions.append(self._predict(received_at))
        return LiveUpdate(columns, predictions, dbfs(samples))

    def _quiet(self) -> bool:
        return dbfs(self.recent_audio) < QUIET_DBFS or float(self.window.max()) < SILENCE_LEVEL

    def _run_window(self) -> tuple:
        """The network's outputs (probs, tags, embeddings) for the current window, once."""
        if self._last_run is None or self._last_run[0] != self.frames_total:
            self._last_run = (self.frames_total, self.classifier.predict_slices(self.window[None]))
        return self._last_run[1]

    def _add_slice(self) -> None:
        """A file's slice just completed: vote it (a quiet one ends the piece heard so far)."""
        if self._quiet():
            self.history.clear()
            return
        probs, tags, emb = self._run_window()
        self.history.append((self.frames_total - self.config.slice_frames, probs[0],
                             None if tags is None else tags[0], emb[0], False))
        heard = self.tagger_audio[-len(self.history) * int(self.config.slice_seconds * self.config.sample_rate):]
        self._p_music = music_probability_of(self.classifier, [heard])

    def _predict(self, received_at: Optional[float]) -> LivePrediction:
        labels = self.classifier.labels
        cfg = self.config
        level = dbfs(self.recent_audio)
        t = self.frames_total / cfg.frames_per_second
        probs, tags, emb = self._run_window()
        if self._quiet():
            self.history.clear()
            latency = (time.perf_counter() - received_at) * 1000 if received_at else 0.0
            return LivePrediction(t, probs[0], None, 0.0, None, 0.0, level, latency, Verdict.SILENCE)
        p = apply_temperature(probs[0], temperature_for(self.classifier.bundle.calibration, 1))
        voted = list(self.history) or [(self.frames_total - cfg.slice_frames, probs[0],
                                        None if tags is None else tags[0], emb[0], False)]
        starts, slice_probs, slice_tags, embs, silent = zip(*voted)
        result = self.classifier.verdict(
            "<live>", len(voted) * cfg.slice_seconds, np.array(starts), np.array(slice_probs), np.array(silent),
            None if slice_tags[0] is None else np.array(slice_tags), np.array(embs),
            music_probability=self._p_music if self.history else None)
        latency = (time.perf_counter() - received_at) * 1000 if received_at else 0.0
        return LivePrediction(t, p, labels[int(np.argmax(p))], float(p.max()), result.closest, result.confidence,
                              level, latency, result.verdict, result.reason)


class CaptureStream:
    """A sounddevice input stream whose callback only copies into a ring buffer."""

    ATTEMPTS = 3  # PortAudio on a busy machine sometimes fails a query or an open once
    RETRY_SECONDS = 0.3

    def __init__(self, device=None, ring_seconds: float = 20.0, blocksize: int = 0):
        import sounddevice as sd

        self.ring = None
        self.overflows = 0
        self.callbacks = 0
        self.last_callback = time.perf_counter()
        self._lock = threading.Lock()
        for attempt in range(self.ATTEMPTS):
            try:
                device = _resolve_device(device)
                info = sd.query_devices(device, "input")
                self.device_name = info["name"]
                self.sample_rate = int(info["default_samplerate"])
                self.ring = RingBuffer(int(ring_seconds * self.sample_rate))
                self.stream = sd.InputStream(device=device, channels=1, samplerate=self.sample_rate,
                                             dtype="float32", blocksize=blocksize, callback=self._callback)
                return
            except (ValueError, sd.PortAudioError) as exc:
                reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                if isinstance(exc, ValueError) or attempt == self.ATTEMPTS - 1:
                    raise LiveError(explain_audio_error(reason)) from None
                log.info("audio input: %s; trying again", reason)
                time.sleep(self.RETRY_SECONDS)
                _reinitialise_portaudio()

    def _callback(self, indata, frames, time_info, status) -> None:
        if status.input_overflow:
            self.overflows += 1
        with self._lock:
            self.ring.write(indata[:, 0])
        self.callbacks += 1
        self.last_callback = time.perf_counter()

    def start(self) -> None:
        self.stream.start()
        self.last_callback = time.perf_counter()

    def read(self) -> np.ndarray:
        with self._lock:
            return self.ring.read_new()

    def close(self) -> None:
        try:
            self.stream.stop()
            self.stream.close()
        except Exception:  # the device may be gone already
            log.debug("closing input stream failed", exc_info=True)


NO_INPUT = ("no audio input is available: no microphone was found, or no sound server (PulseAudio, "
            "PipeWire) is running. Connect one, then look for devices again (\u21bb)")


def explain_audio_error(reason: str) -> str:
    """PortAudio's message in words a person can act on."""
    if any(code in reason for code in ("-9993", "-9996", "-9998", "-9999", "Illegal combination",
                                       "Error querying device -1", "No Default")):
        return f"{NO_INPUT} [{reason}]"
    return f"no usable input device ({reason})"


def _resolve_device(device):
    """An index for a device named exactly (sounddevice matches names by substring, so
    "default" was ambiguous next to "pulse default"); other values as given."""
    if not isinstance(device, str):
        return device
    if device.strip().lower() in ("", "system", "system default"):
        return None
    exact = [i for i, name in input_devices() if name.casefold() == device.casefold()]
    return exact[0] if exact else device


def _reinitialise_portaudio() -> None:
    """Let PortAudio look at the audio servers afresh (a server restarted under load)."""
    import sounddevice as sd

    try:
        sd._terminate()
        sd._initialize()
    except Exception:
        log.debug("PortAudio re-initialisation failed", exc_info=True)


def input_devices() -> list[tuple[int, str]]:
    """(index, name) of every input device; empty when PortAudio finds none."""
    try:
        import sounddevice as sd

        return [(i, d["name"]) for i, d in enumerate(sd.query_devices()) if d["max_input_channels"] > 0]
    except Exception:  # PortAudio missing or broken: treat as no devices
        log.warning("cannot list audio devices", exc_info=True)
        return []


class LiveSession:
    """Capture + resampling + analysis; call ``poll()`` regularly (e.g. every 20 ms)."""

    STALL_SECONDS = 2.0  # no audio for this long after it flowed: the device is gone
    STARTUP_SECONDS = 8.0  # some servers (PulseAudio) take seconds to deliver the first block

    def __init__(self, classifier: "Classifier", device=None, hop_seconds: float = 1.0, smoothing: int = 4):
        self.analyzer = LiveAnalyzer(classifier, hop_seconds, smoothing)
        self.capture = CaptureStream(device)
        rate = classifier.config.sample_rate
        self.resampler = (soxr.ResampleStream(self.capture.sample_rate, rate, 1, dtype="float32")
                          if self.capture.sample_rate != rate else None)
        self.recording = None  # an open soundfile.SoundFile while recording
        self.record_path: Optional[Path] = None

    def start(self, record_to: Optional[Path] = None) -> None:
        """Start capturing; with ``record_to`` the raw input is also written there as WAV,
        block by block (from ``poll``, never from the audio callback)."""
        if record_to is not None:
            import soundfile as sf

            record_to.parent.mkdir(parents=True, exist_ok=True)
            self.recording = sf.SoundFile(str(record_to), "w", self.capture.sample_rate, 1, subtype="PCM_16")
            self.record_path = record_to
        try:
            self.capture.start()
        except Exception as exc:
            raise LiveError(f"cannot start '{self.capture.device_name}' ({str(exc).splitlines()[0]})") from None

    def poll(self) -> LiveUpdate:
        """Drain new audio and analyse it. Raises :class:`LiveError` if the input died."""
        raw = self.capture.read()
        received = time.perf_counter()
        if raw.size == 0:
            limit = self.STALL_SECONDS if self.capture.callbacks else self.STARTUP_SECONDS
            if not self.capture.stream.active or received - self.capture.last_callback > limit:
                raise LiveError("the input stopped delivering audio (device unplugged?)")
            return LiveUpdate(np.zeros((self.analyzer.config.n_mels, 0), np.float32))
        if self.recording is not None:
            self.recording.write(raw)
        samples = self.resampler.resample_chunk(raw) if self.resampler else raw
        update = self.analyzer.feed(samples, received)
        update.level_dbfs = dbfs(raw)
        update.callback_time = self.capture.last_callback
        update.overflows = self.capture.overflows
        return update

    @property
    def overflows(self) -> int:
        """Input overflows reported by the device."""
        return self.capture.overflows

    @property
    def dropped_samples(self) -> int:
        """Samples lost because ``poll`` fell a whole ring behind."""
        return self.capture.ring.lost

    def stop(self) -> Optional[Path]:
        """Stop; returns the recording's path when recording was on."""
        self.capture.close()
        if self.recording is None:
            return None
        self.recording.write(self.capture.read())
        self.recording.close()
        self.recording = None
        return self.record_path
