"""``genre-desktop-cli library moods`` and ``write-moods``: the moods, styles, decades and
vocals the backbone hears (:mod:`genre_desktop.core.library.moods`), shown with their confidence, and
written on request into MOOD or GROUPING, never into GENRE (undo: ``library undo-tags``)."""
from __future__ import annotations

import argparse
import sys
from collections import Counter

from genre_desktop.cli.common import json_line
from genre_desktop.cli.library_access import library_model, open_library
from genre_desktop.cli.terminal import ProgressBar, print_write_summary


def cmd_moods(args: argparse.Namespace) -> int:
    from genre_desktop.core.library.moods import by_kind, track_sound_tags

    ref = library_model(args)
    with open_library(args, write=False) as db:
        rows = (db.row(p, ref.key) for p in args.paths) if args.paths else db.iter_rows(ref.key)
        for row in rows:
            if row is None or row.verdict is None:
                continue
            kinds = by_kind(track_sound_tags(db, row.id, ref.key))
            if args.json:
                print(json_line({"path": row.display, **{k: [t.to_json() for t in v] for k, v in kinds.items()}}))
            else:
                shown = "; ".join(f"{k}: " + ", ".join(f"{t.name} {t.probability:.0%}" for t in v)
                                  for k, v in kinds.items() if v)
                print(f"{row.display}\t{shown or '-'}")
    return 0


def cmd_write_moods(args: argparse.Namespace) -> int:
    from genre_desktop.core.library.moods import propose_fields, write_fields

    ref = library_model(args)
    tag_field = "grouping" if args.styles else "mood"
    with open_library(args, write=not args.dry_run) as db:
        lines = propose_fields(db, ref.key, tag_field, args.paths or None, overwrite=args.overwrite)
        for line in lines:
            if line.action == "write":
                print(f"{line.path}\t{'; '.join(line.current) or '-'}\t->\t{'; '.join(line.proposed)}")
        counts = Counter(line.action for line in lines)
        print(", ".join(f"{n} {a}" for a, n in counts.most_common()) or "nothing analysed", file=sys.stderr)
        if args.dry_run:
            print("dry run: no file was changed", file=sys.stderr)
            return 0
        with ProgressBar(args.progress) as bar:
            summary = write_fields(db, ref.key, lines, overwrite=args.overwrite, progress=bar)
    return print_write_summary(summary, f"given a {tag_field.upper()} tag")


def add_mood_actions(action) -> None:
    """``moods`` and ``write-moods`` on the ``library`` sub-parsers (``action`` adds one)."""
    p = action("moods", cmd_moods, "moods, styles, decades and vocals each track shows (above its threshold)")
    p.add_argument("paths", nargs="*", help="only these files (default: the whole library)")
    p.add_argument("--json", action="store_true", help='one {"path", "mood", "style", "decade", "vocals"} per line')
    p = action("write-moods", cmd_write_moods,
               "write moods into the MOOD tag (--styles: styles, decades and vocals into GROUPING); never GENRE")
    p.add_argument("paths", nargs="*", help="only these files (default: the whole library)")
    p.add_argument("--styles", action="store_true", help="write GROUPING (styles, decades, vocals) instead of MOOD")
    p.add_argument("--overwrite", action="store_true", help="replace a MOOD/GROUPING a file already has")
    p.add_argument("--dry-run", action="store_true", help="show what would be written; change nothing")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar on stderr")
