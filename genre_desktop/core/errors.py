"""The one exception root of genre-desktop.

Every error the app raises on purpose derives from :class:`GenreDesktopError` (librosa's
``ParameterError`` is the model): the CLI turns any of them into one line and exit status
``exit_code`` (2), the window into one line in the status bar or a message box, without a
traceback (an ``OSError`` too: exit status 1). Anything else is a bug: "internal error",
exit status 3, and the traceback in the window's log. ``tests/test_errors.py`` checks that
every exception class of the package derives from the root. Errors
that callers also catch as built-in kinds keep that kind as a second base (a name that is
not valid is still a ``ValueError``, a file that is not regular still an ``OSError``).

An error that rooms share lives here (the model bundle's), so that no module imports another
only for its error type; the rest live beside the code that raises them.
"""
from __future__ import annotations


class GenreDesktopError(Exception):
    """Something the app refuses or cannot do; the message says why, in one line."""

    #: what ``genre-desktop-cli`` exits with (2: refused; file errors say 1)
    exit_code = 2


class BundleError(GenreDesktopError):
    """A model bundle cannot be used; the message says why, in one line."""
