"""What a training run gives back: the saved model, how it did, and the one accuracy
estimate a person is shown (with how it was measured and how many genres the model knows)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from genre_desktop.core.training.evaluation import ConfusionReport, confusion_report
from genre_desktop.core.training.fine_tune import History

MIN_TRUSTED_TRACKS = 20  # an estimate over fewer tracks than this is an anecdote


@dataclass
class WrongTrack:
    path: Path
    truth: str
    predicted: str
    confidence: float
    verdict: str = "genre"


@dataclass
class Estimate:
    """The accuracy figure a person is shown, and everything beside it comes from the same
    predictions: per-genre recall, confusion matrix, the tracks it got wrong."""

    accuracy: float
    tracks: int
    method: str  # how it was measured, in words
    report: ConfusionReport
    wrong: list[WrongTrack]
    on_training_tracks: bool = False  # nothing could be held out


@dataclass
class TrainOutcome:
    path: Path
    report: ConfusionReport  # the held-out validation tracks, through the app's verdict path
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
    cross_validated: Optional[dict] = None  # small libraries: k-fold predictions over all tracks
    scope: str = "only"  # "extend": the base's genres plus the person's; "only": the person's
    labels: list[str] = field(default_factory=list)  # every genre the model knows
    base_labels: list[str] = field(default_factory=list)  # the base model's genres
    user_genres: list[str] = field(default_factory=list)  # the genres of the person's library
    cv_paths: list[Path] = field(default_factory=list)  # the tracks cross_validated's positions index

    @property
    def estimate(self) -> Estimate:
        """The one accuracy figure: k-fold cross-validation over all tracks when it was run
        (every track judged by a head that did not train on it), else the held-out split."""
        cv = self.cross_validated
        if cv:
            labels = self.labels or self.report.labels
            truth = [labels[t] for t in cv["truth"]]
            predicted = [labels[p] for p in cv["predicted"]]
            wrong = [WrongTrack(self.cv_paths[i], t, p, c) for i, t, p, c in
                     zip(cv["positions"], truth, predicted, cv["confidence"]) if t != p]
            report = confusion_report(truth, predicted, labels)
            return Estimate(report.accuracy, report.total,
                            f"{cv['folds']}-fold cross-validation over all {report.total} of your tracks: each "
                            "track judged by a model trained without it", report, wrong)
        if not self.validated:
            return Estimate(self.report.accuracy, self.report.total,
                            f"on the {self.report.total} training tracks (none could be held out)",
                            self.report, self.wrong, on_training_tracks=True)
        return Estimate(self.report.accuracy, self.report.total,
                        f"on {self.report.total} of your tracks held out of training", self.report, self.wrong)

    def knows(self) -> str:
        """How many genres the model knows, in words."""
        n, mine = len(self.labels), len(self.user_genres)
        if self.scope == "extend" and self.base_labels:
            new = n - len(self.base_labels)
            return (f"It knows {n} genres: the base model's {len(self.base_labels)}"
                    + (f" and {new} new one{'s' if new != 1 else ''} of yours" if new else "")
                    + f" ({mine} taught or re-taught from your tracks).")
        return (f"It knows only your {mine} genres ({', '.join(self.user_genres)}): music of any other "
                "genre will be called one of them, or \u201cnone of my genres\u201d when it is far enough away.")


def trust_warnings(outcome: TrainOutcome) -> list[str]:
    """What a person should know before relying on a trained model, one line each."""
    estimate, n_labels = outcome.estimate, len(outcome.user_genres or outcome.report.labels)
    out = []
    if estimate.on_training_tracks:
        out.append("no tracks could be held out, so the accuracy is on training tracks: it says little")
    elif estimate.tracks < MIN_TRUSTED_TRACKS:
        out.append(f"the accuracy rests on only {estimate.tracks} tracks: add music to trust it")
    if not estimate.on_training_tracks and estimate.accuracy <= 1.0 / max(n_labels, 1):
        out.append(f"{estimate.accuracy:.0%} is no better than guessing among {n_labels} genres: "
                   "this model should not be used")
    return out
