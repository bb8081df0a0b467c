"""The menus ask the window only what gui/window_api.WindowApi lists, and MainWindow has it all."""
from __future__ import annotations

import ast
import inspect
from pathlib import Path

from genre_desktop.gui.window_api import WindowApi

GUI = Path(__file__).resolve().parents[1] / "genre_desktop" / "gui"
MENUS = ("file_menu", "help_menu", "model_menu", "track_actions")


def api_names() -> set[str]:
    return {n for n in vars(WindowApi) if not n.startswith("_")} | set(WindowApi.__annotations__)


def window_uses(source: str) -> set[str]:
    """The attribute names a menu module's source reads off ``window`` or ``self.window``."""
    used = set()
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Attribute):
            continue
        owner = node.value
        if (isinstance(owner, ast.Name) and owner.id == "window") or (
                isinstance(owner, ast.Attribute) and owner.attr == "window"
                and isinstance(owner.value, ast.Name) and owner.value.id == "self"):
            used.add(node.attr)
    return used


def test_menus_use_only_the_window_api():
    api = api_names()
    for module in MENUS:
        used = window_uses((GUI / f"{module}.py").read_text(encoding="utf-8"))
        assert used, module  # the scan sees the menu's calls
        assert used <= api, f"{module} reaches past WindowApi: {sorted(used - api)}"


def test_the_scan_would_see_a_private_reach():
    source = "class M:\n    def f(self, window):\n        self.window._selected_path()\n        window.tabs.count()\n"
    assert window_uses(source) == {"_selected_path", "tabs"}
    assert not window_uses(source) & api_names()


def test_main_window_implements_the_api(qtbot):
    from genre_desktop.gui.main_window import MainWindow

    for name in api_names() - set(WindowApi.__annotations__):
        method = getattr(MainWindow, name, None)
        assert callable(method), name
        wanted = [p for p in inspect.signature(getattr(WindowApi, name)).parameters if p != "self"]
        try:
            have = [p for p in inspect.signature(method).parameters if p != "self"]
        except ValueError:  # a Qt method (menuBar, addAction...): no Python signature
            continue
        assert have[:len(wanted)] == wanted, (name, have, wanted)
