"""Light and dark: follow the system's colour scheme (Qt 6's ``QStyleHints.colorScheme``)
or the one chosen in **View › Theme**, everywhere: widgets, plots, muted text.

Widgets never hard-code a text colour that only reads on white: muted text uses
:data:`MUTED_STYLE` (the palette's placeholder colour), and the pyqtgraph plots take their
background and axis colours from the palette through :func:`style_plot` whenever
:class:`ThemeManager` says the palette changed.
"""
from __future__ import annotations

from typing import Iterable

import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor, QPalette, QPen
from PySide6.QtWidgets import QApplication, QProxyStyle, QStyle, QStyleFactory

THEMES = {"system": "Follow the system", "light": "Light", "dark": "Dark"}
MUTED_STYLE = "color: palette(placeholder-text);"  # grey text that reads on either background


def dark_palette() -> QPalette:
    """A dark palette for the Fusion style (text and controls keep WCAG-level contrast)."""
    p = QPalette()
    window, base, text = QColor(37, 37, 38), QColor(30, 30, 30), QColor(230, 230, 230)
    for group in (QPalette.Active, QPalette.Inactive):
        p.setColor(group, QPalette.Window, window)
        p.setColor(group, QPalette.WindowText, text)
        p.setColor(group, QPalette.Base, base)
        p.setColor(group, QPalette.AlternateBase, QColor(45, 45, 48))
        p.setColor(group, QPalette.ToolTipBase, QColor(50, 50, 52))
        p.setColor(group, QPalette.ToolTipText, text)
        p.setColor(group, QPalette.Text, text)
        p.setColor(group, QPalette.Button, QColor(52, 52, 55))
        p.setColor(group, QPalette.ButtonText, text)
        p.setColor(group, QPalette.BrightText, QColor(255, 90, 90))
        p.setColor(group, QPalette.Highlight, QColor(42, 130, 218))
        p.setColor(group, QPalette.HighlightedText, QColor(255, 255, 255))
        p.setColor(group, QPalette.Link, QColor(100, 170, 255))
        p.setColor(group, QPalette.PlaceholderText, QColor(165, 165, 165))
        p.setColor(group, QPalette.Mid, QColor(80, 80, 84))
    for role in (QPalette.WindowText, QPalette.Text, QPalette.ButtonText):
        p.setColor(QPalette.Disabled, role, QColor(120, 120, 120))
    p.setColor(QPalette.Disabled, QPalette.Base, base)
    p.setColor(QPalette.Disabled, QPalette.Window, window)
    p.setColor(QPalette.Disabled, QPalette.Button, QColor(45, 45, 48))
    return p


def system_is_dark(app: QApplication) -> bool:
    hints = app.styleHints()
    scheme = getattr(hints, "colorScheme", None)
    return scheme is not None and scheme() == Qt.ColorScheme.Dark


def is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.Window).lightness() < 128


def style_plot(widget: pg.GraphicsLayoutWidget, plots: Iterable[pg.PlotItem]) -> None:
    """Plot background, axes and titles in the application palette's colours."""
    palette = QApplication.palette()
    background, text = palette.color(QPalette.Base), palette.color(QPalette.WindowText)
    widget.setBackground(background)
    for plot in plots:
        for name in ("left", "bottom", "right", "top"):
            axis = plot.getAxis(name)
            axis.setPen(pg.mkPen(text))
            axis.setTextPen(pg.mkPen(text))
        if plot.titleLabel is not None and plot.titleLabel.text:
            plot.setTitle(plot.titleLabel.text, color=text.name(), size="9pt")


class VisibleBoxesStyle(QProxyStyle):
    """Fusion, with check boxes that show their box on a dark palette too: Fusion draws
    the box's edge a little darker than the window, which on a dark window is the colour
    of the list behind it (the review list's boxes were invisible)."""

    BOXES = (QStyle.PE_IndicatorCheckBox, QStyle.PE_IndicatorItemViewItemCheck)

    def __init__(self):
        super().__init__(QStyleFactory.create("Fusion"))

    def drawPrimitive(self, element, option, painter, widget=None):
        super().drawPrimitive(element, option, painter, widget)
        if element in self.BOXES and is_dark(option.palette):
            side = min(option.rect.width(), option.rect.height(), 14)
            box = option.rect.adjusted(0, 0, 0, 0)
            box.setWidth(side - 1)
            box.setHeight(side - 1)
            box.moveCenter(option.rect.center())
            painter.save()
            painter.setPen(QPen(option.palette.color(QPalette.PlaceholderText), 1))
            painter.setBrush(Qt.NoBrush)
            painter.drawRect(box)
            painter.restore()


class ThemeManager(QObject):
    """Applies the chosen theme to the application; ``changed`` after each change."""

    changed = Signal()

    def __init__(self, app: QApplication, choice: str = "system"):
        super().__init__(app)
        self.app = app
        self.choice = choice if choice in THEMES else "system"
        self._light = app.style().standardPalette()
        hints = app.styleHints()
        if hasattr(hints, "colorSchemeChanged"):
            hints.colorSchemeChanged.connect(lambda _scheme: self.choice == "system" and self.apply())

    @property
    def dark(self) -> bool:
        return self.choice == "dark" or (self.choice == "system" and system_is_dark(self.app))

    def set_choice(self, choice: str) -> None:
        self.choice = choice if choice in THEMES else "system"
        self.apply()

    def apply(self) -> None:
        if not isinstance(self.app.style(), VisibleBoxesStyle):
            self._style = VisibleBoxesStyle()  # Fusion: the one style that follows a palette everywhere
            self.app.setStyle(self._style)
            self._light = self.app.style().standardPalette()
        self.app.setPalette(dark_palette() if self.dark else self._light)
        self.changed.emit()


def install_theme_menu(view_menu, settings, parent) -> tuple[ThemeManager, dict]:
    """View › Theme: follow the system, or force light or dark (remembered in
    ``view/theme``); applies the remembered choice now. Returns the manager and the
    actions by key."""
    from PySide6.QtGui import QActionGroup

    manager = ThemeManager(QApplication.instance(), settings.get("view/theme"))
    menu = view_menu.addMenu("&Theme")
    group = QActionGroup(parent)
    actions = {}

    def choose(key: str) -> None:
        settings.set("view/theme", key)
        actions[key].setChecked(True)
        manager.set_choice(key)

    for key, text in THEMES.items():
        act = menu.addAction(text)
        act.setCheckable(True)
        act.setChecked(key == manager.choice)
        act.triggered.connect(lambda _checked=False, key=key: choose(key))
        group.addAction(act)
        actions[key] = act
    manager.apply()
    return manager, actions
