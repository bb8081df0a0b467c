"""The import-linter contracts name every module of the package, and every package ships."""
import pkgutil
import tomllib
from pathlib import Path

import genre_desktop

ROOT = Path(__file__).resolve().parents[1]


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _named_in_contracts() -> set[str]:
    named = set()
    for contract in _pyproject()["tool"]["importlinter"]["contracts"]:
        for key in ("layers", "source_modules", "modules", "containers"):
            for entry in contract.get(key, []):
                named.update(part.strip() for part in entry.split("|"))
    return {name for name in named if name.startswith("genre_desktop")}


def _modules() -> list[tuple[str, bool]]:
    return [(m.name, m.ispkg) for m in pkgutil.walk_packages(genre_desktop.__path__, "genre_desktop.")]


def test_every_module_is_in_a_layer_of_a_contract():
    named = _named_in_contracts()
    outside = [name for name, is_package in _modules()
               if not any(name == n or name.startswith(n + ".") for n in named)
               and not name.endswith(".__main__")]
    assert not outside, f"modules no import-linter contract names (add them to a layer): {outside}"


def test_every_room_of_the_core_and_engine_is_a_layer():
    """A new sub-package of the core or the engine joins the layers, or the contract cannot see it."""
    named = _named_in_contracts()
    rooms = [name for name, is_package in _modules()
             if name.count(".") in (2, 3) and name.startswith(("genre_desktop.core.", "genre_desktop.cli."))
             and (is_package or name.count(".") == 2) and not name.endswith(".__main__")]
    missing = [r for r in rooms if r not in named and not r.startswith("genre_desktop.core.training.")
               and not r.startswith("genre_desktop.core.library.")]
    assert not missing, f"rooms not named as a layer: {missing}"


def test_every_package_is_listed_for_the_wheel():
    listed = set(_pyproject()["tool"]["setuptools"]["packages"])
    packages = {"genre_desktop", *(name for name, is_package in _modules() if is_package)}
    packages -= {"genre_desktop.recipes"}  # rebuilds the bundled models from a checkout; not for users
    assert "genre_desktop.recipes" not in listed
    assert packages <= listed, f"packages pyproject.toml does not ship: {sorted(packages - listed)}"
