"""What every command of ``genre-desktop-cli`` shares: the model choice, argument types,
the error for bad input, and one-line output helpers."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Optional

from genre_desktop.core.errors import GenreDesktopError

MODEL_HELP = "model name or folder (default: the one chosen in the window, else the bundled model)"


def model_choice(model: Optional[str]) -> Optional[str]:
    """``--model``, else the model chosen in the window (its settings file, read without
    Qt; said on stderr), else None: the bundled default. The window and the CLI so use
    the same model unless told otherwise."""
    if model:
        return model
    from genre_desktop.core.errors import BundleError
    from genre_desktop.core.engine.models.chosen_model import window_model_choice
    from genre_desktop.core.engine.models.registry import resolve_model

    chosen = window_model_choice()
    if not chosen:
        return None
    try:
        resolve_model(chosen)
    except BundleError as exc:
        print(f"note: the model chosen in the window cannot be used ({one_line(exc)}); using the default",
              file=sys.stderr)
        return None
    print(f"note: using the model chosen in the window, {chosen} (--model picks another)", file=sys.stderr)
    return chosen


def load_classifier(model: Optional[str]):
    """The classifier of ``--model`` (see :func:`model_choice`), its network in ONNX Runtime when cached."""
    from genre_desktop.core.engine.models.bundle import load_bundle
    from genre_desktop.core.engine.classify.classifier import Classifier
    from genre_desktop.core.engine.models.registry import resolve_model

    # network=False: with the network's ONNX graph cached, classifying never imports torch
    return Classifier(load_bundle(resolve_model(model_choice(model)), network=False), runtime="auto")


def write_line(line: str, bar=None) -> None:
    """Print a result line on stdout, above the progress bar when there is one."""
    if bar is not None:
        bar.write(line, file=sys.stdout)
    else:
        print(line)


def json_line(record) -> str:
    """One JSON object as the commands print it: non-ASCII names as they are (UTF-8), so
    every command's JSON reads alike (file names that are not UTF-8 keep their escapes)."""
    return json.dumps(record, ensure_ascii=False)


def emit_error(args: argparse.Namespace, path: str, reason: str, bar=None) -> None:
    """A file that could not be read, as a result line (JSON with ``--json``)."""
    if args.json:
        write_line(json_line({"path": path, "error": reason}), bar)
    else:
        write_line(f"{path}\terror: {reason}", bar)


def positive_int(text: str) -> int:
    """An argparse type: a whole number of 1 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


class UserError(GenreDesktopError):
    """Bad input from the person at the keyboard: printed as one line, exit code 2."""


def existing_folder(raw: str) -> Path:
    """``raw`` as a folder that exists, or :class:`UserError`."""
    folder = Path(raw).expanduser()
    if not folder.is_dir():
        raise UserError(f"{raw}: {'not a folder' if folder.exists() else 'no such folder'}")
    return folder


def one_line(exc: BaseException) -> str:
    """An exception's message on one line (its type's name when it has none)."""
    text = " ".join(str(exc).split())
    return text or type(exc).__name__
