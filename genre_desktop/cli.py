"""``genre-desktop-cli``: classify, evaluate, inspect and train genre models."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Optional, Sequence

log = logging.getLogger("genre_desktop.cli")


MODEL_HELP = "model name or folder (default: the one chosen in the window, else the bundled model)"


def model_choice(model: Optional[str]) -> Optional[str]:
    """``--model``, else the model chosen in the window (its settings file, read without
    Qt; said on stderr), else None: the bundled default. The window and the CLI so use
    the same model unless told otherwise."""
    if model:
        return model
    from .core.engine.bundle import BundleError
    from .core.engine.chosen_model import window_model_choice
    from .core.engine.registry import resolve_model

    chosen = window_model_choice()
    if not chosen:
        return None
    try:
        resolve_model(chosen)
    except BundleError as exc:
        print(f"note: the model chosen in the window cannot be used ({_one_line(exc)}); using the default",
              file=sys.stderr)
        return None
    print(f"note: using the model chosen in the window, {chosen} (--model picks another)", file=sys.stderr)
    return chosen


def _load(model: Optional[str]):
    from .core.engine.bundle import load_bundle
    from .core.engine.inference import Classifier
    from .core.engine.registry import resolve_model

    # network=False: with the network's ONNX graph cached, classifying never imports torch
    return Classifier(load_bundle(resolve_model(model_choice(model)), network=False), runtime="auto")


def cmd_classify(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .core.engine.audio_io import AudioDecodeError

    from .core.engine.files import expand_paths

    classifier = _load(args.model)
    named = [expand_paths([raw]) for raw in args.paths]  # one row per file or problem, in the order named
    items = [item for files, problems in named for item in (*problems, *files)]
    total = sum(len(files) for files, _ in named)
    failed = 0
    bar = tqdm(total=total, unit="file", file=sys.stderr, disable=total < 2 or not args.progress)
    for path in items:
        if isinstance(path, tuple):  # (as named, why it is not audio)
            failed += 1
            _emit_error(args, path[0], path[1], bar)
            continue
        bar.update(1)
        bar.set_postfix_str(path.name[-30:], refresh=False)
        try:
            result = classifier.classify_file(path)
        except (AudioDecodeError, OSError) as exc:
            failed += 1
            _emit_error(args, str(path), str(exc) or type(exc).__name__, bar)
            continue
        if args.json:
            _write(json.dumps(result.to_json(args.top)), bar)
        else:
            top = ", ".join(f"{g} {p:.0%}" for g, p in result.top(args.top))
            verdict = verdict_text(result.verdict, result.genre, result.reason)
            notes = "".join(f"\t({note})" for note in result.notes)
            _write(f"{path}\t{verdict}\t{top}{notes}", bar)
    bar.close()
    return 1 if failed else 0


def verdict_text(verdict: str, genre: Optional[str], reason: str = "") -> str:
    """A verdict in the words the window uses: "rock", "rock? (not sure: why)", "not
    music: why", "unknown genre: why", "no music heard: why" (never "-? (not sure: not music")."""
    from .core.engine.verdict import VERDICT_WORDS

    reason = reason or ""
    if verdict == "genre":
        return genre or "-"
    if verdict == "unsure":
        return f"{genre or '-'}? (not sure: {reason or 'low confidence'})"
    words = VERDICT_WORDS.get(verdict, verdict)
    if reason.startswith(f"{words}: "):
        reason = reason[len(words) + 2:]
    return f"{words}: {reason}" if reason else words


def _write(line: str, bar=None) -> None:
    if bar is not None:
        bar.write(line, file=sys.stdout)
    else:
        print(line)


def _emit_error(args: argparse.Namespace, path: str, reason: str, bar=None) -> None:
    if args.json:
        _write(json.dumps({"path": path, "error": reason}), bar)
    else:
        _write(f"{path}\terror: {reason}", bar)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from collections import Counter

    from tqdm import tqdm

    from .core.engine.audio_io import AudioDecodeError
    from .core.engine.names import match_label
    from .core.training.evaluation import confusion_report
    from .core.training.library_scan import scan_labelled_folders

    folder = existing_folder(args.folder)
    classifier = _load(args.model)
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
        print(json.dumps({**report.to_json(), "verdicts": dict(verdicts),
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


def cmd_info(args: argparse.Namespace) -> int:
    from .core.engine.bundle import load_bundle
    from .core.engine.registry import list_models, resolve_model

    bundle = load_bundle(resolve_model(model_choice(args.model)))
    if args.json:
        print(json.dumps({"path": str(bundle.path), **bundle.meta}))
        return 0
    print(bundle.describe())
    print("\ninstalled models:")
    _print_models(list_models(include_broken=True, include_backups=True), bundle.path)
    return 0


def _print_models(entries, active: Optional[Path] = None) -> None:
    for entry in entries:
        marker = "*" if active is not None and entry.path.resolve() == active.resolve() else " "
        kind = "bundled" if entry.bundled else (f"backup of {entry.backup_of}" if entry.backup_of else "yours")
        state = f"\tBROKEN: {entry.error}" if entry.error else ""
        print(f" {marker} {entry.name}\t{kind}\t{entry.path}{state}")


def cmd_desktop_install(args: argparse.Namespace) -> int:
    from .desktop_entry import install

    written = install(args.data_home)
    print(f"installed the menu entry {written[0]} and {len(written) - 1} icon files")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    """List, restore, rename and delete the models a person trained."""
    from .core.engine import registry

    if args.action == "list":
        entries = registry.list_models(include_broken=True, include_backups=True)
        if args.json:
            for e in entries:
                print(json.dumps({"name": e.name, "path": str(e.path), "bundled": e.bundled,
                                  "backup_of": e.backup_of, "error": e.error}))
        else:
            _print_models(entries)
        return 0
    if not args.names:
        raise UserError(f"'models {args.action}' needs a model name")
    name = args.names[0]
    if args.action == "restore":
        path = registry.restore_backup(name)
        print(f"restored the backup of {name!r}: {path} (the model it replaced is now the backup)")
    elif args.action == "delete":
        registry.delete_user_model(name, backup=args.backup)
        print(f"deleted {'the backup of ' if args.backup else ''}{name!r}")
    elif args.action == "rename":
        if len(args.names) != 2:
            raise UserError("'models rename' needs the old and the new name")
        print(f"renamed to {registry.rename_user_model(name, args.names[1])}")
    return 0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


class UserError(Exception):
    """Bad input from the person at the keyboard: printed as one line, exit code 2."""


def existing_folder(raw: str) -> Path:
    """``raw`` as a folder that exists, or :class:`UserError`."""
    folder = Path(raw).expanduser()
    if not folder.is_dir():
        raise UserError(f"{raw}: {'not a folder' if folder.exists() else 'no such folder'}")
    return folder


def cmd_listen(args: argparse.Namespace) -> int:
    import time

    from .core.engine.live import LiveError, LiveSession, input_devices

    if args.list_devices:
        for index, name in input_devices():
            print(f"{index}\t{name}")
        return 0
    classifier = _load(args.model)
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
                    print(json.dumps(p.to_json()), flush=True)
                else:
                    now = f"{p.genre} {p.confidence:.0%}" if p.genre else "no music heard"
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="genre-desktop-cli", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("classify", help="tell the genre of files or folders (recursive)")
    p.add_argument("paths", nargs="+")
    p.add_argument("--model", help=MODEL_HELP)
    p.add_argument("--json", action="store_true", help="one JSON object per file")
    p.add_argument("--top", type=_positive_int, default=3, help="how many genres to list (1 or more)")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar on stderr")
    p.set_defaults(func=cmd_classify)

    p = sub.add_parser("evaluate", help="accuracy on a folder with one sub-folder per genre")
    p.add_argument("folder")
    p.add_argument("--model", help=MODEL_HELP)
    p.add_argument("--json", action="store_true")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar on stderr")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("info", help="the active model, its labels, provenance and metrics")
    p.add_argument("--model", help=MODEL_HELP)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("listen", help="tag live audio from a microphone, one line per slice")
    p.add_argument("--device", help="input device index or name (default: the system's)")
    p.add_argument("--seconds", type=float, default=None, help="stop after this long")
    p.add_argument("--hop", type=float, default=1.0, help="seconds between predictions")
    p.add_argument("--model", help=MODEL_HELP)
    p.add_argument("--json", action="store_true")
    p.add_argument("--list-devices", action="store_true", help="list input devices and exit")
    p.set_defaults(func=cmd_listen)

    p = sub.add_parser("desktop-install", help="add Genre Desktop to your desktop's menu and 'Open with' (this user only)")
    p.add_argument("--data-home", type=Path, default=None, help="instead of $XDG_DATA_HOME (~/.local/share)")
    p.set_defaults(func=cmd_desktop_install)

    p = sub.add_parser("models", help="list your models (broken ones and backups too); restore, rename, delete")
    p.add_argument("action", nargs="?", default="list", choices=("list", "restore", "rename", "delete"))
    p.add_argument("names", nargs="*", help="the model (for rename: old and new name)")
    p.add_argument("--backup", action="store_true", help="with delete: delete the model's backup")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_models)

    from .cli_train import add_parser as add_train_parser

    add_train_parser(sub)
    from .cli_library import add_parser as add_library_parser

    add_library_parser(sub, _positive_int)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    from .core.engine.threads import set_thread_policy

    set_thread_policy()  # before numpy and torch load (no busy-waiting threads)
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s: %(message)s")
    for stream in (sys.stdout, sys.stderr):  # file names that are not UTF-8 print, never crash
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    from .core.engine.bundle import BundleError
    from .core.library.db_open import LibraryError

    try:
        code = args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
        return code
    except BrokenPipeError:  # piped into `head`: stop quietly with what was read, like other Unix tools
        _quiet_stdout()
        return 0
    except LibraryError as exc:  # locked, read-only, disk full, newer, damaged, not a library
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return exc.exit_code
    except (BundleError, UserError, ValueError) as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except OSError as exc:  # full disk, read-only folder, vanished file: say which, in one line
        where = f": {exc.filename}" if getattr(exc, "filename", None) else ""
        print(f"error: {exc.strerror or _one_line(exc)}{where}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: one line for the person, the traceback with -v
        if args.verbose:
            import traceback

            traceback.print_exc()
        print(f"error: internal error ({type(exc).__name__}: {_one_line(exc)}); "
              "run with -v for details", file=sys.stderr)
        return 3


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's last flush into a closed pipe stays
    silent (the way the Python docs advise for SIGPIPE)."""
    import os

    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def run() -> None:
    """The ``genre-desktop-cli`` program: :func:`main` with the decoder notes filtered
    (``-v`` lets them through)."""
    if "-v" not in sys.argv[1:] and "--verbose" not in sys.argv[1:]:
        from .terminal import filter_decoder_notes

        filter_decoder_notes()
    sys.exit(main())


if __name__ == "__main__":
    run()
