"""Train a genre model on a person's own library (folders labelled by genre).

``quick`` keeps the bundled network's embedding frozen and fits a linear genre head;
``thorough`` starts from that head and fine-tunes the network on augmented slices (all of
it, or for MSD_musicnn all but its frozen front-end). What the model knows is its scope
(:mod:`.scope`): ``extend`` (the default) keeps the base model's genres and adds or
re-teaches the person's; ``only`` knows the person's genres alone. Validation is by
track, stratified by genre, never slices of one track on both sides; a small library is
also cross-validated over all its tracks (the one figure the wizard shows). Decoded
features are cached per file.

The run is a chain of stages, each a function taking ``progress(fraction, message)`` and
stopping when ``should_stop()``: :func:`prepare_run` (refuse early, read and cache the
features, plan the labels, split), :func:`fit_head` (listen once, fit the genre head),
:func:`refine_network` (thorough mode: fine-tune), :func:`check_model` (the honest answers:
open set, temperature, cross-validation, :mod:`.honesty`; then validation through the
app's verdict path, :mod:`.validation`) and :func:`save_model`. What they share is a
:class:`~.training_run.Run`.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch

from genre_desktop.core.engine.audio.decode import AudioDecodeError
from genre_desktop.core.engine.models.bundle import BundleMeta, ModelBundle, load_bundle, save_bundle
from genre_desktop.core.engine.network.model import build_model, in_batches
from genre_desktop.core.engine.models.registry import resolve_model
from genre_desktop.core.paths import feature_cache_folder
from genre_desktop.core.safe_files import check_writable, fault_point
from genre_desktop.core.tasks import ProgressCallback, StopCallback, check_stop, no_progress, scaled
from genre_desktop.core.engine.classify.verdict import fit_slices, silent_slices
from genre_desktop.core.training.evaluation import ConfusionReport
from genre_desktop.core.training.feature_cache import FeatureCache
from genre_desktop.core.training.fine_tune import FineTuneOptions, History, TrackData, train_network
from genre_desktop.core.training.honesty import hedge_rules, learn_honesty, min_temperature  # noqa: F401 (re-exported)
from genre_desktop.core.training.labelled_folders import LabelledScan
from genre_desktop.core.training.outcome import Estimate, TrainOutcome, WrongTrack, trust_warnings  # noqa: F401 (re-exported)
from genre_desktop.core.training.scope import (SCOPES, LabelPlan, TrainingRefused, extended_openset, fit_scoped_head, head_prior, match_known_genres,  # noqa: F401
                    plan_labels, pseudo_samples)
from genre_desktop.core.training.splits import grouped_stratified_split
from genre_desktop.core.training.training_run import FINE_TUNE_LR, SMALL_LIBRARY, Run, TrainOptions  # noqa: F401
from genre_desktop.core.training.validation import model_meta, validate

log = logging.getLogger(__name__)


def slice_embeddings(model, mel: np.ndarray, slice_frames: int) -> np.ndarray:
    """What the genre head sees for each of a track's slices, shape (n_slices, embedding)."""
    slices, _ = fit_slices(np.asarray(mel, np.float32), slice_frames)
    return in_batches(model.features, slices).numpy()


def audible_slices(mel: np.ndarray, slice_frames: int) -> np.ndarray:
    """(n_slices,) bool: which of a track's slices count in the vote (the app's rule)."""
    return ~silent_slices(fit_slices(np.asarray(mel, np.float32), slice_frames)[0])


def check_destination(scan: LabelledScan, name: str, dest: Optional[Path]) -> Path:
    """Where the model will go, refused before any work (library, name, writable folder)."""
    problem = scan.blocking_problem()
    if problem:
        raise TrainingRefused(problem)
    if dest is None:
        from genre_desktop.core.engine.models.registry import user_model_path

        dest = user_model_path(name)  # validates the name: it becomes a folder
    unwritable = check_writable(dest.parent, "models folder")
    if unwritable:
        raise PermissionError(unwritable)
    return dest


def read_features(scan: LabelledScan, cfg, cache: FeatureCache, progress: ProgressCallback,
                  should_stop: Optional[StopCallback]) -> tuple[LabelledScan, list, list]:
    """Each track's log-mel (cached per file); a file that fails now is skipped, as the
    scan would. Returns the scan of the tracks read, their log-mels, the skipped files."""
    tracks, mels, skipped = [], [], []
    for i, track in enumerate(scan.tracks):
        check_stop(should_stop)
        progress(i / len(scan.tracks), f"reading {track.path.name}")
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
        scan = LabelledScan(tracks, scan.unreadable + skipped, scan.duplicates)
        problem = scan.blocking_problem()
        if problem:
            raise TrainingRefused(f"{problem} ({len(skipped)} file(s) could not be read any more)")
    return scan, mels, skipped


def split_tracks(scan: LabelledScan, options: TrainOptions) -> tuple[np.ndarray, np.ndarray]:
    """Train and validation indices by track (none held out with ``val_fraction`` 0)."""
    if options.val_fraction > 0:
        return grouped_stratified_split([t.genre for t in scan.tracks], [t.split_group for t in scan.tracks],
                                        options.val_fraction, seed=options.seed)
    return np.arange(len(scan.tracks)), np.zeros(0, int)  # the caller evaluates on tracks of its own


def refuse_moving_kept_genres(plan: LabelPlan, options: TrainOptions) -> None:
    """Thorough fine-tuning on the person's tracks alone would move the embedding the kept
    bundled genres are read from: refused for an ``extend`` model that keeps any."""
    if options.mode == "thorough" and plan.scope == "extend" and plan.kept:
        raise TrainingRefused(f"thorough mode fine-tunes the network on your tracks alone, which would change the "
                         f"{len(plan.kept)} genres of the base model you did not supply: use quick mode to add "
                         "your genres, or train only your genres")


def listen(run: Run, model, indices, progress: ProgressCallback) -> dict[int, np.ndarray]:
    """``{track: slice embeddings}`` for the tracks at ``indices`` (the network runs once per track)."""
    feats = {}
    for n, i in enumerate(indices):
        check_stop(run.should_stop)
        progress(n / max(len(indices), 1), f"listening to {run.scan.tracks[i].path.name}")
        feats[i] = slice_embeddings(model, run.mels[i], run.base.features.slice_frames)
    return feats


def new_model(base: ModelBundle, n_labels: int):
    """A network with the base's embedding and an untrained head of ``n_labels`` rows."""
    model = build_model(base.meta["architecture"], n_labels, len(base.tags))
    model.load_state_dict({k: v for k, v in base.network.state_dict().items() if not k.startswith("head.")},
                          strict=False)
    return model.eval()


def set_head(model, weight: np.ndarray, bias: np.ndarray) -> None:
    with torch.no_grad():
        model.head.weight.copy_(torch.from_numpy(weight))
        model.head.bias.copy_(torch.from_numpy(bias))


def fine_tune(run: Run, model, progress: ProgressCallback, on_epoch) -> tuple[object, History]:
    """Thorough mode: fine-tune the network (started from the fitted head) on augmented slices."""
    epochs = run.options.epochs or 8
    tracks = lambda idx: [TrackData(run.mels[i], int(run.y[i])) for i in idx]
    lr = run.options.lr or FINE_TUNE_LR.get(run.base.meta["architecture"]["name"], 1e-3)
    options = FineTuneOptions(epochs=epochs, lr=lr, seed=run.options.seed, patience=epochs,
                              slice_frames=run.base.features.slice_frames, batch_size=32)
    return train_network(tracks(run.train_idx), tracks(run.val_idx), len(run.plan.labels), len(run.base.tags),
                         options, model=model, progress=progress, should_stop=run.should_stop, on_epoch=on_epoch)


def prepare_run(scan: LabelledScan, name: str, options: TrainOptions, base_model: Optional[str],
                dest: Optional[Path], cache: Optional[FeatureCache], progress: ProgressCallback,
                should_stop: Optional[StopCallback]) -> tuple[Run, Path, list]:
    """Stage 1: refuse what cannot train before any work (destination, scope and mode),
    read each track's features (cached per file), plan the labels, split the tracks.

    Returns the run, where the model will go, and the files skipped since the scan."""
    dest = check_destination(scan, name, dest)
    base = load_bundle(resolve_model(base_model))
    refuse_moving_kept_genres(plan_labels(base.labels, scan.genres, options.scope, options.reuse_known_genres), options)
    cache = cache or FeatureCache(feature_cache_folder())
    scan, mels, skipped = read_features(scan, base.features, cache, progress, should_stop)
    plan = plan_labels(base.labels, scan.genres, options.scope, options.reuse_known_genres)
    train_idx, val_idx = split_tracks(scan, options)
    run = Run(scan, base, plan, options, mels, np.array([plan.index[t.genre] for t in scan.tracks]),
              train_idx, val_idx, should_stop)
    if plan.known:
        log.info("genres the base model knows, starting from its head: %s", ", ".join(plan.known))
    return run, dest, skipped


def fit_head(run: Run, progress: ProgressCallback) -> tuple[object, dict]:
    """Stage 2: a network with the base's embedding listens to each track once (quick mode
    validates from the same embeddings) and the genre head is fitted on the training ones.

    Returns the network and ``{track: slice embeddings}``."""
    model = new_model(run.base, len(run.plan.labels))
    needed = list(run.train_idx) + ([] if run.thorough else list(run.val_idx))
    feats = listen(run, model, needed, progress)
    progress(1.0, "fitting the genre head")
    fault_point("train:fitting")
    set_head(model, *run.head_fitter()([feats[i] for i in run.train_idx], run.y[run.train_idx]))
    return model, feats


def refine_network(run: Run, model, progress: ProgressCallback,
                   on_epoch: Optional[Callable[[History], None]]) -> tuple[object, History, dict]:
    """Stage 3 (thorough mode): fine-tune the network on augmented slices, then listen again
    with it to the tracks the later stages read. ``progress`` is the whole run's (this stage
    spans 0.5 to 0.95 of it). Returns the network, its history and the new embeddings."""
    model, history = fine_tune(run, model, scaled(progress, 0.5, 0.95), on_epoch)
    check_stop(run.should_stop)
    progress(0.93, "looking again with the fine-tuned network")
    feats = listen(run, model, sorted(set(run.train_idx) | set(run.eval_idx)), no_progress)
    return model, history, feats


@dataclass
class Checked:
    """What stage 4 found: the honest answers learnt and the validation through the app."""

    openset: object
    calibration: dict
    cv: Optional[dict]
    report: ConfusionReport
    wrong: list = field(default_factory=list)
    verdict_counts: dict = field(default_factory=dict)


def check_model(run: Run, model, dest: Path, feats: dict, progress: ProgressCallback) -> Checked:
    """Stage 4: learn the honest answers from the training tracks only (open set,
    temperature, cross-validation: :func:`.honesty.learn_honesty`), then run each evaluation
    track through the app's own verdict path with the model as it will be saved
    (:func:`.validation.validate`). ``progress`` is the whole run's (0.93 to 0.95)."""
    check_stop(run.should_stop)
    progress(0.93, "learning what your genres sound like")
    audible = {i: audible_slices(run.mels[i], run.base.features.slice_frames) for i in feats}
    openset, calibration, cv = learn_honesty(run, feats, audible)
    progress(0.95, "validating")
    draft = ModelBundle(dest, {"thresholds": hedge_rules(run), "calibration": calibration}, model, run.plan.labels,
                        run.base.features, run.base.tags, openset)
    report, wrong, verdict_counts = validate(run, draft, feats, audible)
    return Checked(openset, calibration, cv, report, wrong, verdict_counts)


def save_model(run: Run, dest: Path, model, meta: BundleMeta, openset, name: str,
               progress: ProgressCallback) -> tuple[Path, bool]:
    """Stage 5: write the bundle (weights left as in the base are referenced, not copied).
    Returns where it went and whether it replaced a model of that name."""
    check_stop(run.should_stop)
    fault_point("train:before-save")
    replaced = dest.exists()
    path = save_bundle(dest, model, meta, base=run.base, openset=openset)
    progress(1.0, f"saved {name}")
    return path, replaced


def train_on_library(scan: LabelledScan, name: str, options: TrainOptions = TrainOptions(),
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
    TrainingRefused
        (a ``ValueError`` too) When the library cannot train (fewer than two genres with readable tracks), the
        model name or scope is not valid, or thorough mode would move kept genres.
    OSError
        When the models folder cannot be written to (checked before any work).
    Cancelled
        ``should_stop()`` returned True; nothing is written.
    BundleError
        The base model cannot be loaded, or training produced a model that would not load
        (non-finite weights): nothing is written.
    """
    t0 = time.perf_counter()
    run, dest, skipped = prepare_run(scan, name, options, base_model, dest, cache, scaled(progress, 0.0, 0.4),
                                     should_stop)
    t_features = time.perf_counter() - t0
    span = 0.1 if run.thorough else 0.5  # listening is the bulk of quick mode's time
    model, feats = fit_head(run, scaled(progress, 0.4, 0.4 + span))
    history = History()
    if run.thorough:
        model, history, feats = refine_network(run, model, progress, on_epoch)
    checked = check_model(run, model, dest, feats, progress)
    seconds = {"features": t_features, "total": time.perf_counter() - t0}
    meta = model_meta(run, name, checked.report, checked.openset, checked.calibration, checked.cv,
                      checked.verdict_counts, seconds["total"])
    path, replaced = save_model(run, dest, model, meta, checked.openset, name, progress)
    plan, scan = run.plan, run.scan
    return TrainOutcome(path, checked.report, history, checked.wrong, seconds, len(run.val_idx) > 0, plan.known,
                        skipped, replaced, [scan.tracks[i].path for i in run.eval_idx], checked.verdict_counts,
                        checked.calibration, checked.cv, scope=plan.scope, labels=plan.labels,
                        base_labels=list(run.base.labels), user_genres=list(scan.genres),
                        cv_paths=[t.path for t in scan.tracks])
