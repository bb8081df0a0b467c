"""Help: the keyboard shortcuts (listed from the window's own actions, so the list cannot
go stale), About the model as a readable page, About the app; and the window-wide
shortcuts that have no menu entry of their own (Ctrl+F, Ctrl+Tab, Ctrl+Shift+Tab)."""
from __future__ import annotations

from html import escape
from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QMenu, QScrollArea, QVBoxLayout

from genre_desktop.core.engine.models.bundle import bundle_metrics_line
from genre_desktop.gui.window_api import WindowApi


class TextDialog(QDialog):
    """A small non-modal window of rich text with a Close button."""

    def __init__(self, title: str, html: str, parent=None):
        super().__init__(parent)
        self.setWindowTitle(title)
        self.label = QLabel(html)
        self.label.setTextFormat(Qt.RichText)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.label.setAlignment(Qt.AlignTop | Qt.AlignLeft)
        scroll = QScrollArea()
        scroll.setWidget(self.label)
        scroll.setWidgetResizable(True)
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(scroll, 1)
        layout.addWidget(buttons)
        self.resize(520, 460)


def _clean(text: str) -> str:
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&").replace("\u2026", "").strip()


def shortcut_lines(window: WindowApi) -> list[tuple[str, str]]:
    """(keys, what they do) for every action of the window that has a shortcut, menus first."""
    seen, lines = set(), []

    def visit(actions) -> None:
        for act in actions:
            if act.menu() is not None:
                visit(act.menu().actions())
                continue
            keys = [k.toString(QKeySequence.NativeText) for k in act.shortcuts() if not k.isEmpty()]
            if keys and id(act) not in seen:
                seen.add(id(act))
                lines.append((", ".join(keys), _clean(act.text())))

    visit(window.menuBar().actions())
    visit(window.actions())
    return lines


def model_html(bundle) -> str:
    """About the model, for people: what it tells apart, how well, from what."""
    if bundle is None:
        return "<p>No model is loaded yet.</p>"
    meta = bundle.meta
    headline = bundle_metrics_line(meta)
    prov = meta.get("provenance", {})
    parts = [f"<h3>{escape(bundle.name)}</h3>",
             f"<p>Version {escape(str(meta.get('version', '?')))}, made {escape(str(meta.get('created', '?'))[:10])}"
             + (f" \u2014 <b>{escape(headline)}</b> on tracks it never saw" if headline else "") + ".</p>",
             f"<p><b>Genres it tells apart ({len(bundle.labels)}):</b> {escape(', '.join(bundle.labels))}.</p>"]
    for key, title in (("data", "Trained on"), ("backbone", "Built on"), ("validation", "Checked on")):
        if isinstance(prov.get(key), str):
            parts.append(f"<p><b>{title}:</b> {escape(prov[key])}</p>")
    accuracies = [(k, v) for k, v in meta.get("metrics", {}).items()
                  if k.endswith("_accuracy") and k != "validation_track_accuracy" and isinstance(v, (int, float))]
    if accuracies:
        rows = "".join(f"<tr><td>{escape(k[:-len('_accuracy')].replace('_', ' '))}</td>"
                       f"<td align='right'>&nbsp;{v:.0%}</td></tr>" for k, v in accuracies)
        parts.append(f"<p><b>Accuracy by data set:</b></p><table>{rows}</table>")
    parts.append(f"<p style='color:gray'>Folder: {escape(str(bundle.path))}</p>")
    return "".join(parts)


class HelpMenu:
    """Fills the Help menu and adds the window-wide shortcuts."""

    def __init__(self, menu: QMenu, window: WindowApi):
        self.window = window
        self.dialog: Optional[TextDialog] = None  # the last help window opened
        self.find = self._window_action("Find in the library", "Ctrl+F", self.focus_search)
        self.next_tab = self._window_action("Next tab", "Ctrl+Tab", lambda: window.step_tab(1))
        self.previous_tab = self._window_action("Previous tab", "Ctrl+Shift+Tab", lambda: window.step_tab(-1))
        self.shortcuts = menu.addAction("&Keyboard shortcuts")
        self.shortcuts.setShortcut(QKeySequence.HelpContents)  # F1
        self.shortcuts.triggered.connect(lambda _checked=False: self.show_shortcuts())
        menu.addSeparator()
        self.about_model = menu.addAction("About the &model\u2026")
        self.about_model.triggered.connect(lambda _checked=False: self.show_model())
        self.about_app = menu.addAction("&About Genre Desktop")
        self.about_app.triggered.connect(lambda _checked=False: self.show_app())

    def _window_action(self, text: str, keys: str, slot) -> QAction:
        act = QAction(text, self.window)  # type: ignore[call-overload]  # a QMainWindow
        act.setShortcut(QKeySequence(keys))
        act.setShortcutContext(Qt.WindowShortcut)
        act.triggered.connect(lambda _checked=False: slot())
        self.window.addAction(act)
        return act

    def focus_search(self) -> None:
        search = self.window.show_library().search
        search.setFocus(Qt.ShortcutFocusReason)
        search.selectAll()

    def _show(self, title: str, html: str) -> TextDialog:
        if self.dialog is not None:
            self.dialog.close()
        self.dialog = TextDialog(title, html, self.window)  # the window is a QMainWindow
        self.dialog.show()
        return self.dialog

    def show_shortcuts(self) -> TextDialog:
        rows = "".join(f"<tr><td><b>{escape(keys)}</b>&nbsp;&nbsp;</td><td>{escape(what)}</td></tr>"
                       for keys, what in shortcut_lines(self.window))
        return self._show("Keyboard shortcuts", f"<h3>Keyboard shortcuts</h3><table cellpadding='2'>{rows}</table>")

    def show_model(self) -> TextDialog:
        return self._show("About the model", model_html(self.window.bundle))

    def show_app(self) -> TextDialog:
        from genre_desktop import __version__

        return self._show("About Genre Desktop",
                          f"<h3>Genre Desktop {escape(__version__)}</h3><p>Tells the genre of music, slice by slice.</p>"
                          "<p>The bundled model is MSD_musicnn (ISC licence, Pons &amp; Serra) with a genre head "
                          "trained on GTZAN and Emotify.</p>")
