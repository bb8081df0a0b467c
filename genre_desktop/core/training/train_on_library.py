"""Train a genre model on a person's own library (folders labelled by genre).

``quick`` keeps the bundled network's embedding frozen and fits a linear genre head;
``thorough`` starts from that head and fine-tunes the network on augmented slices (all of
it, or for MSD_musicnn all but its frozen front-end). What the model knows is its scope
(:mod:`.scope`): ``extend`` (the default) keeps the base model's genres and adds or
re-teaches the person's; ``only`` knows the person's genres alone. Validation is by
track, stratified by genre, never slices of one track on both sides; a small library is
also cross-validated over all its tracks (the one figure the wizard shows). Decoded
features are cached per file.

The run is a chain of stages, each a function below: read the features, split, listen
(embeddings), fit the head, fine-tune (thorough), learn the honest answers (open set,
temperature, cross-validation), validate through the app's verdict path, save.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch

from genre_desktop.core.engine.audio.decode import AudioDecodeError
from genre_desktop.core.engine.models.bundle import BundleMeta, ModelBundle, load_bundle, save_bundle
from genre_desktop.core.engine.models.bundle_meta import Calibration
from genre_desktop.core.engine.classify.classifier import Classifier
from genre_desktop.core.engine.classify.verdicts import VERDICTS
from genre_desktop.core.engine.network.model import build_model, in_batches
from genre_desktop.core.engine.models.registry import resolve_model
from genre_desktop.core.paths import feature_cache_folder
from genre_desktop.core.safe_files import check_writable, fault_point
from genre_desktop.core.tasks import ProgressCallback, StopCallback, check_stop, no_progress, scaled
from genre_desktop.core.engine.classify.verdict import fit_slices, silent_slices, softmax
from genre_desktop.core.training.evaluation import confusion_report
from genre_desktop.core.training.feature_cache import FeatureCache
from genre_desktop.core.training.fine_tune import FineTuneOptions, History, TrackData, train_network
from genre_desktop.core.training.honesty import audible_only, cross_validated_accuracy, cross_validated_temperature, model_openset
from genre_desktop.core.training.labelled_folders import LabelledScan
from genre_desktop.core.training.outcome import Estimate, TrainOutcome, WrongTrack, trust_warnings  # noqa: F401 (re-exported)
from genre_desktop.core.training.scope import (SCOPES, LabelPlan, TrainingRefused, extended_openset, fit_scoped_head, head_prior, match_known_genres,  # noqa: F401
                    plan_labels, pseudo_samples)
from genre_desktop.core.training.splits import grouped_stratified_split

log = logging.getLogger(__name__)


# thorough mode's peak learning rate per base architecture: the pretrained MSD_musicnn
# mid-end overfits a small library at 1e-3 (Emotify, 20 tracks/genre: 73.8 % vs 81.2 % for
# quick mode on the same draw)
FINE_TUNE_LR = {"genre_cnn": 1e-3, "musicnn_genre": 1e-4}
SMALL_LIBRARY = 200  # up to this many tracks, quick mode also cross-validates over all of them


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
    scope: str = "extend"  # "extend": the base's genres plus yours; "only": yours alone


def slice_embeddings(model, mel: np.ndarray, slice_frames: int) -> np.ndarray:
    """What the genre head sees for each of a track's slices, shape (n_slices, embedding)."""
    slices, _ = fit_slices(np.asarray(mel, np.float32), slice_frames)
    return in_batches(model.features, slices).numpy()


def audible_slices(mel: np.ndarray, slice_frames: int) -> np.ndarray:
    """(n_slices,) bool: which of a track's slices count in the vote (the app's rule)."""
    return ~silent_slices(fit_slices(np.asarray(mel, np.float32), slice_frames)[0])


@dataclass
class Run:
    """What the stages share: the library as read, the base model, the label plan."""

    scan: LabelledScan
    base: ModelBundle
    plan: LabelPlan
    options: TrainOptions
    mels: list
    y: np.ndarray  # each track's row in plan.labels
    train_idx: np.ndarray
    val_idx: np.ndarray
    should_stop: Optional[StopCallback] = None

    @property
    def eval_idx(self) -> np.ndarray:
        return self.val_idx if len(self.val_idx) else self.train_idx

    @property
    def thorough(self) -> bool:
        return self.options.mode == "thorough"

    def head_fitter(self) -> Callable[[list, np.ndarray], tuple[np.ndarray, np.ndarray]]:
        """``fit(track_feats, rows) -> (weight, bias)``: the head for this plan on these
        tracks (also what the cross-validation refits on each fold)."""
        head = self.base.model.head
        prior = head_prior(self.plan, self.base.labels, head.weight.detach().numpy(), head.bias.detach().numpy())
        openset = self.base.openset
        use_pseudo = bool(self.plan.others) and openset is not None

        def fit(track_feats: list, rows: np.ndarray):
            x = np.concatenate(track_feats)
            ys = np.concatenate([[r] * len(f) for f, r in zip(track_feats, rows)])
            pseudo = pseudo_samples(openset, self.plan.others, track_feats, seed=self.options.seed) if use_pseudo else None
            return fit_scoped_head(self.plan, x, ys, self.options.l2, prior, pseudo, self.should_stop)

        return fit


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
    model.load_state_dict({k: v for k, v in base.model.state_dict().items() if not k.startswith("head.")},
                          strict=False)
    return model.eval()


def set_head(model, weight: np.ndarray, bias: np.ndarray) -> None:
    with torch.no_grad():
        model.head.weight.copy_(torch.from_numpy(weight))
        model.head.bias.copy_(torch.from_numpy(bias))


def fine_tune(run: Run, model, progress: ProgressCallback, on_epoch) -> tuple[object, History]:
    """Thorough mode: fine-tune the network (started from the fitted head) on augmented slices."""
    epochs = run.options.epochs or 8
    tracks = lambda idx: [TrackData(run.mels[i], int(run.y[i])) for i in idx]  # noqa: E731
    lr = run.options.lr or FINE_TUNE_LR.get(run.base.meta["architecture"]["name"], 1e-3)
    options = FineTuneOptions(epochs=epochs, lr=lr, seed=run.options.seed, patience=epochs,
                              slice_frames=run.base.features.slice_frames, batch_size=32)
    return train_network(tracks(run.train_idx), tracks(run.val_idx), len(run.plan.labels), len(run.base.tags),
                         options, model=model, progress=progress, should_stop=run.should_stop, on_epoch=on_epoch)


def min_temperature(run: Run) -> float:
    """How far the temperature may sharpen a user model's verdicts: an extended model no
    further than its base (calibrated on music at large), a model of only the person's
    genres not at all (its held-out tracks never show it music of other genres)."""
    return run.base.temperature if run.plan.scope == "extend" else 1.0


def hedge_rules(run: Run) -> dict:
    """The base's hedge rules; for a model of only the person's genres, "none of my genres"
    counts at any confidence (a softmax over a few genres is confident about any music)."""
    rules = dict(run.base.thresholds)
    if run.plan.scope == "only":
        rules["unknown_max_confidence"] = 1.01
    return rules


def learn_honesty(run: Run, feats: dict, audible: dict) -> tuple[object, dict, Optional[dict]]:
    """From the training tracks only: open-set statistics and a cross-validated temperature;
    for a small library (quick mode) also k-fold predictions over all its tracks."""
    train = list(run.train_idx)
    fit = run.head_fitter()
    train_slices = audible_only([feats[i] for i in train], [audible[i] for i in train])
    if run.plan.scope == "extend" and run.base.openset is not None and not run.thorough:
        openset = extended_openset(run.plan, run.base.openset, train_slices, run.y[train])
    elif run.plan.scope == "extend" and run.plan.kept:
        openset = None  # no statistics for the kept genres: no open-set test rather than a wrong one
    else:
        openset = model_openset(train_slices, run.y[train], run.base.openset, backbone_changed=run.thorough)

    def fit_on(tracks: list):
        return lambda positions: fit([feats[tracks[p]] for p in positions], run.y[[tracks[p] for p in positions]])

    n = len(run.plan.labels)
    calibration = cross_validated_temperature([feats[i] for i in train], [audible[i] for i in train],
                                              run.y[train], n, run.options.l2, fit_head=fit_on(train),
                                              min_temperature=min_temperature(run))
    cv = None
    if not run.thorough and len(run.scan.tracks) <= SMALL_LIBRARY:
        every = sorted(feats)
        cv = cross_validated_accuracy([feats[i] for i in every], [audible[i] for i in every], run.y[every], n,
                                      run.options.l2, fit_head=fit_on(every))
        if cv:
            cv["positions"] = [every[p] for p in cv["positions"]]
    return openset, calibration, cv


def validate(run: Run, bundle: ModelBundle, feats: dict, audible: dict):
    """Each evaluation track through the app's own verdict path (the in-memory bundle).

    Returns the confusion report, the tracks it got wrong, and the verdict counts."""
    classifier = Classifier(bundle)
    weight, bias = bundle.model.head.weight.detach().numpy(), bundle.model.head.bias.detach().numpy()
    labels = run.plan.labels
    truth, predicted, wrong, verdicts = [], [], [], []
    for i in run.eval_idx:
        check_stop(run.should_stop)
        track = run.scan.tracks[i]
        slice_probs = softmax(feats[i] @ weight.T + bias)
        result = classifier.verdict(str(track.path), track.duration, np.zeros(len(slice_probs), int),
                                    slice_probs, ~audible[i], embeddings=feats[i])
        truth.append(labels[run.y[i]])
        predicted.append(result.closest or "(silence)")
        verdicts.append(result.verdict)
        if result.closest != labels[run.y[i]]:
            wrong.append(WrongTrack(track.path, labels[run.y[i]], result.closest or "(silence)",
                                    result.confidence, result.verdict))
    counts = {v: verdicts.count(v) for v in VERDICTS if v in verdicts}
    return confusion_report(truth, predicted, labels), wrong, counts


def model_meta(run: Run, name: str, report, openset, calibration: dict, cv: Optional[dict],
               verdict_counts: dict, seconds: float) -> BundleMeta:
    base, plan, validated = run.base, run.plan, len(run.val_idx) > 0
    return BundleMeta(
        name=name, version="1", architecture=base.meta["architecture"], labels=plan.labels, tags=base.tags,
        features=base.features, thresholds=hedge_rules(run),
        openset=openset.thresholds() if openset is not None else None, calibration=Calibration.from_dict(calibration),
        provenance={"base_model": base.name, "mode": run.options.mode, "scope": plan.scope,
                    "known_genres": plan.known, "kept_genres": [plan.labels[k] for k in plan.kept],
                    "library": ", ".join(f"{g} {n}" for g, n in run.scan.counts().items()),
                    "validation": f"{len(run.val_idx)} tracks held out by track, stratified"
                    if validated else "none (library too small): accuracy is on training tracks"},
        metrics={"validation_track_accuracy": report.accuracy,
                 "balanced_accuracy": report.balanced_accuracy(),
                 "recall": report.recall(), "train_tracks": int(len(run.train_idx)),
                 "validation_tracks": int(len(run.val_idx)), "seconds": round(seconds, 1),
                 "validation_verdicts": verdict_counts,
                 **({"cross_validated_accuracy": [cv["pooled"], cv["spread"]], "cross_validated_tracks": cv["tracks"]}
                    if cv else {})})


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
    dest = check_destination(scan, name, dest)
    t0 = time.perf_counter()
    base = load_bundle(resolve_model(base_model))
    refuse_moving_kept_genres(plan_labels(base.labels, scan.genres, options.scope, options.reuse_known_genres), options)
    cache = cache or FeatureCache(feature_cache_folder())
    scan, mels, skipped = read_features(scan, base.features, cache, scaled(progress, 0.0, 0.4), should_stop)
    plan = plan_labels(base.labels, scan.genres, options.scope, options.reuse_known_genres)
    t_features = time.perf_counter() - t0
    train_idx, val_idx = split_tracks(scan, options)
    run = Run(scan, base, plan, options, mels, np.array([plan.index[t.genre] for t in scan.tracks]),
              train_idx, val_idx, should_stop)
    if plan.known:
        log.info("genres the base model knows, starting from its head: %s", ", ".join(plan.known))
    model = new_model(base, len(plan.labels))
    # quick mode validates from the same embeddings, so the network runs over each track once
    span = 0.1 if run.thorough else 0.5  # the bulk of quick mode's time
    needed = list(train_idx) + ([] if run.thorough else list(val_idx))
    feats = listen(run, model, needed, scaled(progress, 0.4, 0.4 + span))
    progress(0.4 + span, "fitting the genre head")
    fault_point("train:fitting")
    set_head(model, *run.head_fitter()([feats[i] for i in train_idx], run.y[train_idx]))
    history = History()
    if run.thorough:
        model, history = fine_tune(run, model, scaled(progress, 0.5, 0.95), on_epoch)
        check_stop(should_stop)
        progress(0.93, "looking again with the fine-tuned network")
        feats = listen(run, model, sorted(set(train_idx) | set(run.eval_idx)), no_progress)
    check_stop(should_stop)
    progress(0.93, "learning what your genres sound like")
    audible = {i: audible_slices(mels[i], base.features.slice_frames) for i in feats}
    openset, calibration, cv = learn_honesty(run, feats, audible)
    progress(0.95, "validating")
    draft = ModelBundle(dest, {"thresholds": hedge_rules(run), "calibration": calibration}, model, plan.labels,
                        base.features, base.tags, openset)
    report, wrong, verdict_counts = validate(run, draft, feats, audible)
    seconds = {"features": t_features, "total": time.perf_counter() - t0}
    meta = model_meta(run, name, report, openset, calibration, cv, verdict_counts, seconds["total"])
    check_stop(should_stop)
    fault_point("train:before-save")
    replaced = dest.exists()
    path = save_bundle(dest, model, meta, base=base, openset=openset)  # weights left as in the base are referenced
    progress(1.0, f"saved {name}")
    return TrainOutcome(path, report, history, wrong, seconds, len(val_idx) > 0, plan.known, skipped, replaced,
                        [scan.tracks[i].path for i in run.eval_idx], verdict_counts, calibration, cv,
                        scope=plan.scope, labels=plan.labels, base_labels=list(base.labels),
                        user_genres=list(scan.genres), cv_paths=[t.path for t in scan.tracks])
