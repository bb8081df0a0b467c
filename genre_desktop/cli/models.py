"""``genre-desktop-cli info``, ``models`` and ``desktop-install``: the active model, the models
a person trained (restore, rename, delete), and the desktop menu entry."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Optional

from genre_desktop.cli.common import MODEL_HELP, json_line, UserError, model_choice


def cmd_info(args: argparse.Namespace) -> int:
    from genre_desktop.core.engine.models.bundle import load_bundle
    from genre_desktop.core.engine.models.registry import list_models, resolve_model

    bundle = load_bundle(resolve_model(model_choice(args.model)))
    if args.json:
        print(json_line({"path": str(bundle.path), **bundle.meta}))
        return 0
    print(bundle.describe())
    print("\ninstalled models:")
    _print_models(list_models(include_broken=True, include_backups=True), bundle.path)
    return 0


def _print_models(entries, active: Optional[Path] = None) -> None:
    for entry in entries:
        marker = "*" if active is not None and entry.path.resolve() == active.resolve() else " "
        kind = "bundled" if entry.bundled else (f"backup of {entry.backup_of}" if entry.backup_of else "yours")
        state = f"\tBROKEN: {entry.error}" if entry.error else ""
        print(f" {marker} {entry.name}\t{kind}\t{entry.path}{state}")


def cmd_desktop_install(args: argparse.Namespace) -> int:
    from genre_desktop.core.desktop_entry import install

    written = install(args.data_home)
    print(f"installed the menu entry {written[0]} and {len(written) - 1} icon files")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    """List, restore, rename and delete the models a person trained."""
    from genre_desktop.core.engine.models import registry

    if args.action == "list":
        entries = registry.list_models(include_broken=True, include_backups=True)
        if args.json:
            for e in entries:
                print(json_line({"name": e.name, "path": str(e.path), "bundled": e.bundled,
                                  "backup_of": e.backup_of, "error": e.error}))
        else:
            _print_models(entries)
        return 0
    if not args.names:
        raise UserError(f"'models {args.action}' needs a model name")
    name = args.names[0]
    if args.action == "restore":
        path = registry.restore_backup(name)
        print(f"restored the backup of {name!r}: {path} (the model it replaced is now the backup)")
    elif args.action == "delete":
        registry.delete_user_model(name, backup=args.backup)
        print(f"deleted {'the backup of ' if args.backup else ''}{name!r}")
    elif args.action == "rename":
        if len(args.names) != 2:
            raise UserError("'models rename' needs the old and the new name")
        print(f"renamed to {registry.rename_user_model(name, args.names[1])}")
    return 0


def add_parser(sub) -> None:
    """``info``, ``desktop-install`` and ``models``, on the CLI's sub-parsers."""
    p = sub.add_parser("info", help="the active model, its labels, provenance and metrics")
    p.add_argument("--model", help=MODEL_HELP)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("desktop-install", help="add Genre Desktop to your desktop's menu and 'Open with' (this user only)")
    p.add_argument("--data-home", type=Path, default=None, help="instead of $XDG_DATA_HOME (~/.local/share)")
    p.set_defaults(func=cmd_desktop_install)

    p = sub.add_parser("models", help="list your models (broken ones and backups too); restore, rename, delete")
    p.add_argument("action", nargs="?", default="list", choices=("list", "restore", "rename", "delete"))
    p.add_argument("names", nargs="*", help="the model (for rename: old and new name)")
    p.add_argument("--backup", action="store_true", help="with delete: delete the model's backup")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_models)
