"""The classifier: a model bundle run over audio, 2.5-s slices batched through the network
and voted into a :class:`~.result.TrackResult`."""
from __future__ import annotations

import logging
import math
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Optional

import numpy as np

from genre_desktop.core.engine.audio.decode import AudioDecodeError, audio_info, check_finite, cut_short_note, iter_audio_blocks
from genre_desktop.core.engine.models.bundle import ModelBundle
from genre_desktop.core.engine.audio.features import StreamingLogMel, log_mel
from genre_desktop.core.engine.models.openset import slice_dispersion
from genre_desktop.core.engine.classify.fast_path import EarlyLook, borderline
from genre_desktop.core.engine.classify.result import SliceResult, TrackResult
from genre_desktop.core.engine.classify.slice_runs import SliceRuns
from genre_desktop.core.engine.classify.sound_tagger import (WindowPicker, music_probability_of, music_verdict, taught_genres,
                                                             windows_of)
from genre_desktop.core.engine.classify.verdicts import GENRE_VERDICTS, Verdict, reason_text
from genre_desktop.core.tasks import Cancelled, ProgressCallback, StopCallback, no_progress
from genre_desktop.core.engine.classify.calibration import apply_temperature, temperature_for
from genre_desktop.core.engine.network.threads import network_threads
from genre_desktop.core.engine.classify.verdict import StreamingSlicer, fit_slices, hedge, silent_slices, softmax, vote

log = logging.getLogger(__name__)

MIN_TAG_PROB = 0.15
#: with a pipelined network (see Classifier), audio is decoded in blocks this long (seconds)
PIPELINE_BLOCK_SECONDS = 10.0


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """The logistic function, without overflow for large logits."""
    return (0.5 * (1.0 + np.tanh(0.5 * logits))).astype(np.float32)


def truncation_note(decoded: float, announced: float) -> Optional[str]:
    """A line for a file that holds less audio than its header announces (a cut or damaged
    download), or None. A second, or 5 %, of slack: headers round."""
    if announced > 0 and decoded < announced - max(1.0, 0.05 * announced):
        return f"truncated: {decoded:.1f} s of audio where its header announces {announced:.1f} s"
    return None


class _PooledFrames:
    """Collects log-mel frames, mean-pooled ``factor`` at a time, as float16."""

    def __init__(self, n_mels: int, factor: int):
        self.factor = factor
        self.parts: list[np.ndarray] = []
        self.carry = np.zeros((n_mels, 0), np.float32)

    def add(self, frames: np.ndarray) -> None:
        buf = np.concatenate([self.carry, frames], axis=1) if self.carry.shape[1] else frames
        usable = (buf.shape[1] // self.factor) * self.factor
        if usable:
            pooled = buf[:, :usable].reshape(buf.shape[0], -1, self.factor).mean(axis=2)
            self.parts.append(pooled.astype(np.float16))
        self.carry = buf[:, usable:]

    def finish(self) -> np.ndarray:
        if self.carry.shape[1]:
            self.parts.append(self.carry.mean(axis=1, keepdims=True).astype(np.float16))
        return np.concatenate(self.parts, axis=1) if self.parts else self.carry.astype(np.float16)


class _FileRun:
    """What classifying one file holds while its blocks are decoded: the log-mel stream,
    the slicer, the network runs (:class:`.slice_runs.SliceRuns`), the sound tagger's
    windows and the kept spectrogram."""

    def __init__(self, classifier: "Classifier", path: Path, slice_step: int, spectrogram_columns: Optional[int]):
        cfg = classifier.config
        self.classifier, self.path, self.config = classifier, path, cfg
        self.info = audio_info(path)
        self.stream = StreamingLogMel(cfg)
        self.slicer = StreamingSlicer(cfg.n_mels, cfg.slice_frames)
        self.kept = _PooledFrames(cfg.n_mels, 1 if not spectrogram_columns else
                                  max(1, math.ceil((self.info.duration * cfg.frames_per_second + 1) / spectrogram_columns)))
        self.decoded = 0  # samples at the model's rate
        one_block = 0 < self.info.duration <= PIPELINE_BLOCK_SECONDS  # one block: nothing to overlap
        self.executor = (ThreadPoolExecutor(1, thread_name_prefix="network")
                         if classifier.pipelined and not one_block else None)
        self.runs = SliceRuns(classifier.predict_slices, slice_step, self.executor)
        self.early = EarlyLook(self.runs, self.vote, classifier.borderline)
        self.picker = WindowPicker(cfg.sample_rate)  # the sound tagger's windows
        self.p_music: Optional[float] = None  # ... and their P(Music), once all are in

    @property
    def block_seconds(self) -> float:
        return PIPELINE_BLOCK_SECONDS if self.executor is not None else 30.0

    def vote(self) -> TrackResult:
        """The verdict of the slices whose network outputs are in."""
        return self.classifier.verdict(str(self.path), self.decoded / self.config.sample_rate,
                                       *self.runs.timeline(), music_probability=self.p_music)

    def push(self, block: np.ndarray, keep_spectrogram: bool, audio_digest) -> None:
        """One decoded block: into the digest, the tagger's windows, the slices and the network."""
        self.decoded += block.size
        self.picker.push(block)
        if audio_digest is not None:
            audio_digest.update(block.tobytes())
        frames = self.stream.push(block)
        if keep_spectrogram:
            self.kept.add(frames)
        self.runs.add(*self.slicer.push(frames))
        self.early.look()

    def finish(self, keep_spectrogram: bool) -> TrackResult:
        """The last slices, the sound tagger's say and the verdict (all slices when borderline)."""
        tail = self.stream.finish()
        if keep_spectrogram:
            self.kept.add(tail)
        if self.decoded == 0:
            raise AudioDecodeError("no audio in this file")
        self.runs.add(*self.slicer.push(tail))
        self.runs.add(*self.slicer.finish())
        self.runs.collect()
        self.p_music = music_probability_of(self.classifier, self.picker.windows())
        return self.early.settle()

    def close(self) -> None:
        if self.executor is not None:  # a cancel or a decode error: no network work left behind
            self.executor.shutdown(wait=True, cancel_futures=True)


class Classifier:
    """Runs a :class:`ModelBundle` over audio.

    Parameters
    ----------
    bundle : ModelBundle
    batch_size : int
        Slices per forward pass.
    runtime : {"torch", "auto"}
        "auto": ONNX Runtime when its outputs agree with torch's (:mod:`.onnx_runtime`).
    pipelined : bool, optional
        Whether :meth:`classify_file` runs the network in a thread of its own while the
        next block is decoded (None: when the network has more than one thread; a library
        worker process has one, and gains nothing from a second thread on its core).
    """

    def __init__(self, bundle: ModelBundle, batch_size: int = 64, runtime: str = "torch",
                 pipelined: Optional[bool] = None):
        self.bundle = bundle
        self.config = bundle.features
        self.batch_size = batch_size
        self.pipelined = network_threads() > 1 if pipelined is None else pipelined
        self.network = None  # an onnx_runtime.OnnxNetwork, when runtime="auto" found one that agrees
        if runtime == "auto":
            from genre_desktop.core.engine.network.onnx_runtime import onnx_network
            from genre_desktop.core.paths import onnx_cache_folder

            # a cached graph needs no torch network; without one, build the network and export
            self.network = onnx_network(bundle, onnx_cache_folder())
            if self.network is None and bundle.network is None:
                self.bundle = bundle = bundle.with_network()
                self.network = onnx_network(bundle, onnx_cache_folder())
        elif bundle.network is None:
            self.bundle = bundle.with_network()

    @property
    def runtime(self) -> str:
        """"onnxruntime" or "torch": what runs the network."""
        return "onnxruntime" if self.network is not None else "torch"

    @property
    def labels(self) -> list[str]:
        return self.bundle.labels

    def predict_slices(self, slices: np.ndarray) -> tuple[np.ndarray, Optional[np.ndarray], np.ndarray]:
        """Class and tag probabilities of slices, and what the genre head saw.

        Parameters
        ----------
        slices : numpy.ndarray, shape (n, n_mels, slice_frames)

        Returns
        -------
        probs : (n, n_labels) float32
        tag_probs : (n, n_tags) float32, or None when the model has no tags
        embeddings : (n, d) float32, the head's input (``model.features``)
        """
        probs, tags, embs = [], [], []
        run = self.network if self.network is not None else self._torch_network
        for i in range(0, len(slices), self.batch_size):
            logits, tag_logits, emb = run(np.ascontiguousarray(slices[i:i + self.batch_size], np.float32))
            probs.append(softmax(logits).astype(np.float32))
            embs.append(emb)
            if tag_logits is not None:
                tags.append(sigmoid(tag_logits))
        n_labels = len(self.labels)
        probs_arr = np.concatenate(probs) if probs else np.zeros((0, n_labels), np.float32)
        emb_arr = np.concatenate(embs) if embs else np.zeros((0, 0), np.float32)
        return probs_arr, (np.concatenate(tags) if tags else None), emb_arr

    def _torch_network(self, batch: np.ndarray) -> tuple[np.ndarray, Optional[np.ndarray], np.ndarray]:
        import torch

        with torch.inference_mode():
            logits, tag_logits, emb = self.bundle.network(torch.from_numpy(batch))
        return logits.numpy(), (None if tag_logits is None else tag_logits.numpy()), emb.numpy()

    def classify_audio(self, audio: np.ndarray, path: str = "<audio>") -> TrackResult:
        """Classify mono audio at the model's sample rate, shape (n_samples,)."""
        mel = log_mel(check_finite(np.asarray(audio, np.float32)), self.config)
        slices, starts = fit_slices(mel, self.config.slice_frames)
        silent = silent_slices(slices)
        probs, tags, embs = self.predict_slices(slices)
        return self.verdict(path, len(audio) / self.config.sample_rate, starts, probs, silent, tags, embs,
                            music_probability=music_probability_of(self, windows_of(audio, self.config.sample_rate)))

    def classify_file(self, path: os.PathLike | str, progress: ProgressCallback = no_progress,
                      should_stop: Optional[StopCallback] = None,
                      keep_spectrogram: bool = False,
                      spectrogram_columns: Optional[int] = None,
                      audio_digest=None, slice_step: int = 1) -> TrackResult:
        """Decode and classify a file block by block (memory stays bounded for long files).

        With ``keep_spectrogram`` the result carries the log-mel spectrogram, mean-pooled in
        time as it is decoded to at most ``spectrogram_columns`` columns (None: every frame).
        ``audio_digest`` (a :mod:`hashlib` object) is fed the decoded samples (float32 at the
        model's rate): the library's fingerprint of a file's audio. ``slice_step`` > 1 runs
        the network on every ``slice_step``-th slice only (the first always): the batch
        fast path (:mod:`.fast_path`), whose verdict agrees with the full timeline's on
        nearly every track: when that verdict is :meth:`borderline`, the other slices (kept,
        float16) run too and decide; a verdict that is borderline after
        ``FAST_EARLY_SLICES`` slices runs them from then on, while the rest decodes. The
        timeline then holds the slices that ran.

        Raises
        ------
        AudioDecodeError
            The file cannot be decoded, or holds no audio.
        Cancelled
            ``should_stop()`` returned True.
        """
        path = Path(path)
        run = _FileRun(self, path, slice_step, spectrogram_columns)
        rate, duration = self.config.sample_rate, run.info.duration
        try:
            for block in iter_audio_blocks(path, rate, run.block_seconds):
                if should_stop is not None and should_stop():
                    raise Cancelled(f"cancelled: {path.name}")
                run.push(block, keep_spectrogram, audio_digest)
                if duration > 0:
                    progress(min(run.decoded / rate / duration, 1.0), path.name)
            result = run.finish(keep_spectrogram)
        finally:
            run.close()
        if keep_spectrogram:
            result.spectrogram, result.spectrogram_factor = run.kept.finish(), run.kept.factor
        note = truncation_note(run.decoded / rate, duration) or cut_short_note(path)
        if note:
            result.notes.append(note)
        return result

    def borderline(self, result: TrackResult) -> bool:
        """Whether a verdict from a subset of slices is close enough to one of the lines
        (confidence, agreement, the open-set thresholds) that all slices should decide
        (:func:`.fast_path.borderline` with this bundle's thresholds)."""
        return borderline(result, self.bundle.thresholds)

    def verdict(self, path: str, duration: float, starts: np.ndarray, probs: np.ndarray,
                silent: np.ndarray, tag_probs: Optional[np.ndarray] = None,
                embeddings: Optional[np.ndarray] = None, music_probability: Optional[float] = None) -> TrackResult:
        """Vote slice probabilities (n_slices, n_labels) into a :class:`TrackResult`.

        The vote is :func:`verdict.vote` over the audible slices, calibrated by the bundle's
        temperature; the open-set test (:mod:`.openset`) reads the mean embedding (n, d) of
        the audible slices.
        """
        cfg = self.config
        labels = self.labels
        seconds = cfg.hop_length / cfg.sample_rate
        audible = ~silent
        slice_results = [
            SliceResult(float(s * seconds), float(min((s + cfg.slice_frames) * seconds, max(duration, 0))),
                        p, None if q else labels[int(np.argmax(p))], bool(q))
            for s, p, q in zip(starts, probs, silent)]
        base = dict(path=path, duration=duration, labels=labels, slices=slice_results,
                    frames_per_second=cfg.frames_per_second)
        if not audible.any():
            return TrackResult(genre=None, confidence=0.0, uncertain=True,
                               probs=np.zeros(len(labels), np.float32), agreement=0.0,
                               reason="no audible signal (silence)", verdict=Verdict.SILENCE, **base)
        n_audible = int(audible.sum())
        track = apply_temperature(vote(probs, audible),
                                  temperature_for(self.bundle.calibration, n_audible))
        best = int(np.argmax(track))
        agreement = float((probs[audible].argmax(axis=1) == best).mean())
        tags: list[tuple[str, float]] = []
        mean_tags = None
        if tag_probs is not None and self.bundle.tags:
            mean_tags = tag_probs[audible].mean(axis=0)
            order = np.argsort(mean_tags)[::-1][:5]
            tags = [(self.bundle.tags[i], float(mean_tags[i])) for i in order if mean_tags[i] >= MIN_TAG_PROB]
        distances: dict = {}
        outlier, steady = None, False
        if self.bundle.openset is not None and embeddings is not None and len(embeddings):
            heard = embeddings[audible]
            dispersion = slice_dispersion(heard)
            outlier, to_genres, to_music = self.bundle.openset.judge(heard.mean(axis=0), len(heard), dispersion)
            steady = self.bundle.openset.steady(dispersion, len(heard))
            distances = {"genre_distance": to_genres, "music_distance": to_music}
        verdict, why = hedge(float(track[best]), agreement, n_audible, outlier, distances.get("genre_distance"),
                             steady, self.bundle.thresholds)
        tagged = music_verdict(verdict, music_probability, steady,  # the sound tagger's say (.sound_tagger)
                               taught=labels[best] in taught_genres(self.bundle.meta))
        if tagged != verdict:
            verdict, why = tagged, (["tagger"] if tagged == Verdict.NOT_MUSIC else why)
        genre = labels[best] if verdict in GENRE_VERDICTS else None
        reason = reason_text(why, verdict, labels, best, float(track[best]), agreement, music_probability)
        return TrackResult(genre=genre, confidence=float(track[best]), uncertain=verdict != Verdict.GENRE,
                           probs=track.astype(np.float32), agreement=agreement, tags=tags,
                           reason=reason, verdict=verdict, closest=labels[best],
                           music_probability=music_probability, **distances, **base,
                           embedding=(embeddings[audible].mean(axis=0).astype(np.float32)
                                      if embeddings is not None and embeddings.ndim == 2 and embeddings.shape[1] else None),
                           tag_probs=None if mean_tags is None else dict(zip(self.bundle.tags, map(float, mean_tags))))
