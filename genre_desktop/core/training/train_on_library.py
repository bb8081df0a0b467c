"""Train a genre model on a person's own library (folders labelled by genre).

``quick`` keeps the bundled network's embedding frozen and fits a new linear genre head
(new genres allowed; a genre the base model knows starts from its head row, which the
regularisation pulls towards, so that few tracks need not teach it from nothing);
``thorough`` starts from that head and fine-tunes the network on augmented slices (all of
it, or for MSD_musicnn all but its frozen front-end).
Validation is by track, stratified by genre, never slices of one track on both sides.
Decoded features are cached per file.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch

from ..engine.audio_io import AudioDecodeError
from ..engine.bundle import BundleMeta, ModelBundle, load_bundle, save_bundle
from ..engine.inference import VERDICTS, Classifier
from ..engine.model import build_model, in_batches
from ..engine.names import match_label
from ..engine.registry import feature_cache_folder, resolve_model
from ..engine.safe_files import check_writable, fault_point
from ..engine.tasks import ProgressCallback, StopCallback, check_stop, no_progress, scaled
from ..engine.verdict import fit_slices, silent_slices, softmax
from .evaluation import ConfusionReport, confusion_report
from .feature_cache import FeatureCache
from .fine_tune import FineTuneOptions, History, TrackData, train_network
from .heads import fit_standardised_head
from .honesty import audible_only, cross_validated_accuracy, cross_validated_temperature, model_openset
from .library_scan import LibraryScan
from .splits import grouped_stratified_split

log = logging.getLogger(__name__)


# thorough mode's peak learning rate per base architecture: the pretrained MSD_musicnn
# mid-end overfits a small library at 1e-3 (Emotify, 20 tracks/genre: 73.8 % vs 81.2 % for
# quick mode on the same draw)
FINE_TUNE_LR = {"genre_cnn": 1e-3, "musicnn_genre": 1e-4}


@dataclass
class TrainOptions:
    mode: str = "quick"  # "quick" or "thorough"
    epochs: Optional[int] = None  # thorough mode; default 8
    lr: Optional[float] = None  # thorough mode; default: the base architecture's FINE_TUNE_LR
    seed: int = 0
    val_fraction: float = 0.25
    l2: float = 0.1  # on standardised features
    # a genre the base model knows (same name, ignoring case, spaces and punctuation)
    # starts from the base's head row, and the L2 penalty pulls it there rather than to zero
    reuse_known_genres: bool = True


@dataclass
class WrongTrack:
    path: Path
    truth: str
    predicted: str
    confidence: float
    verdict: str = "genre"


@dataclass
class TrainOutcome:
    path: Path
    report: ConfusionReport
    history: History
    wrong: list[WrongTrack] = field(default_factory=list)
    seconds: dict = field(default_factory=dict)
    validated: bool = True  # False when the library was too small to hold tracks out
    known_genres: list[str] = field(default_factory=list)  # started from the base model's head
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # files that failed after the scan
    replaced: bool = False  # a model of this name existed: it is now the backup
    validation_paths: list[Path] = field(default_factory=list)  # the tracks the report is about
    verdicts: dict = field(default_factory=dict)  # validation tracks per verdict ("genre", "unsure", ...)
    calibration: dict = field(default_factory=dict)  # temperature, ECE before/after (held-out training folds)
    cross_validated: Optional[dict] = None  # small libraries: k-fold accuracy over all tracks (mean, spread)


MIN_TRUSTED_VALIDATION = 10  # fewer held-out tracks than this: the accuracy is an anecdote
SMALL_LIBRARY = 200  # up to this many tracks, quick mode also cross-validates over all of them


def trust_warnings(outcome: "TrainOutcome") -> list[str]:
    """What a person should know before relying on a trained model, one line each."""
    report, n_labels = outcome.report, len(outcome.report.labels)
    out = []
    if not outcome.validated:
        out.append("no tracks could be held out, so the accuracy is on training tracks: it says little")
    elif report.total < MIN_TRUSTED_VALIDATION:
        cv = outcome.cross_validated
        steadier = (f" (cross-validated over all {cv['tracks']} tracks: {cv['mean']:.0%} \u00b1 {cv['spread']:.0%})"
                    if cv else "")
        out.append(f"the accuracy rests on only {report.total} held-out tracks{steadier}: add music to trust it")
    best_estimate = outcome.cross_validated["mean"] if outcome.cross_validated else report.accuracy
    if outcome.validated and best_estimate <= 1.0 / max(n_labels, 1):
        out.append(f"{best_estimate:.0%} is no better than guessing among {n_labels} genres: "
                   "this model should not be used")
    return out


def slice_embeddings(model, mel: np.ndarray, slice_frames: int) -> np.ndarray:
    """What the genre head sees for each of a track's slices, shape (n_slices, embedding)."""
    slices, _ = fit_slices(np.asarray(mel, np.float32), slice_frames)
    return in_batches(model.features, slices).numpy()


def audible_slices(mel: np.ndarray, slice_frames: int) -> np.ndarray:
    """(n_slices,) bool: which of a track's slices count in the vote (the app's rule)."""
    return ~silent_slices(fit_slices(np.asarray(mel, np.float32), slice_frames)[0])


def match_known_genres(base_labels: list[str], labels: list[str]) -> dict[str, int]:
    """``{label: index in base_labels}`` for the ``labels`` the base model knows."""
    return {label: base_labels.index(match) for label in labels
            if (match := match_label(label, base_labels)) is not None}


def known_genre_prior(base_labels: list[str], head: torch.nn.Linear,
                      labels: list[str]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The base head's rows for the ``labels`` it knows, zeros for new ones.

    Returns
    -------
    weight : (len(labels), d), bias : (len(labels),), known : the labels found in the base
    """
    matches = match_known_genres(base_labels, labels)
    weight = np.zeros((len(labels), head.in_features), np.float32)
    bias = np.zeros(len(labels), np.float32)
    for k, label in enumerate(labels):
        if label in matches:
            weight[k] = head.weight[matches[label]].detach().numpy()
            bias[k] = float(head.bias[matches[label]].detach())
    return weight, bias, list(matches)


def train_on_library(scan: LibraryScan, name: str, options: TrainOptions = TrainOptions(),
                     base_model: Optional[str] = None, dest: Optional[Path] = None,
                     cache: Optional[FeatureCache] = None,
                     progress: ProgressCallback = no_progress,
                     should_stop: Optional[StopCallback] = None,
                     on_epoch: Optional[Callable[[History], None]] = None) -> TrainOutcome:
    """Train, validate and save a new bundle; returns where it went and how it did.

    A file that vanished, changed into something unreadable or holds NaN audio since the
    scan is skipped with a warning (``TrainOutcome.skipped``).

    Raises
    ------
    ValueError
        When the library cannot train (fewer than two genres with readable tracks), or
        the model name is not valid.
    OSError
        When the models folder cannot be written to (checked before any work).
    Cancelled
        ``should_stop()`` returned True; nothing is written.
    BundleError
        The base model cannot be loaded, or training produced a model that would not load
        (non-finite weights): nothing is written.
    """
    problem = scan.blocking_problem()
    if problem:
        raise ValueError(problem)
    if dest is None:
        from ..engine.registry import user_model_path

        dest = user_model_path(name)  # validates the name: it becomes a folder
    unwritable = check_writable(dest.parent, "models folder")
    if unwritable:
        raise PermissionError(unwritable)
    t0 = time.perf_counter()
    base = load_bundle(resolve_model(base_model))
    cfg = base.features
    cache = cache or FeatureCache(feature_cache_folder())
    # 1. features (cached per file); a file that fails now is skipped, as the scan would
    decode_progress = scaled(progress, 0.0, 0.4)
    tracks, mels, skipped = [], [], []
    for i, track in enumerate(scan.tracks):
        check_stop(should_stop)
        decode_progress(i / len(scan.tracks), f"reading {track.path.name}")
        try:
            mels.append(cache.get(track.path, cfg))
        except (AudioDecodeError, OSError) as exc:
            reason = str(exc) if isinstance(exc, AudioDecodeError) else (exc.strerror or str(exc))
            log.warning("skipped %s: %s", track.path, reason)
            skipped.append((track.path, reason))
            continue
        tracks.append(track)
        fault_point("train:decoding")
    if skipped:
        scan = LibraryScan(tracks, scan.unreadable + skipped, scan.duplicates)
        problem = scan.blocking_problem()
        if problem:
            raise ValueError(f"{problem} ({len(skipped)} file(s) could not be read any more)")
    labels = scan.genres
    y = np.array([labels.index(t.genre) for t in scan.tracks])
    t_features = time.perf_counter() - t0
    # 2. split by track
    if options.val_fraction > 0:
        train_idx, val_idx = grouped_stratified_split([t.genre for t in scan.tracks],
                                                      [t.split_group for t in scan.tracks],
                                                      options.val_fraction, seed=options.seed)
    else:  # the caller evaluates on tracks of its own
        train_idx, val_idx = np.arange(len(scan.tracks)), np.zeros(0, int)
    validated = len(val_idx) > 0
    # 3. a network with the base's embedding and a new head
    model = build_model(base.meta["architecture"], len(labels), len(base.tags))
    state = {k: v for k, v in base.model.state_dict().items() if not k.startswith("head.")}
    model.load_state_dict(state, strict=False)
    model.eval()
    # 4. the new head on frozen features (every track's computed once; quick mode also
    # validates from them, so the network runs over each track only once)
    eval_idx = val_idx if validated else train_idx
    needed = list(train_idx) + ([] if options.mode == "thorough" else list(val_idx))
    feats: dict[int, np.ndarray] = {}
    span = 0.1 if options.mode == "thorough" else 0.5  # the bulk of quick mode's time
    for n, i in enumerate(needed):
        check_stop(should_stop)
        progress(0.4 + span * n / len(needed), f"listening to {scan.tracks[i].path.name}")
        feats[i] = slice_embeddings(model, mels[i], cfg.slice_frames)
    progress(0.4 + span, "fitting the genre head")
    fault_point("train:fitting")
    x = np.concatenate([feats[i] for i in train_idx])
    ys = np.concatenate([[y[i]] * len(feats[i]) for i in train_idx])
    prior_w, prior_b, known = (known_genre_prior(base.labels, base.model.head, labels)
                               if options.reuse_known_genres else (None, None, []))
    if known:
        log.info("genres the base model knows, starting from its head: %s", ", ".join(known))
    weight, bias = fit_standardised_head(x, ys, len(labels), options.l2, should_stop=should_stop,
                                         prior=(prior_w, prior_b) if known else None)
    with torch.no_grad():
        model.head.weight.copy_(torch.from_numpy(weight))
        model.head.bias.copy_(torch.from_numpy(bias))
    history = History()
    if options.mode == "thorough":
        epochs = options.epochs or 8
        train = [TrackData(mels[i], int(y[i])) for i in train_idx]
        val = [TrackData(mels[i], int(y[i])) for i in val_idx]
        lr = options.lr or FINE_TUNE_LR.get(base.meta["architecture"]["name"], 1e-3)
        fine_tune_options = FineTuneOptions(epochs=epochs, lr=lr, seed=options.seed, patience=epochs,
                                         slice_frames=cfg.slice_frames, batch_size=32)
        model, history = train_network(train, val, len(labels), len(base.tags), fine_tune_options,
                                       model=model, progress=scaled(progress, 0.5, 0.95),
                                       should_stop=should_stop, on_epoch=on_epoch)
    check_stop(should_stop)
    # 5. honest answers, from the training tracks only: open-set statistics, a temperature
    progress(0.93, "learning what your genres sound like")
    if options.mode == "thorough":  # fine-tuning moved the embedding: look again
        feats = {i: slice_embeddings(model, mels[i], cfg.slice_frames) for i in set(train_idx) | set(eval_idx)}
    audible = {i: audible_slices(mels[i], cfg.slice_frames) for i in feats}
    train_slices = audible_only([feats[i] for i in train_idx], [audible[i] for i in train_idx])
    openset = model_openset(train_slices, y[train_idx], base.openset, backbone_changed=options.mode == "thorough")
    calibration = cross_validated_temperature([feats[i] for i in train_idx], [audible[i] for i in train_idx],
                                              y[train_idx], len(labels), options.l2,
                                              prior=(prior_w, prior_b) if known else None)
    # a small library: k-fold cross-validation over all its tracks says more than one tiny split
    cv_accuracy = None
    if options.mode == "quick" and len(scan.tracks) <= SMALL_LIBRARY:
        every = sorted(feats)
        cv_accuracy = cross_validated_accuracy([feats[i] for i in every], [audible[i] for i in every],
                                               y[every], len(labels), options.l2,
                                               prior=(prior_w, prior_b) if known else None)
    # 6. validate by track, through the app's own verdict path (the in-memory bundle)
    progress(0.95, "validating")
    meta_draft = {"thresholds": base.thresholds, "calibration": calibration}
    bundle = ModelBundle(dest, meta_draft, model, labels, cfg, base.tags, openset)
    classifier = Classifier(bundle)
    weight_now = model.head.weight.detach().numpy()
    bias_now = model.head.bias.detach().numpy()
    truth, predicted, wrong, verdicts = [], [], [], []
    for i in eval_idx:
        check_stop(should_stop)
        slice_probs = softmax(feats[i] @ weight_now.T + bias_now)
        result = classifier.verdict(str(scan.tracks[i].path), scan.tracks[i].duration,
                                    np.zeros(len(slice_probs), int), slice_probs, ~audible[i],
                                    embeddings=feats[i])
        truth.append(labels[y[i]])
        predicted.append(result.closest or "(silence)")
        verdicts.append(result.verdict)
        if result.closest != labels[y[i]]:
            wrong.append(WrongTrack(scan.tracks[i].path, labels[y[i]], result.closest or "(silence)",
                                    result.confidence, result.verdict))
    report = confusion_report(truth, predicted, labels)
    verdict_counts = {v: verdicts.count(v) for v in VERDICTS if v in verdicts}
    seconds = {"features": t_features, "total": time.perf_counter() - t0}
    meta = BundleMeta(
        name=name, version="1", architecture=base.meta["architecture"], labels=labels, tags=base.tags,
        features=cfg, thresholds=base.thresholds, extra={"calibration": calibration,
                                                         "openset": openset.meta()},
        provenance={"base_model": base.name, "mode": options.mode, "known_genres": known,
                    "library": ", ".join(f"{g} {n}" for g, n in scan.counts().items()),
                    "validation": f"{len(val_idx)} tracks held out by track, stratified"
                    if validated else "none (library too small): accuracy is on training tracks"},
        metrics={"validation_track_accuracy": report.accuracy,
                 "balanced_accuracy": report.balanced_accuracy(),
                 "recall": report.recall(), "train_tracks": int(len(train_idx)),
                 "validation_tracks": int(len(val_idx)), "seconds": round(seconds["total"], 1),
                 "validation_verdicts": verdict_counts,
                 **({"cross_validated_accuracy": [cv_accuracy["mean"], cv_accuracy["spread"]]}
                    if cv_accuracy else {})})
    check_stop(should_stop)
    fault_point("train:before-save")
    replaced = dest.exists()
    path = save_bundle(dest, model, meta, base=base, openset=openset)  # weights left as in the base are referenced
    progress(1.0, f"saved {name}")
    return TrainOutcome(path, report, history, wrong, seconds, validated, known, skipped, replaced,
                        [scan.tracks[i].path for i in eval_idx], verdict_counts, calibration, cv_accuracy)
