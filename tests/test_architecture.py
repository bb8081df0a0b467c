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


#: run in a fresh interpreter: imports every module of the packages named in argv[1:]
#: (``__main__`` aside) and prints what the imports did as JSON
IMPORT_PROBE = """
import importlib, json, pkgutil, sys, threading
before = set(sys.modules)
names = []
for package in sys.argv[1:]:
    root = importlib.import_module(package)
    names += [m.name for m in pkgutil.walk_packages(root.__path__, package + ".") if not m.name.endswith(".__main__")]
for name in names:
    importlib.import_module(name)
print(json.dumps({"modules": names, "loaded": sorted(set(sys.modules) - before),
                  "threads": [t.name for t in threading.enumerate() if t is not threading.main_thread()]}))
"""
#: libraries that cost seconds to load or start devices: never loaded just by importing
HEAVY = ("torch", "librosa", "scipy", "numba", "onnxruntime", "onnx", "sounddevice", "PySide6", "distributed", "dask")


def _import_everything(tmp_path, *packages) -> dict:
    """Import every module of ``packages`` in a fresh interpreter whose data folder, home,
    temporary folder and working folder are empty folders under ``tmp_path``; fail if any
    of those folders is not empty afterwards (an import wrote a file or made a folder)."""
    import json
    import os

    homes = {name: tmp_path / name for name in ("data", "home", "tmp", "cwd")}
    for folder in homes.values():
        folder.mkdir(parents=True)
    env = {**os.environ, "GENRE_DESKTOP_DATA": str(homes["data"]), "HOME": str(homes["home"]),
           "XDG_DATA_HOME": str(homes["home"] / "share"), "XDG_CONFIG_HOME": str(homes["home"] / "config"),
           "XDG_CACHE_HOME": str(homes["home"] / "cache"), "TMPDIR": str(homes["tmp"]),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
           "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run([sys.executable, "-c", IMPORT_PROBE, *packages], cwd=homes["cwd"], env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    made = {name: sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) for name, folder in homes.items()}
    assert made == {name: [] for name in homes}, f"importing wrote files: {made}"
    return json.loads(proc.stdout.splitlines()[-1])


def test_nothing_runs_at_import(tmp_path):
    """Importing every module of the core and the CLI starts no thread, writes no file or
    folder (data, home, temporary or working folder), and loads no heavy library; the
    classifying rooms load no torch (the ONNX path runs without it)."""
    done = _import_everything(tmp_path, "genre_desktop.core", "genre_desktop.cli")
    assert len(done["modules"]) >= 60
    assert done["threads"] == []
    assert not [m for m in done["loaded"] if m.split(".")[0] in ("librosa", "scipy", "numba", "sounddevice",
                                                                 "PySide6", "distributed", "dask")]


def test_the_command_line_and_the_classifying_rooms_load_no_heavy_library(tmp_path):
    """``genre-desktop-cli --help`` and a refused argument answer before numpy, torch or the
    engine's numpy-heavy rooms load; the engine's audio, models and classify rooms load no torch."""
    cli = _import_everything(tmp_path / "cli", "genre_desktop.cli")
    heavy = [m for m in cli["loaded"] if m.split(".")[0] in (*HEAVY, "numpy", "soundfile", "soxr")
             or m.startswith(("genre_desktop.core.engine.audio", "genre_desktop.core.engine.network",
                              "genre_desktop.core.engine.models", "genre_desktop.core.training", "genre_desktop.gui"))]
    assert heavy == [], heavy
    engine = _import_everything(tmp_path / "engine", "genre_desktop.core.engine.audio",
                                "genre_desktop.core.engine.models", "genre_desktop.core.engine.classify")
    assert len(engine["modules"]) >= 15
    assert not [m for m in engine["loaded"] if m.split(".")[0] in HEAVY], "a heavy library loaded at import"


def test_window_module_does_not_import_torch():
    """The window appears before torch is imported (the model loads in a worker thread)."""
    code = ("import sys; import genre_desktop.gui.main_window, genre_desktop.gui.app; "
            "assert 'torch' not in sys.modules, 'torch imported at window import'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def _import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports anywhere in its text: function-level and
    ``TYPE_CHECKING`` imports count (a cycle hidden in a function is still a cycle)."""
    import ast

    package = ROOT / "genre_desktop"
    modules = {}
    for path in package.rglob("*.py"):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        modules[name.removesuffix(".__init__")] = path
    graph = {name: set() for name in modules}
    for name, path in modules.items():
        here = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = here.split(".")[: len(here.split(".")) - node.level + 1]
                    base = ".".join(parts + ([node.module] if node.module else []))
                targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
            else:
                continue
            graph[name].update(t for t in targets if t in modules and t != name)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, found, counter = {}, {}, set(), [], [], [0]
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_cycle_finder_sees_a_function_level_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_in_the_package():
    """No two modules import each other, directly or round a loop, at any level."""
    graph = _import_graph()
    assert len(graph) >= 50
    assert _cycles(graph) == []
