"""docs/architecture.md is drawn from the code as it is: every module named, every contract
listed, every dotted name it uses resolvable."""
import importlib
import pkgutil
import re
import tomllib
from pathlib import Path

import genre_desktop

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")


def test_every_module_of_the_core_and_cli_is_named():
    named = set(re.findall(r"`([a-z_]+)[`.(]", DOC))
    missing = []
    for m in pkgutil.walk_packages(genre_desktop.__path__, "genre_desktop."):
        leaf = m.name.rsplit(".", 1)[1]
        if m.name.startswith(("genre_desktop.core.", "genre_desktop.cli.", "genre_desktop.recipes.")) \
                and not m.ispkg and leaf not in ("__main__",) and leaf not in named:
            missing.append(m.name)
    assert not missing, f"modules docs/architecture.md does not name: {missing}"


def test_every_sub_package_has_its_room():
    rooms = [m.name for m in pkgutil.walk_packages(genre_desktop.__path__, "genre_desktop.") if m.ispkg]
    missing = [r for r in rooms if f"`{r.removeprefix('genre_desktop.').replace('.', '/')}/`" not in DOC
               and r not in ("genre_desktop.core", "genre_desktop.core.engine", "genre_desktop.gui.wizard")]
    assert not missing, f"packages without a room in docs/architecture.md: {missing}"


def test_every_contract_is_in_the_table():
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]["contracts"]
    missing = [c["name"] for c in contracts if f"| {c['name']} |" not in DOC]
    assert not missing, f"contracts docs/architecture.md does not list: {missing}"


def _resolves(dotted: str) -> bool:
    for prefix in ("genre_desktop.core.", "genre_desktop.core.engine.", "genre_desktop.core.library.",
                   "genre_desktop.core.training.", "genre_desktop.", "genre_desktop.core.engine.classify.",
                   "genre_desktop.core.engine.audio.", "genre_desktop.core.engine.models."):
        parts = (prefix + dotted).split(".")
        for cut in range(len(parts), 1, -1):
            try:
                obj = importlib.import_module(".".join(parts[:cut]))
            except ImportError:
                continue
            try:
                for attr in parts[cut:]:
                    obj = getattr(obj, attr)
                return True
            except AttributeError:
                break
    return False


def test_dotted_names_in_the_paths_resolve():
    paths = DOC[DOC.index("## The path of a dropped file"):]
    dotted = sorted(set(re.findall(r"`((?:[a-z_]+\.)+[A-Za-z_]+)`", paths)))
    assert len(dotted) >= 8
    broken = [d for d in dotted if not _resolves(d)]
    assert not broken, f"names docs/architecture.md uses that the code does not have: {broken}"
