"""The selected track: verdict with top-3 bars, genre timeline, spectrogram, cursor."""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QProgressBar, QVBoxLayout, QWidget

from genre_desktop.core.engine.audio.features import FeatureConfig, mel_band_frequencies
from genre_desktop.core.engine.classify.verdicts import TITLES, maybe_text
from genre_desktop.gui.theme import MUTED_STYLE, style_plot

if TYPE_CHECKING:
    from genre_desktop.core.engine.classify.result import TrackResult

# distinct, saturated colours (no greys: grey means silence or "not sure")
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#17becf", "#bcbd22", "#393b79", "#637939", "#843c39", "#7b4173", "#e6550d",
           "#31a354", "#3182bd", "#756bb1", "#a55194", "#8c6d31", "#6baed6"]


def genre_color(labels: list[str], genre: Optional[str]) -> QColor:
    if genre is None or genre not in labels:
        return QColor("#bdbdbd")
    return QColor(PALETTE[labels.index(genre) % len(PALETTE)])


def headline_label(text: str, point_size: int = 26) -> QLabel:
    """The large bold label that names a genre (track verdict, live "now playing")."""
    label = QLabel(text)
    font = QFont()
    font.setPointSize(point_size)
    font.setBold(True)
    label.setFont(font)
    return label


class VerdictPanel(QFrame):
    """Genre in large type, confidence, an explicit "not sure" line and top-3 bars."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("verdict")
        self.track = QLabel("")  # which track this is: title and artist when tagged, else the file name
        self.track.setWordWrap(True)
        self.track.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.track.setStyleSheet("font-weight: bold;")
        self.genre = headline_label("Drop music here")
        self.detail = QLabel("or use File \u203a Open (Ctrl+O)")
        self.detail.setWordWrap(True)
        self.tags = QLabel("")
        self.tags.setWordWrap(True)
        self.tags.setStyleSheet(MUTED_STYLE)
        self.bars: list[tuple[QLabel, QProgressBar]] = []
        grid = QGridLayout()
        for i in range(3):
            name, bar = QLabel(""), QProgressBar()
            bar.setRange(0, 1000)
            bar.setTextVisible(True)
            bar.setFixedHeight(18)
            bar.setAlignment(Qt.AlignCenter)
            grid.addWidget(name, i, 0)
            grid.addWidget(bar, i, 1)
            self.bars.append((name, bar))
        grid.setColumnStretch(1, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.track)
        layout.addWidget(self.genre)
        layout.addWidget(self.detail)
        layout.addLayout(grid)
        layout.addWidget(self.tags)
        self.show_message("Drop music here", "or use File \u203a Open (Ctrl+O)")
        self.show_track("")

    def show_track(self, name: str, path: str = "") -> None:
        """Name the track the panel is about (empty: none)."""
        self.track.setText(name)
        self.track.setToolTip(path)
        self.track.setVisible(bool(name))

    def show_message(self, title: str, detail: str = "") -> None:
        self.genre.setText(title)
        self.genre.setStyleSheet("color: palette(window-text);")
        self.detail.setText(detail)
        self.tags.setText("")
        for name, bar in self.bars:
            name.setText("")
            bar.setValue(0)
            bar.setVisible(False)

    def show_result(self, result: "TrackResult") -> None:
        minutes, seconds = divmod(int(round(result.duration)), 60)
        if result.verdict == "silence":
            self.show_message(VERDICT_TITLES["silence"], result.reason)
            return
        if result.verdict in ("not_music", "unknown"):
            title = VERDICT_TITLES[result.verdict]
            self.show_message(title, f"{result.reason[:1].upper()}{result.reason[1:]}.  {minutes}:{seconds:02d} long")
            self.genre.setStyleSheet(f"color: {VERDICT_COLORS[result.verdict]};")
            self._show_bars(result)  # the genres the model did hear stay in view (issue 25)
            self._add_notes(result)
            return
        color = genre_color(result.labels, result.genre)
        if result.uncertain:
            self.genre.setText(maybe_text(result.genre))
            self.genre.setStyleSheet(MUTED_STYLE)
            self.detail.setText(f"{result.reason}.  {minutes}:{seconds:02d} long, "
                                f"{len(result.slices)} slices")
        else:
            self.genre.setText(result.genre.capitalize())
            self.genre.setStyleSheet(f"color: {color.name()};")
            self.detail.setText(f"{result.confidence:.0%} confident; {result.agreement:.0%} of "
                                f"{len(result.slices)} slices agree.  {minutes}:{seconds:02d} long")
        self._show_bars(result)
        self.tags.setText("Sounds like: " + ", ".join(t for t, _ in result.tags) if result.tags else "")
        self._add_notes(result)

    def _show_bars(self, result: "TrackResult") -> None:
        """The top 3 genres as bars, whatever the verdict."""
        for (name, bar), (label, prob) in zip(self.bars, result.top(3)):
            name.setText(label)
            bar.setVisible(True)
            bar.setValue(int(prob * 1000))
            bar.setFormat(f"{prob:.0%}")
            bar.setStyleSheet("QProgressBar { background: palette(base); border: 1px solid palette(mid); "
                              "color: palette(text); } "
                              f"QProgressBar::chunk {{ background: {genre_color(result.labels, label).name()}; }}")

    def _add_notes(self, result: "TrackResult") -> None:
        """What is wrong with the file itself ("truncated: ..."), under the verdict."""
        if result.notes:
            self.detail.setText(self.detail.text() + "".join(f"\n\u26a0 {n[:1].upper()}{n[1:]}." for n in result.notes))


#: headline and colour of the verdicts that name no genre
VERDICT_TITLES = TITLES
HATCH_BANDS = 6  # stripes of a hedged track's timeline
VERDICT_COLORS = {"not_music": "#8d6e63", "unknown": "#5c6bc0", "silence": "#757575"}


class HzAxis(pg.AxisItem):
    """Left axis of the spectrogram: mel band index shown as Hz."""

    def __init__(self, freqs: np.ndarray):
        super().__init__("left")
        self.freqs = freqs

    def tickStrings(self, values, scale, spacing):
        out = []
        for v in values:
            i = int(np.clip(round(v), 0, len(self.freqs) - 1))
            hz = self.freqs[i]
            out.append(f"{hz / 1000:.1f}k" if hz >= 1000 else f"{hz:.0f}")
        return out


class TrackPlots(QWidget):
    """Genre timeline above the log-mel spectrogram, sharing a time axis in seconds."""

    seek_requested = Signal(float)  # seconds

    def __init__(self, config: Optional[FeatureConfig] = None, parent=None):
        super().__init__(parent)
        self.config = config or FeatureConfig()
        self.layout_widget = pg.GraphicsLayoutWidget()
        self.timeline = self.layout_widget.addPlot(row=0, col=0)
        self.timeline.setMaximumHeight(90)
        self.timeline.hideAxis("left")
        self.timeline.hideAxis("bottom")
        self.timeline.setMouseEnabled(x=False, y=False)
        self.timeline.setMenuEnabled(False)
        self.timeline.setTitle("Genre over time (one cell per 2.5-s slice; hover for details)", size="9pt")
        self.spec_axis = HzAxis(mel_band_frequencies(self.config))
        self.spec = self.layout_widget.addPlot(row=1, col=0, axisItems={"left": self.spec_axis})
        self.spec.setLabel("bottom", "time", units="s")
        self.spec.setLabel("left", "frequency (Hz)")
        self.spec.setMouseEnabled(x=True, y=False)
        self.spec.setMenuEnabled(False)
        self.timeline.setXLink(self.spec)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(pg.colormap.get("inferno"))
        self.spec.addItem(self.image)
        self.cursors = [pg.InfiniteLine(pos=0, angle=90, pen=pg.mkPen("#00e5ff", width=2)) for _ in range(2)]
        self.timeline.addItem(self.cursors[0])
        self.spec.addItem(self.cursors[1])
        for c in self.cursors:
            c.setVisible(False)
        # the timeline is one RGB image row (one pixel per slice): cheap for hour-long tracks
        self.cells = pg.ImageItem(axisOrder="row-major")
        self.timeline.addItem(self.cells)
        self.separators = pg.PlotDataItem(pen=pg.mkPen("w", width=1), connect="pairs")
        self.timeline.addItem(self.separators)
        self.result: Optional["TrackResult"] = None
        self.legend = QLabel("")
        self.legend.setTextFormat(Qt.RichText)
        self.placeholder = QLabel("")  # said instead of empty axes (nothing selected, an error row)
        self.placeholder.setAlignment(Qt.AlignCenter)
        self.placeholder.setWordWrap(True)
        self.placeholder.setStyleSheet(MUTED_STYLE)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.layout_widget)
        layout.addWidget(self.placeholder, 1)
        layout.addWidget(self.legend)
        self.layout_widget.scene().sigMouseMoved.connect(self._hover)
        self.layout_widget.scene().sigMouseClicked.connect(self._click)
        self.spec.getAxis("bottom").enableAutoSIPrefix(False)  # seconds stay seconds, never "(x0.001)"
        self.restyle()
        self.clear()

    def restyle(self) -> None:
        """Take the palette's colours (light or dark theme)."""
        style_plot(self.layout_widget, [self.timeline, self.spec])

    EMPTY_SECONDS = 30.0  # the time axis of the empty plots

    def show_placeholder(self, text: str) -> None:
        """No track to draw: a line of text where the plots would be, not empty axes."""
        self.clear()
        self.layout_widget.setVisible(False)
        self.placeholder.setText(text)
        self.placeholder.setVisible(True)

    def _limit(self, seconds: float) -> None:
        """Panning and zooming stay on the track (a right-drag cannot zoom onto empty axes)."""
        self.spec.setLimits(xMin=0, xMax=seconds, yMin=0, yMax=self.config.n_mels,
                            minXRange=min(1.0, seconds), maxXRange=seconds)

    def clear(self) -> None:
        """Empty plots with sensible axes: 0-30 s, the mel bands' own frequencies."""
        self.layout_widget.setVisible(True)
        self.placeholder.setVisible(False)
        self.result = None
        self.image.clear()
        self.cells.clear()
        self.separators.setData([], [])
        self.legend.setText("")
        for c in self.cursors:
            c.setVisible(False)
        self._limit(self.EMPTY_SECONDS)
        self.spec.setXRange(0, self.EMPTY_SECONDS, padding=0)
        self.spec.setYRange(0, self.config.n_mels, padding=0)

    def show_result(self, result: "TrackResult") -> None:
        self.clear()
        self.result = result
        if result.spectrogram is not None and result.spectrogram.size:
            # already pooled to a displayable width while decoding (classify_file)
            pooled = np.asarray(result.spectrogram, np.float32)
            self.image.setImage(pooled, autoLevels=False, levels=(0.0, max(float(pooled.max()), 1.0)))
            seconds_per_col = result.spectrogram_factor / result.frames_per_second
            self.image.setRect(0, 0, pooled.shape[1] * seconds_per_col, pooled.shape[0])
        slices = result.slices
        outlier = result.verdict in ("not_music", "unknown")  # the track names no genre: its cells keep theirs
        if slices:
            palette = {g: genre_color(result.labels, g).getRgb()[:3] for g in {s.genre for s in slices}}
            rgb = np.array([[palette[s.genre] for s in slices]], np.uint8)  # (1, n_slices, 3)
            if outlier:  # hatched: every other band in the verdict's colour, the genre between
                hedge = np.array(QColor(VERDICT_COLORS[result.verdict]).getRgb()[:3], np.uint8)
                rgb = np.repeat(rgb, HATCH_BANDS, axis=0)  # (bands, n_slices, 3)
                rgb[::2] = hedge
            self.cells.setImage(rgb, autoLevels=False, levels=(0, 255))
            span = max(slices[-1].end, result.duration, 0.1)
            self.cells.setRect(0, 0, span, 1)
            if len(slices) <= 200:  # white lines between cells while they are wide enough to see
                edges = np.repeat(np.linspace(0, span, len(slices) + 1)[1:-1], 2)
                self.separators.setData(edges, np.tile([0.0, 1.0], len(edges) // 2))
        self._limit(max(result.duration, 0.1))
        self.spec.setXRange(0, max(result.duration, 0.1), padding=0)
        self.spec.setYRange(0, self.config.n_mels, padding=0)
        self.timeline.setYRange(0, 1, padding=0)
        seen = []
        for s in slices:
            if s.genre and s.genre not in seen:
                seen.append(s.genre)
        legend = "&nbsp;&nbsp;".join(
            f"<span style='color:{genre_color(result.labels, g).name()}'>\u25a0</span> {g}" for g in seen)
        if outlier:
            legend = (f"<span style='color:{VERDICT_COLORS[result.verdict]}'>\u25a0</span> striped: "
                      f"{VERDICT_TITLES[result.verdict].lower()}; closest per slice:&nbsp;&nbsp;{legend}")
        self.legend.setText(legend)
        for c in self.cursors:
            c.setVisible(True)
            c.setValue(0)

    def set_cursor(self, seconds: float) -> None:
        for c in self.cursors:
            c.setValue(seconds)

    def slice_at(self, seconds: float):
        if self.result is None:
            return None
        for s in self.result.slices:
            if s.start <= seconds < s.end:
                return s
        return None

    def _scene_seconds(self, pos) -> Optional[float]:
        for plot in (self.timeline, self.spec):
            if plot.sceneBoundingRect().contains(pos):
                return float(plot.vb.mapSceneToView(pos).x())
        return None

    def _hover(self, pos) -> None:
        seconds = self._scene_seconds(pos)
        s = self.slice_at(seconds) if seconds is not None else None
        if s is None or self.result is None:
            self.layout_widget.setToolTip("")
            return
        if s.silent:
            text = "silence"
        else:
            order = np.argsort(s.probs)[::-1][:3]
            text = "<br>".join(f"{self.result.labels[i]}: {s.probs[i]:.0%}" for i in order)
        self.layout_widget.setToolTip(f"<b>{s.start:.1f}\u2013{s.end:.1f} s</b><br>{text}")

    def _click(self, event) -> None:
        seconds = self._scene_seconds(event.scenePos())
        if seconds is not None and self.result is not None and event.button() == Qt.LeftButton:
            self.seek_requested.emit(float(np.clip(seconds, 0, self.result.duration)))
