"""Audio playback over sounddevice: the callback only copies from a preloaded array."""
from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Optional

import numpy as np
from genre_desktop.core.errors import GenreDesktopError

log = logging.getLogger(__name__)


class PlaybackError(GenreDesktopError):
    """Audio output is unavailable; the message says why in one line."""


class Player:
    """Plays one float32 signal, mono (n,) or with channels (n, c); ``position`` is safe to
    read from any thread."""

    def __init__(self):
        self._audio = np.zeros((0, 1), np.float32)
        self._rate = 22050
        self._pos = 0
        self._stream = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._audio.shape[0] > 0

    @property
    def channels(self) -> int:
        return self._audio.shape[1]

    @property
    def sample_rate(self) -> int:
        return self._rate

    @property
    def duration(self) -> float:
        return self._audio.shape[0] / self._rate

    @property
    def position(self) -> float:
        return self._pos / self._rate

    @property
    def playing(self) -> bool:
        return self._stream is not None and self._stream.active

    def load(self, audio: np.ndarray, sample_rate: int) -> None:
        """Replace the signal (stops playback). ``audio``: (n_samples,) or (n_samples, channels)."""
        self.stop()
        audio = np.asarray(audio, np.float32)
        with self._lock:
            self._audio = np.ascontiguousarray(audio[:, None] if audio.ndim == 1 else audio)
            self._rate = int(sample_rate)
            self._pos = 0

    def seek(self, seconds: float) -> None:
        with self._lock:
            self._pos = int(np.clip(seconds * self._rate, 0, self._audio.shape[0]))

    def play(self) -> None:
        """Start (or resume) playback; raises :class:`PlaybackError` without an output."""
        if not self.loaded or self.playing:
            return
        if self._pos >= self._audio.shape[0]:
            self._pos = 0
        try:
            import sounddevice as sd

            self._stream = sd.OutputStream(samplerate=self._rate, channels=self.channels, dtype="float32",
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

    def _callback(self, outdata: np.ndarray, frames: int, time, status) -> None:
        import sounddevice as sd

        with self._lock:
            chunk = self._audio[self._pos:self._pos + frames]
            n = chunk.shape[0]
            outdata[:n] = chunk
            outdata[n:] = 0.0
            self._pos += n
        if n < frames:
            raise sd.CallbackStop


#: above this (float32 bytes) a file plays as a 22.05 kHz mono preview instead of as it is
MAX_ORIGINAL_BYTES = 512 * 1024 * 1024  # ~50 min of 44.1 kHz stereo


def preview_audio(path, max_seconds: Optional[float] = 3600.0) -> tuple[np.ndarray, int]:
    """Decode a file for playback as it is: its own sample rate and channels (more than two
    are mixed to stereo). A file that libsndfile cannot read (m4a, ...) or that would take
    more than :data:`MAX_ORIGINAL_BYTES` plays as a 22.05 kHz mono preview.

    Returns
    -------
    audio : (n_samples, channels) float32
    sample_rate : int
    """
    import soundfile as sf

    from genre_desktop.core.engine.audio.decode import AudioDecodeError, _sf_path, audio_info, check_finite, load_audio

    try:
        info = audio_info(path)
    except AudioDecodeError:
        info = None
    frames = int(info.duration * info.sample_rate) if info else 0
    if info is not None and info.format != "ffmpeg" and frames * min(info.channels, 2) * 4 <= MAX_ORIGINAL_BYTES:
        try:
            limit = -1 if max_seconds is None else int(max_seconds * info.sample_rate)
            audio, rate = sf.read(_sf_path(Path(path)), frames=limit, dtype="float32", always_2d=True)
            if audio.shape[1] > 2:  # surround: a plain stereo fold-down
                audio = np.stack([audio[:, 0::2].mean(axis=1), audio[:, 1::2].mean(axis=1)], axis=1)
            return check_finite(np.ascontiguousarray(audio)), int(rate)
        except (sf.LibsndfileError, RuntimeError, TypeError):
            pass
    return load_audio(path, PREVIEW_RATE, max_seconds=max_seconds)[:, None], PREVIEW_RATE


PREVIEW_RATE = 22050
