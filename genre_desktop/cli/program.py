"""``genre-desktop-cli``: classify, evaluate, inspect and train genre models; keep a library."""
from __future__ import annotations

import argparse
import logging
import sys
from typing import Optional, Sequence

from genre_desktop.cli.classify import add_parser as add_classify_commands
from genre_desktop.cli.library import add_parser as add_library_commands
from genre_desktop.cli.models import add_parser as add_model_commands
from genre_desktop.cli.train import add_parser as add_train_command
from genre_desktop.cli.common import one_line
from genre_desktop.core.errors import GenreDesktopError

log = logging.getLogger("genre_desktop.cli")


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: one sub-parser group per module of :mod:`genre_desktop.cli`."""
    parser = argparse.ArgumentParser(prog="genre-desktop-cli", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = parser.add_subparsers(dest="command", required=True)
    add_classify_commands(sub)
    add_model_commands(sub)
    add_train_command(sub)
    add_library_commands(sub)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run one command; returns its exit status (0 done, 1 some files failed or a file error,
    2 refused: bad input, a model or library that cannot be used; 3 a bug, 130 interrupted)."""
    from genre_desktop.core.engine.network.threads import set_thread_policy

    set_thread_policy()  # before numpy and torch load (no busy-waiting threads)
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s: %(message)s")
    for stream in (sys.stdout, sys.stderr):  # file names that are not UTF-8 print, never crash
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    try:
        code = args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
        return code
    except BrokenPipeError:  # piped into `head`: stop quietly with what was read, like other Unix tools
        _quiet_stdout()
        return 0
    except GenreDesktopError as exc:  # refused on purpose: a damaged model, a locked library, bad input ...
        # (every refusal derives from it; a bare ValueError is a bug and reads "internal error" below)
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:  # full disk, read-only folder, vanished file: say which, in one line
        where = f": {exc.filename}" if getattr(exc, "filename", None) else ""
        print(f"error: {exc.strerror or one_line(exc)}{where}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: one line for the person, the traceback with -v
        if args.verbose:
            import traceback

            traceback.print_exc()
        print(f"error: internal error ({type(exc).__name__}: {one_line(exc)}); "
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


def run() -> None:
    """The ``genre-desktop-cli`` program: :func:`main` with the decoder notes filtered
    (``-v`` lets them through)."""
    if "-v" not in sys.argv[1:] and "--verbose" not in sys.argv[1:]:
        from genre_desktop.cli.terminal import filter_decoder_notes

        filter_decoder_notes()
    sys.exit(main())
