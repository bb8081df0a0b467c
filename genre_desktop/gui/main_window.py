"""The main window: drop tracks, see their genre over time, play them."""
from __future__ import annotations

import gc
import logging
from pathlib import Path
from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QHBoxLayout, QMainWindow, QProgressBar, QPushButton, QSplitter,
                               QTabWidget, QVBoxLayout, QWidget)

from genre_desktop.core.engine.audio.sources import expand_paths
from genre_desktop.gui.file_menu import FileMenu
from genre_desktop.gui.help_menu import HelpMenu
from genre_desktop.gui.library_view import LibraryView
from genre_desktop.gui.theme import install_theme_menu
from genre_desktop.gui.live_view import LivePanel
from genre_desktop.gui.model_menu import ModelMenu
from genre_desktop.gui.track_actions import TrackActions
from genre_desktop.gui.track_list import track_list_view
from genre_desktop.gui.settings import Settings, app_settings
from genre_desktop.gui.track_table import TrackTableModel, sortable
from genre_desktop.gui.track_view import TrackPlots, VerdictPanel
from genre_desktop.gui.playback_controls import PlaybackController
from genre_desktop.gui.analysis import AnalysisQueue, QueueProgress

log = logging.getLogger(__name__)


class MainWindow(QMainWindow):
    """Drop files or folders; a worker thread analyses them; results fill the table.

    Implements :class:`~genre_desktop.gui.window_api.WindowApi`, all its menus see of it.
    """

    verdict_ready = Signal(str, object)  # path, TrackResult (after the table is updated)
    track_failed = Signal(str, str)
    model_ready = Signal(object)  # ModelBundle

    def __init__(self, settings: Optional[Settings] = None):
        super().__init__()
        self.settings = settings or app_settings()
        self.setWindowTitle("Genre Desktop")
        self.setAcceptDrops(True)
        self.bundle = None  # core.bundle.ModelBundle, once loaded
        self.playback = PlaybackController(self)
        self.play_button = self.playback.button
        self._build_widgets()
        self._build_menus()
        self.analysis_queue = AnalysisQueue(self)  # each model load and analysis runs in a Task of its own
        queue = self.analysis_queue
        queue.model_loaded.connect(self._on_model_loaded)
        queue.model_failed.connect(self._on_model_failed)
        queue.started.connect(self._on_started)
        queue.progress.connect(self._on_progress)
        queue.finished.connect(self._on_finished)
        queue.failed.connect(self._on_failed)
        queue.cancelled.connect(self._on_cancelled)
        queue.idle.connect(self._on_idle)
        self.playback.position.connect(self.plots.set_cursor)
        self.playback.message.connect(lambda text: self.show_status(text, 10000))
        geometry = self.settings.get("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1180, 720)

    # ---------------------------------------------------------------- layout
    def _build_widgets(self) -> None:
        self.table_model = TrackTableModel(self)
        self.proxy = sortable(self.table_model, self)
        self.table = track_list_view(self.proxy)
        self.table.selectionModel().currentRowChanged.connect(self._on_row_selected)
        self.verdict = VerdictPanel()
        self.plots = TrackPlots()
        self.plots.seek_requested.connect(self.playback.seek)
        self.play_button.clicked.connect(lambda _checked=False: self.toggle_playback())
        self.skip_button = QPushButton("Skip this file")
        self.skip_button.setToolTip("Stop analysing the current file; the queue goes on")
        self.skip_button.setEnabled(False)
        self.skip_button.clicked.connect(lambda _checked=False: self.skip_current())
        self.cancel_button = QPushButton("Cancel all")
        self.cancel_button.setToolTip("Stop analysing and empty the queue")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(lambda _checked=False: self.cancel_analysis())
        controls = QHBoxLayout()
        controls.addWidget(self.play_button)
        controls.addStretch(1)
        controls.addWidget(self.skip_button)
        controls.addWidget(self.cancel_button)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.addWidget(self.verdict)
        rl.addWidget(self.plots, 1)
        rl.addLayout(controls)
        splitter = QSplitter()
        splitter.addWidget(self.table)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 2)
        splitter.setSizes([440, 740])
        self.live = LivePanel(self.settings)
        self.live.recording_saved.connect(lambda path: self.open_paths([path]))
        self.tabs = QTabWidget()
        self.tabs.addTab(splitter, "Tracks")
        self.tabs.addTab(self.live, "Listen live")
        self.library = LibraryView(self.settings)
        self.library.open_requested.connect(self.show_tracks)
        self.library.message.connect(lambda text: self.show_status(text, 15000))
        self.tabs.addTab(self.library, "Library")
        self.setCentralWidget(self.tabs)
        self.queue_progress = QueueProgress()
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setMaximumWidth(320)
        self.progress.setVisible(False)
        self.statusBar().addPermanentWidget(self.progress)
        self.statusBar().showMessage("Loading the genre model\u2026")

    def _build_menus(self) -> None:
        self.file_menu = FileMenu(self.menuBar().addMenu("&File"), self)
        self.track_actions = TrackActions(self, self.table, self.table_model, self.library)
        self.model_menu = ModelMenu(self.menuBar().addMenu("&Model"), self)
        self.theme, self.theme_actions = install_theme_menu(self.menuBar().addMenu("&View"), self.settings, self)
        self.theme.changed.connect(self._restyle)
        self.help = HelpMenu(self.menuBar().addMenu("&Help"), self)
        self.play_action = QAction("Play/Pause", self)
        self.play_action.setShortcut(QKeySequence(Qt.Key_Space))
        self.play_action.triggered.connect(lambda _checked=False: self.toggle_playback())
        self.addAction(self.play_action)
        self.model_menu.refresh()

    def set_theme(self, key: str) -> None:
        self.theme_actions[key].trigger()

    def _restyle(self) -> None:
        self.plots.restyle()
        self.live.restyle()
        selected = self.selected_path()
        if selected:  # style sheets read the palette when set: set them again
            self._show_row(selected)

    # ---------------------------------------------------------------- models
    def start(self) -> None:
        """Load the chosen model in the background (call once the window is shown)."""
        self.switch_model(self.settings.get("model/name") or None, remember=False)

    def switch_model(self, name_or_path: Optional[str], remember: bool = True) -> None:
        """Load a model (a name or a folder; None: the bundled default) in the background."""
        self.model_menu.switch(name_or_path, remember)

    def _on_model_loaded(self, bundle) -> None:  # core.bundle.ModelBundle
        import copy
        import dataclasses

        from genre_desktop.core.engine.classify.classifier import Classifier

        self.bundle = bundle
        # the live thread gets its own copy of the network: one nn.Module is never run
        # from two threads at once (the analysis tasks use the original)
        self.live.set_classifier(Classifier(dataclasses.replace(bundle, network=copy.deepcopy(bundle.network))))
        # torch, librosa & co. are imported by now: move their objects out of the cyclic
        # collector's sight, so a full collection never stalls the GUI for ~100 ms
        gc.freeze()
        self.plots.config = bundle.features
        notice = f" \u2014 {self.model_menu.notice}" if self.model_menu.notice else ""
        self.show_status(f"Model: {bundle.name} \u2014 {len(bundle.labels)} genres{notice}", 15000)
        self.model_menu.refresh()
        self.library.set_model(str(bundle.path))
        self.model_ready.emit(bundle)

    def _on_model_failed(self, folder: str, message: str) -> None:
        self.model_menu.failed(folder, message)

    def load_model(self, folder: str) -> None:
        self.analysis_queue.load_model(folder)

    # ---------------------------------------------------------------- messages and tabs
    def show_status(self, text: str, timeout_ms: int = 0) -> None:
        self.statusBar().showMessage(text, timeout_ms)

    def show_notice(self, title: str, text: str) -> None:
        self.verdict.show_message(title, text)

    def show_library(self) -> LibraryView:
        self.tabs.setCurrentWidget(self.library)
        return self.library

    def step_tab(self, step: int) -> None:
        self.tabs.setCurrentIndex((self.tabs.currentIndex() + step) % self.tabs.count())

    # ---------------------------------------------------------------- opening
    def open_paths(self, paths: list[str]) -> int:
        """Queue files and folders for analysis; returns how many files were added."""
        found, problems = expand_paths(paths)
        files = [str(f) for f in found]
        rejected = [f"{Path(p).name}: {reason}" for p, reason in problems]
        added = [f for f in files if self.table_model.add(f)]
        if rejected:
            msg = "; ".join(rejected[:3]) + (f" (and {len(rejected) - 3} more)" if len(rejected) > 3 else "")
            self.show_status(f"Skipped: {msg}", 10000)
            if not added and not self.table_model.rows:
                self.verdict.show_message("Nothing to analyse", msg)
        if added:
            self.file_menu.recent.remember(paths)
            self._queue(added)
            self.select_path(added[0])  # what was just opened is what the person wants to see
        return len(added)

    def _queue(self, paths: list[str]) -> None:
        self.queue_progress.add(len(paths))
        self.analysis_queue.enqueue(paths)
        self.cancel_button.setEnabled(True)
        self.skip_button.setEnabled(True)
        self.progress.setVisible(True)
        self._show_queue_progress(0.0)
        self.analysis_queue.process()

    def _show_queue_progress(self, fraction: float) -> None:
        """The status bar's bar: "12 of 500 \u00b7 about 3 min left" over the whole queue."""
        self.progress.setValue(int(self.queue_progress.fraction(fraction) * 1000))
        self.progress.setFormat(self.queue_progress.text(fraction))

    def open_handed_off(self, paths: list[str]) -> None:
        """Files another ``genre-desktop`` process was asked to open: here, in front."""
        if paths:
            self.tabs.setCurrentIndex(0)
            self.open_paths(paths)
            self.settings.sync()
        if self.isMinimized():
            self.showNormal()
        self.raise_()
        self.activateWindow()

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        self.dragEnterEvent(event)

    def dropEvent(self, event) -> None:
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if not paths:  # a web link or another program's data: nothing on this computer to open
            event.ignore()
            self.show_status("Only files and folders on this computer can be opened.", 8000)
            return
        event.acceptProposedAction()
        self.show_tracks(paths)

    # ---------------------------------------------------------------- analysis
    def _on_started(self, path: str) -> None:
        self.table_model.update(path, status="analysing", progress=0.0)
        self._refresh_if_selected(path)

    def _on_cancelled(self, path: str) -> None:
        self.queue_progress.one_done()
        self.table_model.update(path, status="cancelled")
        self._refresh_if_selected(path)

    def _refresh_if_selected(self, path: str) -> None:
        if self.selected_path() == path:
            self._show_row(path)

    def _on_progress(self, path: str, fraction: float) -> None:
        self.table_model.update(path, progress=fraction)
        self._show_queue_progress(fraction)

    def _on_finished(self, path: str, result) -> None:
        self.queue_progress.one_done()
        self.table_model.update(path, status="done", result=result)
        self._refresh_if_selected(path)
        self.verdict_ready.emit(path, result)

    def show_tracks(self, paths: list[str]) -> None:
        """Bring the Tracks tab to the front and open ``paths`` there, the first selected."""
        self.tabs.setCurrentIndex(0)
        self.open_paths(paths)
        self.select_path(paths[0])  # already in the list, or just added

    def _on_failed(self, path: str, reason: str) -> None:
        self.queue_progress.one_done()
        self.table_model.update(path, status="error", error=reason)
        self._refresh_if_selected(path)
        self.track_failed.emit(path, reason)

    def _on_idle(self) -> None:
        self.queue_progress.reset()
        self.track_actions.update_enabled()
        self.progress.setVisible(False)
        self.cancel_button.setEnabled(False)
        self.skip_button.setEnabled(False)
        done = sum(r.status == "done" for r in self.table_model.rows)
        self.show_status(f"{done} of {len(self.table_model.rows)} tracks analysed", 8000)

    def skip_current(self) -> None:
        """Cancel the file being analysed only (it can be opened again later)."""
        if self.analysis_queue.current_path is not None:
            self.analysis_queue.discard([self.analysis_queue.current_path])

    def cancel_analysis(self) -> None:
        dropped = self.analysis_queue.cancel_all()
        self.queue_progress.drop(len(dropped))
        for path in dropped:
            self.table_model.update(path, status="cancelled")
            self._refresh_if_selected(path)
        self.track_actions.update_enabled()

    def reanalyse(self, paths: list[str]) -> None:
        """Analyse listed tracks again (with the current model)."""
        again = [p for p in paths if self.table_model.row_for(p) is not None]
        for path in again:
            self.table_model.update(path, status="queued", result=None, error="", progress=0.0)
            self._refresh_if_selected(path)
        self.analysis_queue.discard(again)
        self._queue(again)

    def remove_tracks(self, paths: list[str]) -> None:
        self.analysis_queue.discard(paths)
        for path in paths:
            if self.selected_path() == path:
                self.playback.stop()
            self.table_model.remove(path)
        if not self.table_model.rows:
            self.plots.clear()
            self.verdict.show_message("Drop music here", "or use File \u203a Open (Ctrl+O)")

    def clear_tracks(self) -> None:
        self.cancel_analysis()
        self.playback.stop()
        self.table_model.clear()
        self.plots.clear()
        self.verdict.show_message("Drop music here", "or use File \u203a Open (Ctrl+O)")

    def export_results(self, target: Path) -> Optional[int]:
        """The analysed tracks to a CSV or JSON file; None while no model is loaded."""
        if self.library.ref is None:
            return None
        return self.table_model.export(target, self.library.ref)

    # ---------------------------------------------------------------- selection and playback
    def selected_path(self) -> Optional[str]:
        index = self.table.currentIndex()
        if not index.isValid():
            return None
        return self.table_model.rows[self.proxy.mapToSource(index).row()].path

    def select_path(self, path: str) -> None:
        """Select a track's row (whatever the sort order)."""
        row = self.table_model.row_for(path)
        if row is not None:
            source = self.table_model.index(self.table_model.rows.index(row), 0)
            self.table.selectRow(self.proxy.mapFromSource(source).row())

    def _on_row_selected(self, current, previous) -> None:
        path = self.selected_path()
        if path:
            self._show_row(path)

    def _show_row(self, path: str) -> None:
        row = self.table_model.row_for(path)
        if row is None:
            return
        self.verdict.show_track(self.library.track_name(path), path)
        if row.result is not None:
            self.verdict.show_result(row.result)
            self.plots.show_result(row.result)
            self.play_button.setEnabled(True)
        else:
            self.play_button.setEnabled(False)
            title = {"error": "Could not read this file",
                     "cancelled": "Analysis cancelled (open the file again to analyse it)"}.get(
                row.status, "Analysing\u2026" if row.status == "analysing" else "Waiting to be analysed\u2026")
            self.plots.show_placeholder({"error": "Nothing to draw: the file could not be read.",
                                         "cancelled": "Not analysed."}.get(
                row.status, "The genre timeline and the spectrogram appear once the track is analysed."))
            self.verdict.show_message(title, row.error or "")

    def toggle_playback(self) -> None:
        self.playback.toggle(self.selected_path())

    # ---------------------------------------------------------------- dialogs
    def open_wizard(self):
        return self.model_menu.open_wizard()

    def shutdown(self) -> None:
        """Stop playback and the worker threads (idempotent)."""
        self.analysis_queue.shutdown()
        self.playback.shutdown()
        self.live.shutdown()
        self.library.shutdown()

    def closeEvent(self, event) -> None:
        self.settings.set("window/geometry", self.saveGeometry())
        self.shutdown()
        super().closeEvent(event)
