"""``genre-desktop-cli library ...``: scan a music library, review and write genre tags,
undo them, export playlists and tables."""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from genre_desktop.cli.common import MODEL_HELP, json_line, UserError, positive_int
from genre_desktop.cli.moods import add_mood_actions
from genre_desktop.core.engine.classify.verdicts import WORDS, column_text
from genre_desktop.cli.library_access import library_errors, library_model, open_library
from genre_desktop.cli.terminal import ProgressBar, print_write_summary


def _rows(args, db, ref, by_genre: bool = False):
    """The rows the command's filters pass, streamed from the database (memory flat)."""
    from genre_desktop.core.library.listing import iter_filtered

    files, done = db.counts(ref.key)
    if files and not done:
        others = [f"{name} ({n} files)" for key, name, n in db.models() if key != ref.key]
        if others:
            print(f"note: no results of {ref.key} yet; the library has results of " + ", ".join(others),
                  file=sys.stderr)
    last = db.last_run(ref.key)
    return iter_filtered(db.iter_rows(ref.key, by_genre=by_genre), getattr(args, "filter", "all"),
                         getattr(args, "genre", None), getattr(args, "search", "") or "",
                         last["id"] if last is not None else None)


def _say_gone(gone: list) -> None:
    if gone:
        print(f"left out: {len(gone):,} files gone from the disk (forget them with: genre-desktop-cli library "
              f"forget --missing)", file=sys.stderr)


def cmd_scan(args: argparse.Namespace) -> int:
    from genre_desktop.core.library.batch import BatchOptions, scan_library

    for raw in args.paths:
        if not Path(raw).expanduser().exists():
            raise UserError(f"no such file or folder: {raw}")
    if args.scheduler:  # refused before any progress is drawn
        from genre_desktop.core.library.batch_dask import check_address

        check_address(args.scheduler)
    ref = library_model(args)
    open_library(args, create=True).close()  # settles interrupted work, and says so, before the scan
    with ProgressBar(args.progress) as bar:
        summary = scan_library(args.paths, ref, args.library,
                               BatchOptions(workers=args.workers, scheduler=args.scheduler,
                                            reanalyse=args.reanalyse, retry_errors=args.retry_errors,
                                            slice_step=1 if args.full_timeline else BatchOptions.slice_step,
                                            wait=args.wait),
                               progress=bar)
    for folder, reason in summary.unreadable_folders:
        print(f"skipped {folder}: {reason}", file=sys.stderr)
    for path, reason in summary.failed:
        print(f"{path}\terror: {reason}", file=sys.stderr)
    rate = (summary.analysed + summary.moved) / summary.seconds * 60 if summary.seconds else 0
    print(f"{summary.found:,} audio file{'s' if summary.found != 1 else ''}: {summary.analysed:,} analysed, {summary.moved:,} moved (results kept), "
          f"{summary.unchanged:,} unchanged, {len(summary.failed):,} failed, in {summary.seconds:.1f} s "
          f"({rate:.0f} files/min) with {ref.name}")
    if summary.gone:
        print(f"{summary.gone:,} file{'s' if summary.gone != 1 else ''} gone since the last scan: missing, left out "
              f"of exports, playlists and tag writes (forget them with: genre-desktop-cli library forget --missing)")
    return 1 if summary.failed else 0


def cmd_show(args: argparse.Namespace) -> int:
    from collections import Counter

    from genre_desktop.core.library.listing import genre_counts, track_record

    ref = library_model(args)
    if args.albums:
        return _show_albums(args, ref)
    counts, n = Counter(), 0
    with open_library(args, write=False) as db:
        for row in _rows(args, db, ref):
            if args.json:
                print(json_line(track_record(row)))
                continue
            verdict = row.error and f"error: {row.error}" or (
                f"{row.genre} {row.confidence:.0%}" if row.verdict == "genre" else column_text(row.verdict, row.genre, None))
            print(f"{row.display}\t{row.name}\t{'; '.join(row.genre_tag) or '-'}\t{verdict}")
            counts.update(genre_counts((row,)))
            n += 1
    if not args.json:
        print(f"{n:,} tracks: " + ", ".join(f"{g} {k}" for g, k in counts.most_common()), file=sys.stderr)
    return 0


def _show_albums(args, ref) -> int:
    """``show --albums``: one line (or JSON object) per album, with its vote."""
    from genre_desktop.core.engine.classify.verdicts import album_text
    from genre_desktop.core.library.albums import AlbumModel, albums

    with open_library(args, write=False) as db:
        found = albums(db, ref.key, AlbumModel.of_folder(ref.folder), _rows(args, db, ref))
    for album in found:
        if args.json:
            print(json_line(album.record()))
            continue
        genre = album_text(album.verdict, album.genre, album.confidence)
        odd = f"\t{len(album.disagreeing)} disagreeing" if album.disagreeing else ""
        title = album.folder if album.by_folder else album.title  # tracks without an album tag: their folder
        print(f"{album.artist or '-'}\t{title}\t{genre}\t{len(album.tracks)} track{'s' if len(album.tracks) != 1 else ''}{odd}")
    if not args.json:
        print(f"{len(found):,} albums", file=sys.stderr)
    return 0


def _options(args):
    from genre_desktop.core.library.review import TagOptions

    return TagOptions(top_k=args.top, separator=args.separator,
                      verdicts=("genre", "unsure") if args.include_unsure else ("genre",),
                      overwrite=args.overwrite, add=args.add, per_album=args.per_album)


def cmd_write_tags(args: argparse.Namespace) -> int:
    from genre_desktop.core.library.writing import apply
    from genre_desktop.core.library.review import iter_propose, propose

    from genre_desktop.core.library.albums import AlbumModel
    from genre_desktop.core.library.vocabulary import vocabulary_or_default

    ref = library_model(args)
    options = _options(args)
    vocabulary, problem = vocabulary_or_default()
    if problem:
        print(f"vocabulary not used: {problem}", file=sys.stderr)
    with open_library(args, write=not args.dry_run) as db:
        # a dry run streams its lines (memory flat in the library's size); a write keeps them for apply
        lines = (iter_propose if args.dry_run else propose)(db, ref.key, options, args.paths or None,
                                                            vocabulary=vocabulary,
                                                            album_model=AlbumModel.of_folder(ref.folder))
        counts = Counter()
        for line in lines:
            counts[line.action] += 1
            if line.action == "write" or args.verbose_review:
                print(f"{line.path}\t{'; '.join(line.current) or '-'}\t->\t{'; '.join(line.proposed) or '-'}"
                      f"\t{line.action}{': ' + line.why if line.why else ''}")
        print(", ".join(f"{n} {a}" for a, n in counts.most_common()) or "nothing in the library", file=sys.stderr)
        if args.dry_run:
            print("dry run: no file was changed", file=sys.stderr)
            return 0
        with ProgressBar(args.progress) as bar:
            summary = apply(db, lines, ref.key, options, progress=bar)
    return print_write_summary(summary, "tagged")


def cmd_undo_tags(args: argparse.Namespace) -> int:
    from genre_desktop.core.library.writing import undo

    with open_library(args) as db:
        summary = undo(db, args.batch)
    for path, reason in summary.failed:
        print(f"{path}\tleft alone: {reason}", file=sys.stderr)
    print(f"{summary.written:,} files put back, {len(summary.failed):,} left alone")
    return 1 if summary.failed else 0


def cmd_history(args: argparse.Namespace) -> int:
    with open_library(args, write=False) as db:
        batches = db.tag_batches()
    for b in batches:
        if b["undo_of"]:
            what, counts = f"undo of batch {b['undo_of']}", f"{b['written']} put back, {b['failed']} left alone"
        else:
            what = _options_text(json.loads(b["options"] or "{}"))
            counts = f"{b['written']} written" + (f" ({b['undone']} since undone)" if b["undone"] else "")
            counts += f", {b['failed']} failed"
        state = f", undone by batch {b['undone_by']}" if b["undone_by"] else ""
        print(f"batch {b['id']}\t{b['created_at']}\t{counts}{state}\t{what}")
    if not batches:
        print("no tags written yet", file=sys.stderr)
    return 0


def _options_text(options: dict) -> str:
    """A batch's tag options in words (a batch of another field than the genre, e.g.
    moods: that field)."""
    if options.get("field") and str(options["field"]).lower() != "genre":
        return f"{options['field']} tags, " + ("replacing existing values" if options.get("overwrite")
                                               else "keeping existing values")
    top = options.get("top_k", 1)
    parts = [f"up to {top} genres" if top > 1 else "one genre"]
    if top > 1:
        parts.append(f"joined by {options['separator']!r}" if options.get("separator") else "as separate values")
    parts.append("confident and not-sure tracks" if "unsure" in options.get("verdicts", []) else "confident tracks only")
    parts.append("adding to existing genres" if options.get("add") else
                 "replacing genres" if options.get("overwrite") else "keeping existing genres")
    if options.get("per_album"):
        parts.append("one genre per album")
    return ", ".join(parts)


def cmd_similar(args: argparse.Namespace) -> int:
    """``library similar FILE``: the files that sound most like FILE, best first."""
    from genre_desktop.core.library.similar import similar_to

    ref = library_model(args)
    with open_library(args, write=False) as db:
        found = similar_to(db, args.file, ref.key, args.top)
    for n in found:
        print(json_line(n.to_json()) if args.json else f"{n.similarity:.3f}  {n.path}")
    return 0


def _similar_playlist(args, ref) -> int:
    from genre_desktop.core.library.listing import write_similar_playlist
    from genre_desktop.core.library.similar import SimilarError, similar_rows

    skipped: list = []
    with open_library(args, write=False) as db:
        seed = db.row(args.similar_to, ref.key)
        if seed is None:
            raise SimilarError(f"{args.similar_to} is not in the library: scan its folder first")
        path = write_similar_playlist(seed, similar_rows(db, args.similar_to, ref.key, args.top), args.folder,
                                      skipped)
    for name, why in skipped:
        print(f"left out: {name!r}: {why}", file=sys.stderr)
    print(path)
    return 0


def cmd_playlists(args: argparse.Namespace) -> int:
    from genre_desktop.core.library.listing import present, write_playlists

    ref = library_model(args)
    if args.similar_to is not None:
        return _similar_playlist(args, ref)
    skipped: list = []
    gone: list = []
    with open_library(args, write=False) as db:
        written = write_playlists(present(_rows(args, db, ref), gone), args.folder, ref.name,
                                  include_unsure=args.include_unsure, skipped=skipped)
    for path, why in skipped:
        print(f"left out: {path!r}: {why}", file=sys.stderr)
    _say_gone(gone)
    for path in written:
        print(path)
    if not written:
        print("no track has a confident genre yet: scan first", file=sys.stderr)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from genre_desktop.core.library.listing import present, write_table

    ref = library_model(args)
    gone: list = []
    with open_library(args, write=False) as db:
        path = write_table(present(_rows(args, db, ref), gone), args.file, ref.key, ref.name)
    _say_gone(gone)
    print(path)
    return 0


def cmd_forget(args: argparse.Namespace) -> int:
    from genre_desktop.core.library.batch import gone_files

    if not args.paths and not args.missing:
        raise UserError("name the files to forget, or --missing for every file gone from the disk")
    with open_library(args) as db:
        paths = list(args.paths)
        if args.missing:  # the scan's rule of a missing file (batch.is_missing)
            paths += [path for _, path, _, _ in gone_files(db)]
        removed = db.remove_files(paths)
    print(f"{removed} file{'s' if removed != 1 else ''} forgotten (the files themselves are untouched)")
    return 0


def cmd_repair(args: argparse.Namespace) -> int:
    from genre_desktop.core.library.database import LibraryDatabase, library_path, repair_library

    path = args.library or library_path()
    aside = repair_library(path, timeout=args.wait)
    if aside is None:
        print(f"the library {path} is not damaged: nothing was changed")
        return 0
    LibraryDatabase(path, timeout=args.wait).close()  # a fresh, empty library in its place
    print(f"the damaged library was moved to {aside} (with its -wal and -shm files, if any); "
          f"an empty library starts at {path}")
    return 0


def add_parser(sub) -> None:
    """``library`` and its actions, on the CLI's sub-parsers."""
    lib = sub.add_parser("library", help="scan a music library; review, write and undo genre tags; playlists")
    lib.add_argument("--library", type=Path, default=None,
                     help="the library database FILE (default: the user's); never a music folder")
    lib.add_argument("--wait", type=float, default=30.0, metavar="SECONDS",
                     help="how long to wait for another program writing the library before saying it is "
                          "locked (default 30)")
    actions = lib.add_subparsers(dest="action", required=True)

    def action(name, func, help_text, model=True):
        p = actions.add_parser(name, help=help_text)
        if model:
            p.add_argument("--model", help=MODEL_HELP)
        p.set_defaults(func=library_errors(func))
        return p

    def filters(p):
        from genre_desktop.core.library.listing import FILTERS

        p.add_argument("--filter", choices=sorted(FILTERS), default="all")
        p.add_argument("--genre", help="only tracks of this genre (the model's label)")
        p.add_argument("--search", help="words to find in path, artist, title, album or genre")

    p = action("scan", cmd_scan, "analyse every audio file under folders (resumes; skips unchanged files)")
    p.add_argument("paths", nargs="+")
    p.add_argument("--workers", type=int, default=0, help="local worker processes (default: one per core)")
    p.add_argument("--scheduler", help="run on a Dask cluster: its scheduler address, tcp://HOST:PORT")
    p.add_argument("--reanalyse", action="store_true", help="analyse even files analysed before")
    p.add_argument("--retry-errors", action="store_true", help="try again files that failed before")
    p.add_argument("--full-timeline", action="store_true",
                   help="run the network on every slice of every file (default: the fast path, every 3rd "
                        "slice, all of them when the verdict is borderline)")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar on stderr")

    p = action("show", cmd_show, "list the library's tracks with their genre")
    filters(p)
    p.add_argument("--json", action="store_true", help="one JSON object per track (with its top genres and timeline)")
    p.add_argument("--albums", action="store_true",
                   help="one line per album (its tracks' slices voted); with --json: artist, album, genre, "
                        "verdict, confidence, tracks, disagreeing")

    p = action("write-tags", cmd_write_tags, "write genres into the files' tags (review with --dry-run)")
    p.add_argument("paths", nargs="*", help="only these files (default: the whole library)")
    p.add_argument("--dry-run", action="store_true", help="show what would be written; change nothing")
    p.add_argument("--top", type=positive_int, default=1, help="write up to this many genres (default 1)")
    p.add_argument("--separator", default=None,
                   help="join several genres into one value with this text (default: separate values)")
    p.add_argument("--include-unsure", action="store_true", help=f"also tag '{WORDS['unsure']}' tracks with the best guess")
    p.add_argument("--overwrite", action="store_true", help="replace a genre a file already has")
    p.add_argument("--add", action="store_true", help="add the genre to those a file already has")
    p.add_argument("--per-album", action="store_true",
                   help="one genre per album (albums tagged as such with at least 3 analysed tracks; the others track by track)")
    p.add_argument("--verbose-review", action="store_true", help="list every file, not only those to write")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar on stderr")

    p = action("undo-tags", cmd_undo_tags, "put back the genre tags a batch replaced (default: the last)",
               model=False)
    p.add_argument("batch", nargs="?", type=int, default=None,
                   help="the batch number 'history' lists (default: the newest batch not undone)")

    action("history", cmd_history, "list the batches of tag writes", model=False)

    p = action("playlists", cmd_playlists, "write one M3U playlist per genre into a folder")
    p.add_argument("folder", type=Path)
    p.add_argument("--include-unsure", action="store_true")
    p.add_argument("--similar-to", type=Path, default=None, metavar="FILE",
                   help="instead: one playlist of the tracks that sound most like FILE")
    p.add_argument("--top", type=positive_int, default=20, help="with --similar-to: how many tracks (default 20)")
    filters(p)

    p = action("similar", cmd_similar, "the tracks that sound most like FILE (cosine of mean embeddings)")
    p.add_argument("file", type=Path)
    p.add_argument("--top", type=positive_int, default=10, help="how many (default 10)")
    p.add_argument("--json", action="store_true", help='one {"path", "similarity"} object per line, best first')

    add_mood_actions(action)

    p = action("export", cmd_export, "write the library as CSV or JSON (by extension)")
    p.add_argument("file", type=Path)
    filters(p)

    action("repair", cmd_repair, "move a damaged library aside (kept, with its -wal file) and start an empty one;"
           " a sound library is left alone", model=False)

    p = action("forget", cmd_forget, "remove files from the library (not from the disk)", model=False)
    p.add_argument("paths", nargs="*", help="the files to forget")
    p.add_argument("--missing", action="store_true", help="forget every file gone from the disk")
