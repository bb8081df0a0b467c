"""``genre-desktop-cli classify``, ``evaluate`` and ``listen``: the genre of files, a model's
accuracy on labelled folders, and live audio from a microphone."""
from __future__ import annotations

import argparse
import sys

from genre_desktop.cli.common import (MODEL_HELP, UserError, emit_error, existing_folder, json_line, load_classifier,
                                      positive_int, write_line)
from genre_desktop.core.engine.classify.verdicts import WORDS, Verdict, verdict_text

__all__ = ["add_parser", "cmd_classify", "cmd_evaluate", "cmd_listen", "verdict_text"]


def cmd_classify(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from genre_desktop.core.engine.audio.decode import AudioDecodeError

    from genre_desktop.core.engine.audio.sources import expand_paths

    classifier = load_classifier(args.model)
    named = [expand_paths([raw]) for raw in args.paths]  # one row per file or problem, in the order named
    items = [item for files, problems in named for item in (*problems, *files)]
    total = sum(len(files) for files, _ in named)
    failed = 0
    bar = tqdm(total=total, unit="file", file=sys.stderr, disable=total < 2 or not args.progress)
    for path in items:
        if isinstance(path, tuple):  # (as named, why it is not audio)
            failed += 1
            emit_error(args, path[0], path[1], bar)
            continue
        bar.update(1)
        bar.set_postfix_str(path.name[-30:], refresh=False)
        try:
            result = classifier.classify_file(path)
        except (AudioDecodeError, OSError) as exc:
            failed += 1
            emit_error(args, str(path), str(exc) or type(exc).__name__, bar)
            continue
        if args.json:
            write_line(json_line(result.to_json(args.top)), bar)
        else:
            top = ", ".join(f"{g} {p:.0%}" for g, p in result.top(args.top))
            verdict = verdict_text(result.verdict, result.genre, result.reason)
            notes = "".join(f"\t({note})" for note in result.notes)
            write_line(f"{path}\t{verdict}\t{top}{notes}", bar)
    bar.close()
    return 1 if failed else 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from collections import Counter

    from tqdm import tqdm

    from genre_desktop.core.engine.audio.decode import AudioDecodeError
    from genre_desktop.core.engine.models.genre_names import match_label
    from genre_desktop.core.training.evaluation import confusion_report
    from genre_desktop.core.training.labelled_folders import scan_labelled_folders

    folder = existing_folder(args.folder)
    classifier = load_classifier(args.model)
    scan = scan_labelled_folders(folder)
    if not scan.tracks:
        raise UserError(f"{folder} holds no readable audio in genre sub-folders "
                        "(expected FOLDER/<genre>/<files>)")
    labels = classifier.labels
    matched = {g: match_label(g, labels) for g in scan.genres}
    unmatched = {g: n for g, n in scan.counts().items() if matched[g] is None}
    for genre, n in unmatched.items():
        print(f"note: the folder '{genre}' ({n} tracks) matches none of this model's genres "
              f"({', '.join(labels)}): it is left out of the accuracy", file=sys.stderr)
    tracks = [t for t in scan.tracks if matched[t.genre] is not None]
    if not tracks:
        raise UserError("no genre folder matches a genre of this model")
    truth, pred, verdicts, errors = [], [], Counter(), []
    for track in tqdm(tracks, unit="file", file=sys.stderr, disable=not args.progress):
        try:
            result = classifier.classify_file(track.path)
        except (AudioDecodeError, OSError) as exc:
            errors.append((str(track.path), str(exc)))
            continue
        truth.append(matched[track.genre])
        pred.append(result.closest if result.verdict != "silence" else "(silence)")
        verdicts[result.verdict] += 1
    errors += [(str(p), r) for p, r in scan.unreadable]
    if not truth:
        raise UserError("no track of this folder could be classified")
    report = confusion_report(truth, pred, labels)
    if args.json:
        print(json_line({**report.to_json(), "verdicts": dict(verdicts),
                          "folders": {g: m for g, m in matched.items()},
                          "unmatched_folders": unmatched,
                          "errors": [{"path": p, "error": r} for p, r in errors]}))
    else:
        print(report.to_text())
        print("\nverdicts: " + ", ".join(f"{v} {n}" for v, n in verdicts.most_common()))
        renamed = {g: m for g, m in matched.items() if m is not None and m != g}
        if renamed:
            print("folders read as: " + ", ".join(f"{g} = {m}" for g, m in renamed.items()))
        for path, reason in errors:
            print(f"{path}\terror: {reason}")
    return 1 if errors else 0


def cmd_listen(args: argparse.Namespace) -> int:
    import time

    from genre_desktop.core.engine.classify.live import LiveError, LiveSession, input_devices

    if args.list_devices:
        for index, name in input_devices():
            print(f"{index}\t{name}")
        return 0
    classifier = load_classifier(args.model)
    device = int(args.device) if args.device and args.device.isdigit() else args.device
    try:
        session = LiveSession(classifier, device, hop_seconds=args.hop)
        session.start()
    except LiveError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"listening on {session.capture.device_name} ({session.capture.sample_rate} Hz); Ctrl+C stops",
          file=sys.stderr)
    start = time.monotonic()
    try:
        while args.seconds is None or time.monotonic() - start < args.seconds:
            time.sleep(0.05)
            for p in session.poll().predictions:
                if args.json:
                    print(json_line(p.to_json()), flush=True)
                else:
                    now = f"{p.genre} {p.confidence:.0%}" if p.genre else WORDS[Verdict.SILENCE.value]
                    smooth = p.smoothed_genre or "-"
                    print(f"{p.time:7.1f} s  {now:<22} now playing: {smooth:<12} {p.level_dbfs:6.1f} dBFS", flush=True)
    except LiveError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    finally:
        session.stop()
    if session.overflows or session.dropped_samples:
        print(f"input overflows: {session.overflows}, dropped samples: {session.dropped_samples}", file=sys.stderr)
    return 0


def add_parser(sub) -> None:
    """``classify``, ``evaluate`` and ``listen``, on the CLI's sub-parsers."""
    p = sub.add_parser("classify", help="tell the genre of files or folders (recursive)")
    p.add_argument("paths", nargs="+")
    p.add_argument("--model", help=MODEL_HELP)
    p.add_argument("--json", action="store_true", help="one JSON object per file")
    p.add_argument("--top", type=positive_int, default=3, help="how many genres to list (1 or more)")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar on stderr")
    p.set_defaults(func=cmd_classify)

    p = sub.add_parser("evaluate", help="accuracy on a folder with one sub-folder per genre")
    p.add_argument("folder")
    p.add_argument("--model", help=MODEL_HELP)
    p.add_argument("--json", action="store_true")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar on stderr")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("listen", help="tag live audio from a microphone, one line per slice")
    p.add_argument("--device", help="input device index or name (default: the system's)")
    p.add_argument("--seconds", type=float, default=None, help="stop after this long")
    p.add_argument("--hop", type=float, default=1.0, help="seconds between predictions")
    p.add_argument("--model", help=MODEL_HELP)
    p.add_argument("--json", action="store_true")
    p.add_argument("--list-devices", action="store_true", help="list input devices and exit")
    p.set_defaults(func=cmd_listen)
