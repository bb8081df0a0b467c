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
    code = ("import time; t = time.perf_counter(); import genre_desktop.cli, genre_desktop.core.engine.classify.classifier; "
            "import sys; assert 'librosa' not in sys.modules, 'librosa imported eagerly'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


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
