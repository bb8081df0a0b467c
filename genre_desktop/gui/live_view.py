"""The live view: device picker, level meter, scrolling spectrogram, genre now playing."""
from __future__ import annotations

import datetime as _dt
import logging
import time
from typing import TYPE_CHECKING, Optional

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (QCheckBox, QComboBox, QHBoxLayout, QLabel, QProgressBar, QPushButton,
                               QVBoxLayout, QWidget)

from genre_desktop.core.engine.audio.features import FeatureConfig, mel_band_frequencies
from genre_desktop.core.engine.classify.live import LiveError, LivePrediction, LiveSession, input_devices
from genre_desktop.core.engine.classify.verdicts import NOT_MUSIC_DETAIL, maybe_text
from genre_desktop.core.paths import user_data_folder
from genre_desktop.gui.track_view import VERDICT_COLORS, VERDICT_TITLES, HzAxis, genre_color, headline_label
from genre_desktop.gui.tasks import start_service
from genre_desktop.gui.theme import MUTED_STYLE, style_plot

if TYPE_CHECKING:
    from genre_desktop.core.engine.classify.classifier import Classifier
    from genre_desktop.gui.settings import Settings

log = logging.getLogger(__name__)
SPECTROGRAM_SECONDS = 10.0
STRIP_LENGTH = 24


class LiveWorker(QObject):
    """Owns the :class:`LiveSession` in its own thread; polls it every 20 ms."""

    update = Signal(object)  # LiveUpdate
    error = Signal(str)
    started = Signal(str, int)  # device name, rate
    stopped = Signal(object)  # the recording's path, or None

    def __init__(self):
        super().__init__()
        self.session: Optional[LiveSession] = None
        self.timer: Optional[QTimer] = None

    @Slot(object, object, float, bool)
    def start(self, classifier: "Classifier", device, hop: float, record: bool) -> None:
        target = None
        if record:
            target = user_data_folder() / "recordings" / f"live-{_dt.datetime.now():%Y%m%d-%H%M%S}.wav"
        try:
            self.session = LiveSession(classifier, device, hop_seconds=hop)
            self.session.start(record_to=target)
        except (LiveError, OSError) as exc:
            self.session = None
            self.error.emit(str(exc))
            return
        if self.timer is None:
            self.timer = QTimer()
            self.timer.setInterval(20)
            self.timer.timeout.connect(self._poll)
        self.timer.start()
        self.started.emit(self.session.capture.device_name, self.session.capture.sample_rate)

    @Slot()
    def stop(self) -> None:
        if self.timer is not None:
            self.timer.stop()
        if self.session is None:
            return
        session, self.session = self.session, None
        self.stopped.emit(session.stop())

    def _poll(self) -> None:
        if self.session is None:
            return
        try:
            update = self.session.poll()
        except LiveError as exc:
            self.stop()
            self.error.emit(str(exc))
            return
        if update.columns.shape[1] or update.predictions:
            self.update.emit(update)


class LivePanel(QWidget):
    """Listen/Stop, device picker, level meter, live spectrogram, genre now playing."""

    prediction_shown = Signal(object)  # LivePrediction, once on screen
    recording_saved = Signal(str)
    _start = Signal(object, object, float, bool)
    _stop = Signal()

    def __init__(self, settings: "Settings", parent=None):
        super().__init__(parent)
        self.settings = settings
        self.classifier: Optional["Classifier"] = None
        self.listening = False
        self.column_latency_ms: list[float] = []  # audio callback -> column drawn
        self.predictions: list[LivePrediction] = []
        self._build()
        self.worker = LiveWorker()
        self._live_thread = start_service(self.worker, "live")
        self._start.connect(self.worker.start)
        self._stop.connect(self.worker.stop)
        self.worker.update.connect(self._on_update)
        self.worker.error.connect(self._on_error)
        self.worker.started.connect(self._on_started)
        self.worker.stopped.connect(self._on_stopped)
        self.refresh_devices()

    def _build(self) -> None:
        self.device_box = QComboBox()
        self.device_box.setMinimumWidth(260)
        self.refresh_button = QPushButton("\u21bb")
        self.refresh_button.setToolTip("Look for input devices again")
        self.refresh_button.clicked.connect(self.refresh_devices)
        self.listen_button = QPushButton("\u25cf  Listen")
        self.listen_button.setCheckable(True)
        self.listen_button.clicked.connect(self.toggle)
        self.record_box = QCheckBox("Save recording")
        self.record_box.setChecked(self.settings.get("live/record"))
        self.level = QProgressBar()
        self.level.setRange(-60, 0)
        self.level.setValue(-60)
        self.level.setFormat("%v dBFS")
        self.level.setTextVisible(False)  # a meter, not a box of text: the level is in its tooltip
        self.level.setFixedSize(160, 10)
        self.level.setToolTip("Input level (dBFS)")
        self.level.setStyleSheet("QProgressBar { border: 1px solid palette(mid); border-radius: 2px; "
                                 "background: palette(base); } QProgressBar::chunk { background: #43a047; }")
        top = QHBoxLayout()
        top.addWidget(QLabel("Input:"))
        top.addWidget(self.device_box, 1)
        top.addWidget(self.refresh_button)
        top.addWidget(self.record_box)
        top.addWidget(QLabel("Level:"))
        top.addWidget(self.level)
        top.addWidget(self.listen_button)
        self.genre = headline_label("Press Listen and play some music", 24)
        self.detail = QLabel("")
        self.status = QLabel("")
        self.status.setStyleSheet(MUTED_STYLE)
        config = FeatureConfig()
        self.columns = int(SPECTROGRAM_SECONDS * config.frames_per_second)
        self.buffer = np.zeros((config.n_mels, self.columns), np.float32)
        plots = self.plots = pg.GraphicsLayoutWidget()
        self.strip_plot = plots.addPlot(row=0, col=0)
        self.strip_plot.setMaximumHeight(70)
        self.strip_plot.hideAxis("left")
        self.strip_plot.hideAxis("bottom")
        self.strip_plot.setMouseEnabled(False, False)
        self.strip_plot.setTitle("Recent slices (newest on the right)", size="9pt")
        self.strip = pg.BarGraphItem(x0=[], width=[], y0=0, height=1)
        self.strip_plot.addItem(self.strip)
        self.strip_plot.setXRange(0, STRIP_LENGTH, padding=0)
        self.strip_plot.setYRange(0, 1, padding=0)
        self.spec = plots.addPlot(row=1, col=0, axisItems={"left": HzAxis(mel_band_frequencies(config))})
        self.spec.setLabel("bottom", "time", units="s")
        self.spec.setLabel("left", "frequency (Hz)")
        self.spec.setMouseEnabled(False, False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(pg.colormap.get("inferno"))
        self.image.setImage(self.buffer, autoLevels=False, levels=(0.0, 6.0))
        self.image.setRect(-SPECTROGRAM_SECONDS, 0, SPECTROGRAM_SECONDS, config.n_mels)
        self.spec.addItem(self.image)
        self.spec.setXRange(-SPECTROGRAM_SECONDS, 0, padding=0)
        self.spec.setYRange(0, config.n_mels, padding=0)
        self.spec.getAxis("bottom").enableAutoSIPrefix(False)
        plots.setToolTip("Top: one bar per 2.5-s slice, coloured by its genre (the legend below names "
                         "them). Bottom: what the microphone hears, the last seconds.")
        self.restyle()
        self.strip_legend = QLabel("")  # the genres of the strip's bars, in their colours
        self.strip_legend.setTextFormat(Qt.RichText)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.genre)
        layout.addWidget(self.detail)
        layout.addWidget(plots, 1)
        layout.addWidget(self.strip_legend)
        layout.addWidget(self.status)

    # ---------------------------------------------------------------- devices
    def refresh_devices(self) -> None:
        remembered = self.settings.get("live/device")
        self.device_box.clear()
        self.device_box.addItem("System default input", None)
        for index, name in input_devices():
            self.device_box.addItem(name, name)
        i = self.device_box.findData(remembered) if remembered else 0
        self.device_box.setCurrentIndex(max(i, 0))
        if self.device_box.count() == 1:
            self.status.setText("No input device found: connect a microphone and press \u21bb.")

    def set_classifier(self, classifier: "Classifier") -> None:
        self.classifier = classifier

    # ---------------------------------------------------------------- listening
    def toggle(self) -> None:
        if self.listening:
            self.stop()
        else:
            self.start()

    def start(self) -> None:
        if self.classifier is None:
            self._on_error("the genre model is still loading")
            return
        device = self.device_box.currentData()
        self.settings.set("live/device", device or "")
        self.settings.set("live/record", self.record_box.isChecked())
        hop = self.settings.get("live/hop_seconds")
        self.listen_button.setEnabled(False)
        self.status.setText("Starting\u2026")
        self._start.emit(self.classifier, device, hop, self.record_box.isChecked())

    def stop(self) -> None:
        self._stop.emit()

    def _on_started(self, name: str, rate: int) -> None:
        self.listening = True
        self.buffer[:] = 0
        self.predictions.clear()
        self.listen_button.setEnabled(True)
        self.listen_button.setChecked(True)
        self.listen_button.setText("\u25a0  Stop")
        self.device_box.setEnabled(False)
        self.genre.setText("Listening\u2026")
        self.detail.setText("The first genre appears after 2.5 s of audio.")
        self.status.setText(f"Listening to {name} at {rate} Hz")

    def _on_update(self, update) -> None:
        k = update.columns.shape[1]
        if k:
            if k >= self.columns:
                self.buffer[:] = update.columns[:, -self.columns:]
            else:
                self.buffer[:, :-k] = self.buffer[:, k:]
                self.buffer[:, -k:] = update.columns
            self.image.setImage(self.buffer, autoLevels=False)
            if update.callback_time:
                self.column_latency_ms.append((time.perf_counter() - update.callback_time) * 1000)
                del self.column_latency_ms[:-1000]
        self.level.setValue(int(max(-60, min(0, update.level_dbfs))))
        if update.overflows:
            self.status.setText(f"Input overflows: {update.overflows} (audio was lost; is the machine busy?)")
        for p in update.predictions:
            self._show_prediction(p)

    def _show_prediction(self, p: LivePrediction) -> None:
        labels = self.classifier.labels if self.classifier else []
        self.predictions.append(p)
        del self.predictions[:-STRIP_LENGTH * 4]
        if p.smoothed_genre is None:
            self.genre.setText(VERDICT_TITLES["silence"])
            self.genre.setStyleSheet(MUTED_STYLE)
            self.detail.setText(f"Input level {p.level_dbfs:.0f} dBFS: turn the music up or move closer.")
        elif p.verdict in ("not_music", "unknown"):
            self.genre.setText(VERDICT_TITLES[p.verdict])
            self.genre.setStyleSheet(f"color: {VERDICT_COLORS[p.verdict]};")
            self.detail.setText((NOT_MUSIC_DETAIL if p.verdict == "not_music" else
                                 f"Music, but unlike this model's genres (closest: {p.smoothed_genre})")
                                + f"  ({p.time:.0f} s)")
        else:  # a genre, or "not sure" between genres: the same words as a file's verdict
            color = genre_color(labels, p.smoothed_genre).name()
            self.genre.setText(maybe_text(p.smoothed_genre) if p.verdict == "unsure"
                               else p.smoothed_genre.capitalize())
            self.genre.setStyleSheet(MUTED_STYLE if p.verdict == "unsure" else f"color: {color};")
            now = f"{p.genre} {p.confidence:.0%}" if p.genre else "quiet"
            why = f" ({p.reason})" if p.verdict == "unsure" and p.reason else ""
            self.detail.setText(f"{p.smoothed_confidence:.0%} over the last 10 s{why}; "
                                f"this slice: {now}  ({p.time:.0f} s)")
        recent = self.predictions[-STRIP_LENGTH:]
        offset = STRIP_LENGTH - len(recent)
        self.strip.setOpts(x0=[offset + i for i in range(len(recent))], width=[0.95] * len(recent),
                           y0=0, height=1, brushes=[pg.mkBrush(VERDICT_COLORS.get(q.verdict) or
                                                               genre_color(labels, q.genre)) for q in recent])
        self.strip_legend.setText(self.legend_text(recent, labels))
        self.prediction_shown.emit(p)

    @staticmethod
    def legend_text(recent: list, labels: list) -> str:
        """What the strip's colours mean: each genre (or verdict) among its bars, once."""
        seen: dict[str, str] = {}
        for q in recent:
            if q.verdict in VERDICT_COLORS:
                seen.setdefault(VERDICT_TITLES[q.verdict].lower(), VERDICT_COLORS[q.verdict])
            elif q.genre:
                seen.setdefault(q.genre, genre_color(labels, q.genre).name())
            else:
                seen.setdefault("quiet", genre_color(labels, None).name())
        return "&nbsp;&nbsp;".join(f"<span style='color:{c}'>\u25a0</span> {g}" for g, c in seen.items())

    def restyle(self) -> None:
        """Take the palette's colours (light or dark theme)."""
        style_plot(self.plots, [self.strip_plot, self.spec])

    def reset_meter(self) -> None:
        """Not listening: the meter reads nothing (it kept the last level before)."""
        self.level.setValue(self.level.minimum())

    def _on_error(self, message: str) -> None:
        self.listening = False
        self.listen_button.setEnabled(True)
        self.listen_button.setChecked(False)
        self.listen_button.setText("\u25cf  Listen")
        self.device_box.setEnabled(True)
        self.reset_meter()
        self.genre.setText("Cannot listen")  # said where the eye is, not in small grey text
        self.genre.setStyleSheet("color: palette(window-text);")
        self.detail.setText(message[:1].upper() + message[1:])
        self.status.setText("")

    def _on_stopped(self, recording) -> None:
        self.listening = False
        self.listen_button.setChecked(False)
        self.listen_button.setText("\u25cf  Listen")
        self.device_box.setEnabled(True)
        self.reset_meter()
        self.status.setText("Stopped.")
        if recording is not None:
            self.status.setText(f"Stopped. Recording saved to {recording}")
            self.recording_saved.emit(str(recording))

    def shutdown(self) -> None:
        self._stop.emit()
        self._live_thread.quit()
        self._live_thread.wait(3000)
