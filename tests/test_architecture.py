"""The core engine imports no Qt: checked in a fresh interpreter and by import-linter."""
import pkgutil
import shutil
import subprocess
import sys
from pathlib import Path

import genre_desktop.core

ROOT = Path(__file__).resolve().parents[1]


def test_core_imports_no_qt():
    modules = [m.name for m in pkgutil.walk_packages(genre_desktop.core.__path__, "genre_desktop.core.")]
    code = ("import sys\n" + "".join(f"import {m}\n" for m in modules)
            + "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'shiboken6')]\n"
            + "assert not bad, bad\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
    assert len(modules) >= 10


def test_import_linter_contract():
    exe = Path(sys.executable).parent / "lint-imports"
    if not exe.exists():
        exe = shutil.which("lint-imports")
    result = subprocess.run([str(exe)], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_nothing_runs_at_import():
    code = ("import time; t = time.perf_counter(); import genre_desktop.cli, genre_desktop.core.engine.classify.inference; "
            "import sys; assert 'librosa' not in sys.modules, 'librosa imported eagerly'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_window_module_does_not_import_torch():
    """The window appears before torch is imported (the model loads in a worker thread)."""
    code = ("import sys; import genre_desktop.gui.main_window, genre_desktop.gui.app; "
            "assert 'torch' not in sys.modules, 'torch imported at window import'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
