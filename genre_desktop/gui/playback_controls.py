"""Play the selected track: decoding in a worker, a Play/Pause button, a moving cursor."""
from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QPushButton, QStyle

from genre_desktop.core.engine.audio.playback import PlaybackError, Player
from genre_desktop.gui.tasks import Task

# plain words beside the style's own icons: the \u23f8 glyph is an empty box in common Linux fonts
PLAY, PAUSE, LOADING = "Play", "Pause", "Loading\u2026"
ICONS = {PLAY: QStyle.SP_MediaPlay, PAUSE: QStyle.SP_MediaPause, LOADING: QStyle.SP_BrowserReload}


class PlayButton(QPushButton):
    """The Play/Pause button: its text picks its icon."""

    def __init__(self, text: str, parent=None):
        super().__init__(parent)
        self.setText(text)

    def setText(self, text: str) -> None:
        super().setText(text)
        if text in ICONS:
            self.setIcon(self.style().standardIcon(ICONS[text]))


class PlaybackController(QObject):
    """Owns the :class:`Player`, its decoding worker and the Play button.

    Emits ``position(seconds)`` about 30 times a second while playing, and ``message(text)``
    when playback is impossible (the rest of the app keeps working).
    """

    position = Signal(float)
    message = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.player = Player()
        self.button = PlayButton(PLAY)
        self.button.setEnabled(False)
        self._path: Optional[str] = None  # the track loaded in the player
        self._wanted: Optional[str] = None  # the track to play once decoded
        self._decoding: Optional[Task] = None
        self.timer = QTimer(self)
        self.timer.setInterval(33)
        self.timer.timeout.connect(self._tick)

    def toggle(self, path: Optional[str]) -> None:
        """Play ``path`` (decoding it first if needed), or pause if it is playing."""
        if not path or not self.button.isEnabled():
            return
        if self.player.playing:
            self.player.pause()
            self.timer.stop()
            self.button.setText(PLAY)
            return
        self._wanted = path
        if self._path != path:
            self.button.setText(LOADING)
            self._decode(path)
            return
        self._start()

    def seek(self, seconds: float) -> None:
        self.player.seek(seconds)
        self.position.emit(seconds)

    def stop(self) -> None:
        self.player.stop()
        self.timer.stop()
        self.button.setText(PLAY)

    def shutdown(self) -> None:
        self.stop()
        if self._decoding is not None:
            self._decoding.wait(3000)

    def _decode(self, path: str) -> None:
        from genre_desktop.core.engine.audio.playback import preview_audio

        task = Task(preview_audio, path, name="preview", contract=False, parent=self)
        task.finished.connect(lambda decoded: self._on_ready(path, *decoded))
        task.errored.connect(lambda reason: self._on_failed(path, reason))
        task.done.connect(lambda: setattr(self, "_decoding", None))
        task.done.connect(task.deleteLater)
        self._decoding = task.start()

    def _on_ready(self, path: str, audio, rate: int) -> None:
        self.player.load(audio, rate)
        self._path = path
        if self._wanted == path:
            self._start()

    def _on_failed(self, path: str, reason: str) -> None:
        self.button.setText(PLAY)
        self.message.emit(f"Cannot play: {reason}")

    def _start(self) -> None:
        try:
            self.player.play()
        except PlaybackError as exc:
            self.button.setText(PLAY)
            self.message.emit(f"Cannot play: {exc}. Everything else still works.")
            return
        self.button.setText(PAUSE)
        self.timer.start()

    def _tick(self) -> None:
        self.position.emit(self.player.position)
        if not self.player.playing:
            self.timer.stop()
            self.button.setText(PLAY)
