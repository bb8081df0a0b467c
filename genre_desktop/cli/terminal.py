"""The command line's terminal: the long-work progress as a bar, and C libraries' chatter
kept out of it."""
from __future__ import annotations

import sys

#: what decoder libraries (libmpg123 inside libsndfile) print straight to the C stderr
DECODER_NOTES = ("Note: ", "Warning: Encountered more data", "[src/libmpg123/", "Note: Trying to resync",
                 "Note: Hit end of")


def filter_decoder_notes() -> None:
    """Keep decoder libraries' notes ("Note: Illegal Audio-MPEG-Header ...") out of the
    terminal: the C-level stderr goes through a pipe whose lines are passed on unless they
    are such notes; Python's own stderr writes straight to the terminal. The app says what
    went wrong with a file in its own one-line message instead."""
    import os
    import threading

    try:
        terminal = os.dup(2)
        read_end, write_end = os.pipe()
        os.dup2(write_end, 2)
        os.close(write_end)
    except OSError:
        return
    sys.stderr = open(os.dup(terminal), "w", buffering=1, encoding=sys.stderr.encoding or "utf-8",
                      errors="backslashreplace")

    def forward() -> None:
        with open(read_end, "rb", buffering=0) as pipe:
            for line in pipe:
                if not line.decode("utf-8", "replace").startswith(DECODER_NOTES):
                    os.write(terminal, line)

    threading.Thread(target=forward, name="stderr-filter", daemon=True).start()


class ProgressBar:
    """The long-work contract's ``progress(fraction, message)`` as a tqdm bar on stderr;
    ``with ProgressBar(...) as bar:`` closes it however the work ends."""

    def __init__(self, enabled: bool = True):
        from tqdm import tqdm

        self.bar = tqdm(total=1000, file=sys.stderr, disable=not enabled,
                        bar_format="{l_bar}{bar}| {elapsed}<{remaining}")

    def __call__(self, fraction: float, message: str) -> None:
        self.bar.n = int(min(max(fraction, 0.0), 1.0) * 1000)
        self.bar.set_description_str(message[:70], refresh=True)

    def close(self) -> None:
        self.bar.close()

    def __enter__(self) -> "ProgressBar":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def print_write_summary(summary, done: str) -> int:
    """The end of a tag write on the command line: each failed file on stderr, then one
    line ("batch N: K files <done>, M failed (undo with: ...)"); returns the exit code
    (1 when a file failed)."""
    for path, reason in summary.failed:
        print(f"{path}\terror: {reason}", file=sys.stderr)
    print(f"batch {summary.batch_id}: {summary.written:,} files {done}, {len(summary.failed):,} failed "
          f"(undo with: genre-desktop-cli library undo-tags {summary.batch_id})")
    return 1 if summary.failed else 0
