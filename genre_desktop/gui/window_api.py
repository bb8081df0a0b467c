"""What the menus may ask of the main window: a narrow, typed API.

The File, Track, Model and Help menus are built by the window and act on it. They import
this module, never :mod:`genre_desktop.gui.main_window` (not even for type checking), so
the window and its menus form no import cycle and a menu can be tested against anything
that has these few methods. :class:`~genre_desktop.gui.main_window.MainWindow` implements
it; the Qt methods listed last are a ``QMainWindow``'s own, and the menus also use the
window as the parent of the dialogs they open.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional, Protocol

if TYPE_CHECKING:  # types only; none of these imports the window
    from PySide6.QtGui import QAction
    from PySide6.QtWidgets import QMenuBar

    from genre_desktop.core.engine.models.bundle import ModelBundle
    from genre_desktop.gui.library_view import LibraryView
    from genre_desktop.gui.settings import Settings


class WindowApi(Protocol):
    """The main window as its menus see it.

    Attributes
    ----------
    settings : Settings
        The app's settings (the menus read and remember folders and the chosen model).
    bundle : ModelBundle or None
        The model in use, once loaded.
    """

    settings: "Settings"
    bundle: Optional["ModelBundle"]

    # ---------------------------------------------------------------- the track list
    def selected_path(self) -> Optional[str]:
        """The selected track's path, or None."""

    def open_paths(self, paths: list[str]) -> int:
        """Queue files and folders for analysis; how many files were added."""

    def show_tracks(self, paths: list[str]) -> None:
        """Bring the Tracks tab to the front, open ``paths`` there and select the first."""

    def reanalyse(self, paths: list[str]) -> None:
        """Analyse listed tracks again with the current model."""

    def remove_tracks(self, paths: list[str]) -> None:
        """Take tracks off the list (their analysis stops)."""

    def clear_tracks(self) -> None:
        """Empty the list."""

    def export_results(self, target: Path) -> Optional[int]:
        """Write the analysed tracks to ``target`` (CSV or JSON); how many were written, or
        None (and nothing written) while no model is loaded. Raises OSError if it cannot write."""

    # ---------------------------------------------------------------- models and messages
    def load_model(self, folder: str) -> None:
        """Load the model in ``folder`` in the background (answers in the window)."""

    def show_status(self, text: str, timeout_ms: int = 0) -> None:
        """A line in the status bar (0: until the next one)."""

    def show_notice(self, title: str, text: str) -> None:
        """A message in the verdict panel, where a track's verdict would be."""

    def show_library(self) -> "LibraryView":
        """Bring the Library tab to the front; the library view."""

    def step_tab(self, step: int) -> None:
        """Show the tab ``step`` places on (wrapping round)."""

    # ---------------------------------------------------------------- QMainWindow's own
    def menuBar(self) -> "QMenuBar":
        ...

    def addAction(self, action: "QAction") -> None:
        ...

    def actions(self) -> list["QAction"]:
        ...

    def close(self) -> bool:
        ...
