"""``genre-desktop-cli train``: a model trained on a folder with one sub-folder per genre."""
from __future__ import annotations

import argparse
import logging
import sys

from genre_desktop.cli.common import existing_folder
from genre_desktop.cli.terminal import ProgressBar

log = logging.getLogger("genre_desktop.cli")


def cmd_train(args: argparse.Namespace) -> int:
    from genre_desktop.core.training.labelled_folders import scan_labelled_folders
    from genre_desktop.core.engine.models.registry import user_model_path
    from genre_desktop.core.training.outcome import trust_warnings
    from genre_desktop.core.training.train_on_library import TrainOptions, train_on_library

    dest = user_model_path(args.name)  # the one name rule: refused before any work
    folder = existing_folder(args.folder)
    scan = scan_labelled_folders(folder)
    for path, reason in scan.unreadable:
        log.warning("skipped %s: %s", path, reason)
    for warning in scan.warnings():
        log.warning("%s", warning)
    problem = scan.blocking_problem()
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    print(f"{len(scan.tracks)} tracks: " + ", ".join(f"{g} {n}" for g, n in scan.counts().items()),
          file=sys.stderr)
    options = TrainOptions(mode=args.mode, epochs=args.epochs, seed=args.seed,
                           reuse_known_genres=not args.ignore_known_genres, scope=args.scope)
    if args.scope == "only":
        print(f"warning: --scope only: the model will know only your {len(scan.counts())} genres; music of any "
              "other genre will be called one of them, or 'none of my genres' when it is far enough away",
              file=sys.stderr)
    # a refusal (TrainingRefused, e.g. thorough mode would move the kept genres) is main()'s one line
    with ProgressBar() as bar:
        outcome = train_on_library(scan, dest.name, options, base_model=args.base, dest=dest, progress=bar)
    for path, reason in outcome.skipped:
        print(f"skipped {path}: {reason}", file=sys.stderr)
    estimate = outcome.estimate
    print(f"accuracy: {estimate.accuracy:.1%} of {estimate.tracks} tracks ({estimate.method})")
    print(outcome.knows())
    print("held-out validation tracks, through the app's verdict path:")
    print(outcome.report.to_text())
    print("verdicts on the validation tracks: " + ", ".join(f"{v} {n}" for v, n in outcome.verdicts.items()))
    cal = outcome.calibration
    print(f"calibration: temperature {cal.get('temperature', 1.0):.2f}, expected calibration error "
          f"{cal.get('ece_before', 0):.3f} -> {cal.get('ece_after', 0):.3f} (held-out training folds)")
    for warning in trust_warnings(outcome):
        print(f"warning: {warning}", file=sys.stderr)
    if outcome.known_genres:
        print(f"started from the base model's knowledge of: {', '.join(outcome.known_genres)}")
    print(f"saved {outcome.path}")
    return 0


def add_parser(sub) -> None:
    """Add ``train`` to the CLI's sub-commands."""
    p = sub.add_parser("train", help="train a model on a folder with one sub-folder per genre")
    p.add_argument("folder")
    p.add_argument("--name", required=True, help="name of the new model")
    p.add_argument("--mode", choices=("quick", "thorough"), default="quick")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--base", help="model to start from (default: the bundled model)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--scope", choices=("extend", "only"), default="extend",
                   help="extend (default): keep the base model's genres and add or re-teach yours; "
                        "only: your genres alone (everything will be called one of them)")
    p.add_argument("--ignore-known-genres", action="store_true",
                   help="learn every genre from the library alone, even those the base model knows")
    p.set_defaults(func=cmd_train)
