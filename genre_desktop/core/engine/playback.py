"""Audio playback over sounddevice: the callback only copies from a preloaded array."""
from __future__ import annotations

import logging
import threading
from typing import Optional

import numpy as np

log = logging.getLogger(__name__)


class PlaybackError(Exception):
    """Audio output is unavailable; the message says why in one line."""


class Player:
    """Plays one mono float32 signal; ``position`` is safe to read from any thread."""

    def __init__(self):
        self._audio = np.zeros(0, np.float32)
        self._rate = 22050
        self._pos = 0
        self._stream = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._audio.size > 0

    @property
    def duration(self) -> float:
        return self._audio.size / self._rate

    @property
    def position(self) -> float:
        return self._pos / self._rate

    @property
    def playing(self) -> bool:
        return self._stream is not None and self._stream.active

    def load(self, audio: np.ndarray, sample_rate: int) -> None:
        """Replace the signal (stops playback). ``audio``: (n_samples,) float32."""
        self.stop()
        with self._lock:
            self._audio = np.ascontiguousarray(audio, np.float32)
            self._rate = int(sample_rate)
            self._pos = 0

    def seek(self, seconds: float) -> None:
        with self._lock:
            self._pos = int(np.clip(seconds * self._rate, 0, self._audio.size))

    def play(self) -> None:
        """Start (or resume) playback; raises :class:`PlaybackError` without an output."""
        if not self.loaded or self.playing:
            return
        if self._pos >= self._audio.size:
            self._pos = 0
        try:
            import sounddevice as sd

            self._stream = sd.OutputStream(samplerate=self._rate, channels=1, dtype="float32",
                                           callback=self._callback)
            self._stream.start()
        except Exception as exc:  # PortAudio raises OSError or sd.PortAudioError
            self._stream = None
            raise PlaybackError(f"audio output unavailable ({str(exc).splitlines()[0]})") from None

    def pause(self) -> None:
        self.stop()

    def stop(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.stop()
                stream.close()
            except Exception:  # the device may already be gone
                log.debug("closing output stream failed", exc_info=True)

    def _callback(self, outdata: np.ndarray, frames: int, time, status) -> None:  # noqa: ARG002
        import sounddevice as sd

        with self._lock:
            chunk = self._audio[self._pos:self._pos + frames]
            n = chunk.size
            outdata[:n, 0] = chunk
            outdata[n:, 0] = 0.0
            self._pos += n
        if n < frames:
            raise sd.CallbackStop


def preview_audio(path, sample_rate: int = 22050, max_seconds: Optional[float] = 3600.0) -> np.ndarray:
    """Decode a file for playback (mono, ``sample_rate``), shape (n_samples,)."""
    from .audio_io import load_audio

    return load_audio(path, sample_rate, max_seconds=max_seconds)
