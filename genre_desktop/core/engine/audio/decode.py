"""Decode any music file into mono float32 blocks at a target sample rate.

soundfile (libsndfile) handles wav, flac, ogg/vorbis/opus, mp3, aiff; anything else
(m4a, aac, wma, ...) goes through ffmpeg via audioread when ffmpeg is installed, and so
does any file libsndfile refuses or reads no audio from (some valid Opus files).
Audio is decoded and resampled (soxr, streaming) block by block, so an hour-long file
never sits in memory whole.

Only regular files are opened (:func:`safe_files.open_regular`): a FIFO or a link to a
device named ``x.mp3`` gets a one-line reason, never a blocked or endless read. The
decoders read the very file that was checked, through its descriptor's name.
"""
from __future__ import annotations

import contextlib
import logging
import os
import shutil
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

import numpy as np
import soundfile as sf
import soxr

from genre_desktop.core.safe_files import NotRegularFile, descriptor_path, open_regular
from genre_desktop.core.errors import GenreDesktopError

log = logging.getLogger(__name__)

#: Extensions libsndfile decodes itself.
NATIVE_EXTENSIONS = frozenset({".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3",
                               ".aif", ".aiff", ".aifc", ".au", ".caf", ".w64"})
#: Extensions that need ffmpeg.
FFMPEG_EXTENSIONS = frozenset({".m4a", ".aac", ".mp4", ".wma", ".alac", ".webm", ".mka", ".ac3"})
AUDIO_EXTENSIONS = NATIVE_EXTENSIONS | FFMPEG_EXTENSIONS
#: Ogg files carry no total length; what ffmpeg announces for them is an estimate.
OGG_EXTENSIONS = frozenset({".ogg", ".oga", ".opus"})
#: MP4 files (AAC, ALAC) announce their rate, channels and length in their header: read
#: there (mutagen), not by starting ffmpeg just to ask (70 ms of CPU and a quarter of a
#: second per file, measured by ``benchmarks/bench_cheaper_track.py``).
MP4_EXTENSIONS = frozenset({".m4a", ".mp4", ".alac"})
#: bytes per read from ffmpeg's pipe (fewer, larger reads: less Python per second of audio)
FFMPEG_READ_BYTES = 1 << 18
_LIBSNDFILE_ERRORS = (sf.LibsndfileError, RuntimeError, TypeError)


class AudioDecodeError(GenreDesktopError):
    """A file could not be decoded. ``str(error)`` is a one-line message for people."""


@dataclass(frozen=True)
class AudioInfo:
    """What a file holds before decoding it."""

    sample_rate: int
    channels: int
    duration: float  # seconds; 0.0 when unknown
    format: str


def is_audio_path(path: os.PathLike | str) -> bool:
    """True when ``path`` has an extension this app can try to decode."""
    return Path(path).suffix.lower() in AUDIO_EXTENSIONS


def ffmpeg_available() -> bool:
    """True when an ``ffmpeg`` executable is on the PATH."""
    return shutil.which("ffmpeg") is not None


@contextlib.contextmanager
def _checked(path: Path) -> Iterator[str]:
    """Open ``path`` if it is a non-empty regular file this process can read, and give the
    name the decoders should open (the checked descriptor's); else :class:`AudioDecodeError`."""
    try:
        handle = open_regular(path)
    except NotRegularFile as exc:
        raise AudioDecodeError(str(exc)) from None
    except FileNotFoundError:
        raise AudioDecodeError("file not found") from None
    except PermissionError:
        raise AudioDecodeError("permission denied: this file cannot be read") from None
    except OSError as exc:
        raise AudioDecodeError(f"cannot open this file ({exc.strerror or type(exc).__name__})") from None
    with handle:
        if os.fstat(handle.fileno()).st_size == 0:
            raise AudioDecodeError("empty file (0 bytes)")
        name = descriptor_path(handle, path)
        yield name if name != os.fspath(path) else _sf_path(path)


def _sf_path(path: Path):
    """The path as libsndfile wants it: bytes on POSIX, so that names which are not valid
    UTF-8 (old Latin-1 folders) open instead of raising UnicodeEncodeError."""
    return os.fsencode(path) if os.name == "posix" else str(path)


def check_finite(block: np.ndarray) -> np.ndarray:
    """Refuse audio holding NaN or infinite samples (a broken float file), with one line."""
    if not np.isfinite(block).all():
        raise AudioDecodeError("the audio holds NaN or infinite samples (a damaged float file)")
    return block


def audio_info(path: os.PathLike | str) -> AudioInfo:
    """Read sample rate, channels and duration without decoding the audio."""
    path = Path(path)
    with _checked(path) as name:
        if path.suffix.lower() in MP4_EXTENSIONS and ffmpeg_available():  # decoded by ffmpeg
            found = _mp4_info(name)
            if found is not None:
                return found
        refused: Optional[Exception] = None
        try:
            info = sf.info(name)
        except _LIBSNDFILE_ERRORS as exc:
            refused = exc
        else:
            found = AudioInfo(int(info.samplerate), int(info.channels), float(info.duration), info.format)
            if info.frames > 0 or not ffmpeg_available():
                return found
        try:  # refused by libsndfile, or no audio in its eyes: ffmpeg may know better
            return _ffmpeg_info(path, name)
        except AudioDecodeError:
            if refused is None:
                return found
            if path.suffix.lower() in NATIVE_EXTENSIONS:
                raise AudioDecodeError(_describe_libsndfile_error(path, refused)) from None
            raise


def _mp4_info(name) -> Optional[AudioInfo]:
    """An MP4 file's audio as its header describes it (mutagen), or None when the header
    does not say (not MP4 after all, no audio track, damaged): ffmpeg is asked then."""
    from mutagen.mp4 import MP4

    try:
        info = MP4(name).info
    except Exception:
        return None
    rate, channels, length = int(info.sample_rate or 0), int(info.channels or 0), float(info.length or 0.0)
    if rate <= 0 or channels <= 0 or not length > 0:
        return None
    return AudioInfo(rate, channels, length, "ffmpeg")


def _ffmpeg_info(path: Path, name) -> AudioInfo:
    audioread = _ffmpeg_module(path)
    try:
        with audioread.FFmpegAudioFile(os.fsdecode(name)) as f:
            if f.samplerate <= 0 or f.channels <= 0:
                raise AudioDecodeError("ffmpeg found no audio in this file")
            # the length ffmpeg announces for Ogg is guessed from its last page: unknown
            duration = 0.0 if path.suffix.lower() in OGG_EXTENSIONS else float(f.duration or 0.0)
            return AudioInfo(int(f.samplerate), int(f.channels), duration, "ffmpeg")
    except AudioDecodeError:
        raise
    except Exception as exc:  # audioread raises many kinds
        raise AudioDecodeError(f"ffmpeg could not read this file ({type(exc).__name__})") from None


def _describe_libsndfile_error(path: Path, exc: Exception) -> str:
    ext = path.suffix.lower().lstrip(".") or "audio"
    detail = str(exc).split(":")[-1].strip() or type(exc).__name__
    if "possibly a pipe" in detail or "not a regular file" in detail:
        detail = "its contents are not audio libsndfile knows"  # libsndfile's words for garbage
    return f"not a readable {ext} file ({detail})"


def _ffmpeg_module(path: Path):
    if not ffmpeg_available():
        raise AudioDecodeError(
            f"this format ({path.suffix.lower() or 'unknown'}) needs ffmpeg: "
            "install it (Debian/Ubuntu: apt install ffmpeg) and try again")
    import audioread.ffdec  # imported lazily: only needed for non-native formats

    return audioread.ffdec


def iter_audio_blocks(path: os.PathLike | str, sample_rate: int,
                      block_seconds: float = 30.0) -> Iterator[np.ndarray]:
    """Decode ``path`` block by block as mono float32 at ``sample_rate``.

    Parameters
    ----------
    path : path-like
        Any audio file.
    sample_rate : int
        Output rate in Hz (the model's rate).
    block_seconds : float
        Approximate length of each yielded block, in seconds of source audio.

    Yields
    ------
    numpy.ndarray, shape (n_samples,), float32
        Consecutive mono blocks; concatenated they form the whole resampled track.

    Raises
    ------
    AudioDecodeError
        With a one-line reason, when the file is missing, empty or undecodable.
    """
    path = Path(path)
    with _checked(path) as name:
        refused: Optional[Exception] = None
        try:
            sf_file = sf.SoundFile(name)
        except _LIBSNDFILE_ERRORS as exc:
            refused = exc
        else:
            with sf_file:
                blocks = _iter_libsndfile_blocks(path, sf_file, sample_rate, block_seconds)
                try:
                    first = next(blocks, None)
                except _LIBSNDFILE_ERRORS as exc:  # refused at its first read: ffmpeg may do better
                    refused, first = exc, None
                if first is not None:
                    yield first
                    yield from blocks
                    return
                if refused is None and sf_file.frames == 0 and path.suffix.lower() not in OGG_EXTENSIONS:
                    return  # an empty stream libsndfile knows the length of: nothing to fall back for
        yield from _fallback_blocks(path, name, sample_rate, block_seconds, refused)


def _iter_libsndfile_blocks(path: Path, sf_file: sf.SoundFile, sample_rate: int,
                            block_seconds: float) -> Iterator[np.ndarray]:
    """Blocks from an open libsndfile file; an error before the first block is raised as is."""
    source_rate = int(sf_file.samplerate)
    resampler = _Resampler(source_rate, sample_rate)
    block_frames = max(1, int(block_seconds * source_rate))
    decoded_any = False
    while True:
        try:
            data = sf_file.read(block_frames, dtype="float32", always_2d=True)
        except _LIBSNDFILE_ERRORS as exc:
            if not decoded_any:
                raise
            log.warning("%s: decoding stopped early (%s)", path, exc)  # a truncated or damaged tail
            break
        if data.shape[0] == 0:
            break
        decoded_any = True
        out = resampler.push(check_finite(_to_mono(data)))
        if out.size:
            yield out
    tail = resampler.finish()
    if tail.size:
        yield tail


def _fallback_blocks(path: Path, name, sample_rate: int, block_seconds: float,
                     refused: Optional[Exception]) -> Iterator[np.ndarray]:
    """Decode through ffmpeg what libsndfile refused (``refused``) or read no audio from.
    Where ffmpeg cannot help either, a format libsndfile claims gets libsndfile's reason."""
    native = path.suffix.lower() in NATIVE_EXTENSIONS
    if native and not ffmpeg_available():
        if refused is None:
            return
        raise AudioDecodeError(_describe_libsndfile_error(path, refused))
    try:
        yield from _iter_ffmpeg_blocks(path, name, sample_rate, block_seconds)
    except AudioDecodeError:
        if native and refused is not None:
            raise AudioDecodeError(_describe_libsndfile_error(path, refused)) from None
        raise
    if native:
        log.info("%s: decoded by ffmpeg (libsndfile: %s)", path, refused or "no audio")


def _iter_ffmpeg_blocks(path: Path, name, sample_rate: int, block_seconds: float) -> Iterator[np.ndarray]:
    ffdec = _ffmpeg_module(path)
    try:
        reader = ffdec.FFmpegAudioFile(os.fsdecode(name), block_size=FFMPEG_READ_BYTES)
    except Exception as exc:
        raise AudioDecodeError(f"ffmpeg could not read this file ({type(exc).__name__})") from None
    with reader:
        if reader.samplerate <= 0 or reader.channels <= 0:
            raise AudioDecodeError("ffmpeg found no audio in this file")
        channels = int(reader.channels)
        resampler = _Resampler(int(reader.samplerate), sample_rate)
        pending: list[np.ndarray] = []
        pending_frames = decoded = 0
        block_frames = int(block_seconds * reader.samplerate)
        frame_bytes = 2 * channels
        carry = b""  # a pipe read may end inside a frame
        try:
            for buf in reader:
                buf = carry + buf
                whole = len(buf) - len(buf) % frame_bytes
                carry = buf[whole:]
                frames = np.frombuffer(buf[:whole], dtype="<i2").reshape(-1, channels)
                pending.append(frames)
                pending_frames += frames.shape[0]
                decoded += frames.shape[0]
                if pending_frames >= block_frames:
                    out = resampler.push(_pcm16_to_mono(np.concatenate(pending)))
                    pending, pending_frames = [], 0
                    if out.size:
                        yield out
        except Exception as exc:
            raise AudioDecodeError(f"ffmpeg failed while decoding ({type(exc).__name__})") from None
        if decoded == 0:
            raise AudioDecodeError("ffmpeg found no audio in this file")
        if pending:
            out = resampler.push(_pcm16_to_mono(np.concatenate(pending)))
            if out.size:
                yield out
        tail = resampler.finish()
        if tail.size:
            yield tail


def _to_mono(frames: np.ndarray) -> np.ndarray:
    """(n, channels) -> (n,) float32 by averaging channels."""
    if frames.shape[1] == 1:
        return np.ascontiguousarray(frames[:, 0], dtype=np.float32)
    # adding columns is ~6x faster than frames.mean(axis=1) on interleaved audio
    mono = frames[:, 0].astype(np.float32, copy=True)
    for channel in range(1, frames.shape[1]):
        mono += frames[:, channel]
    mono *= np.float32(1.0 / frames.shape[1])
    return mono


def _pcm16_to_mono(frames: np.ndarray) -> np.ndarray:
    """(n, channels) 16-bit PCM -> (n,) float32 in [-1, 1): the very numbers of
    ``_to_mono(frames / 32768)``, the channels added as integers (exact) instead of as
    floats made first for each channel."""
    if frames.shape[1] == 1:
        return np.multiply(frames[:, 0], np.float32(1 / 32768), dtype=np.float32)
    total = frames[:, 0].astype(np.int32)  # exact, and exact as a float32 too (|sum| < 2 ** 24)
    for channel in range(1, frames.shape[1]):  # columns: ~10x faster than sum(axis=1)
        total += frames[:, channel]
    mono = np.multiply(total, np.float32(1 / 32768), dtype=np.float32)  # a power of two: exact
    mono *= np.float32(1.0 / frames.shape[1])
    return mono


class _Resampler:
    """Streaming soxr resampler; a pass-through when rates already match."""

    def __init__(self, source_rate: int, target_rate: int):
        self._stream: Optional[soxr.ResampleStream] = None
        if source_rate != target_rate:
            self._stream = soxr.ResampleStream(source_rate, target_rate, 1, dtype="float32", quality="HQ")

    def push(self, mono: np.ndarray) -> np.ndarray:
        if self._stream is None:
            return mono
        return self._stream.resample_chunk(mono, last=False)

    def finish(self) -> np.ndarray:
        if self._stream is None:
            return np.zeros(0, np.float32)
        return self._stream.resample_chunk(np.zeros(0, np.float32), last=True)


def load_audio(path: os.PathLike | str, sample_rate: int,
               max_seconds: Optional[float] = None) -> np.ndarray:
    """Decode a whole file (or its first ``max_seconds``) to mono float32.

    Returns
    -------
    numpy.ndarray, shape (n_samples,), float32
    """
    blocks = []
    total = 0
    limit = None if max_seconds is None else int(max_seconds * sample_rate)
    for block in iter_audio_blocks(path, sample_rate):
        blocks.append(block)
        total += block.size
        if limit is not None and total >= limit:
            break
    audio = np.concatenate(blocks) if blocks else np.zeros(0, np.float32)
    return audio[:limit] if limit is not None else audio



def cut_short_note(path: os.PathLike | str) -> Optional[str]:
    """A "truncated: ..." line for a file whose container shows it was cut (a WAV whose
    header announces more audio than the file holds, an Ogg stream without its last
    page), else None. Decoders read such files without complaint: libsndfile clamps a
    WAV's length to what is there."""
    path = Path(path)
    if ogg_cut_short(path):
        return "truncated: the stream stops without its last page (a cut download or copy?)"
    lengths = wav_lengths(path)
    if lengths is not None and lengths[0] > lengths[1] + 0.05:
        return (f"truncated: its header announces {lengths[0]:,.1f} s of audio, the file holds "
                f"{lengths[1]:,.1f} s (a cut download or copy?)")
    return None


def wav_lengths(path: os.PathLike | str) -> Optional[tuple[float, float]]:
    """``(announced, held)`` seconds of a PCM-like WAV file: what its ``data`` chunk header
    announces and what the file holds after it; None when it is not a RIFF WAV (or an
    RF64 one, whose lengths live elsewhere) or its header cannot be read."""
    if Path(path).suffix.lower() not in (".wav", ".wave"):
        return None
    try:
        with open_regular(path) as handle:
            size = os.fstat(handle.fileno()).st_size
            head = handle.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None
            byte_rate = 0
            for _ in range(64):  # a WAV has a handful of chunks before its audio
                chunk = handle.read(8)
                if len(chunk) < 8:
                    return None
                kind, length = chunk[:4], struct.unpack("<I", chunk[4:])[0]
                if kind == b"fmt " and length >= 16:
                    byte_rate = struct.unpack("<I", handle.read(16)[8:12])[0]
                    handle.seek(length - 16 + (length & 1), os.SEEK_CUR)
                elif kind == b"data":
                    if byte_rate <= 0:
                        return None
                    held = max(0, size - handle.tell())
                    return length / byte_rate, min(length, held) / byte_rate
                else:
                    handle.seek(length + (length & 1), os.SEEK_CUR)
    except (OSError, struct.error):
        return None
    return None


def ogg_cut_short(path: os.PathLike | str) -> bool:
    """True for an Ogg file (Vorbis, Opus, FLAC in Ogg) whose stream stops without its
    end-of-stream page: a cut download or copy. Its length then looks normal to every
    decoder (Ogg carries no total length), so this is the only way to tell."""
    path = Path(path)
    if path.suffix.lower() not in (".ogg", ".oga", ".opus"):
        return False
    from mutagen.ogg import OggPage

    try:
        with open_regular(path) as handle:
            first = OggPage(handle)
            last = OggPage.find_last(handle, first.serial, finishing=True)
    except Exception:
        return False
    return last is not None and not last.last
