"""The library a page at a time (core.library.pages): SQL order, filters, search and counts
give exactly what the Python rules (listing.matches, genre_counts, the table's sort keys)
give over every row, on a real SQLite library with accents, errors and unanalysed files."""
from __future__ import annotations

import pytest

from genre_desktop.core.library import pages
from genre_desktop.core.library.database import LibraryDatabase
from genre_desktop.core.library.listing import FILTERS, genre_counts, matches
from genre_desktop.core.library.pages import Query, sort_key, verdict_text

KEY, OTHER = "tiny@1#aaaaaaaaaaaa", "other@1#bbbbbbbbbbbb"
TITLES = ["Élégie", "elegie", "Eclair", "Elf", "Zebra", "Ábaco", "abaco", "Straße", "strasse", None, "Ça ira", "Rock me"]
ARTISTS = ["Édith Piaf", "edith piaf", "Zoë", None, "ABBA", "Björk"]
GENRES = ["rock", "jazz", "électro", "pop"]


def _fill(db: LibraryDatabase, root, n: int = 72, start: int = 0) -> None:
    with db.transaction():
        for i in range(start, start + n):
            title = TITLES[i % len(TITLES)]
            path = root / f"Artist {i % 5}" / f"Album {i % 3}" / f"{i:03d} {title or 'Sans titre'}.flac"
            file_id = db.upsert_file(path, size=1000 + i, mtime_ns=i, fingerprint=f"{i:040x}",
                                     duration=None if i % 9 == 0 else 100.0 + (i * 37) % 50,
                                     artist=ARTISTS[i % len(ARTISTS)], title=title, album=f"Album {i % 3}",
                                     genre_tag=[] if i % 4 == 0 else [GENRES[i % 3].capitalize()],
                                     changed_run=1 if i % 2 else 2)
            if i % 10 == 7:
                continue  # not analysed by this model
            genre = GENRES[i % len(GENRES)]
            verdict = ("genre", "genre", "unsure", "not_music", "silence")[i % 5]
            record = {"verdict": verdict, "genre": genre if verdict in ("genre", "unsure") else None,
                      "confidence": None if i % 13 == 0 else (i * 7 % 100) / 100, "top": [[genre, 0.7], ["pop", 0.2]]}
            if i % 17 == 3:
                record = {"error": "could not be decoded"}
            db.save_result(file_id, KEY, "tiny", record)
            if i % 3 == 0:
                db.save_result(file_id, OTHER, "other", {"verdict": "genre", "genre": "blues", "confidence": 0.9})


@pytest.fixture
def db(tmp_path):
    with LibraryDatabase(tmp_path / "library.sqlite3") as db:
        _fill(db, tmp_path / "Music")
        pages.sync_keys(db)
        yield db


def reference_key(column: int, row):
    """How the Library table sorted before it read pages (its sort role), per column."""
    if column == 6:
        return row.confidence if row.confidence is not None else -1.0
    if column == 7:
        return row.duration or 0.0
    text = (row.title or row.display.rsplit("/", 1)[-1], row.artist or "", row.album or "", "; ".join(row.genre_tag),
            "", verdict_text(row.verdict, row.genre, row.error))[column]
    return sort_key(text)


@pytest.mark.parametrize("column", [0, 1, 2, 3, 5, 6, 7])
@pytest.mark.parametrize("descending", [False, True])
def test_each_column_sorts_as_the_python_rule(db, column, descending):
    rows = db.rows(KEY)
    expected = [r.id for r in sorted(rows, key=lambda r: (reference_key(column, r), r.id))]
    if descending:
        expected.reverse()
    assert list(pages.ordered_ids(db, Query(KEY, column=column, descending=descending))) == expected


def test_proposed_column_sorts_by_the_proposed_genre(db):
    proposed = {("genre", g): g.upper() for g in GENRES}  # "unsure" and the rest propose nothing
    rows = db.rows(KEY)
    expected = [r.id for r in sorted(rows, key=lambda r: (
        sort_key(proposed.get((r.verdict, r.genre), "") if not r.error else ""), r.id))]
    assert list(pages.ordered_ids(db, Query(KEY, column=4, proposed=proposed))) == expected


def test_accented_titles_sort_among_their_letter(db):
    titles = [r.title for r in pages.rows_for_ids(db, KEY, pages.ordered_ids(db, Query(KEY))) if r.title]
    firsts = []
    for t in titles:
        if t not in firsts:
            firsts.append(t)
    assert firsts.index("Ábaco") < firsts.index("Ça ira") < firsts.index("Eclair") < firsts.index("elegie") \
        < firsts.index("Élégie") < firsts.index("Elf") < firsts.index("Rock me") < min(firsts.index("strasse"), firsts.index("Straße")) \
        < max(firsts.index("strasse"), firsts.index("Straße")) < firsts.index("Zebra")  # ß and ss: equal


@pytest.mark.parametrize("kind", list(FILTERS))
def test_filters_genres_and_search_give_the_rows_of_listing_matches(db, kind):
    rows = sorted(db.rows(KEY), key=lambda r: (reference_key(0, r), r.id))
    for genre in (None, "rock", "électro", "blues"):
        for text in ("", "elegie", "ÉLÉGIE", "edith rock", "STRASSE", "électro", "electro album", "zz", "flac 0"):
            want = [r for r in rows if matches(r, kind, genre, text, 1)]
            query = Query(KEY, kind=kind, genre=genre, text=text, last_run=1)
            assert list(pages.ordered_ids(db, query)) == [r.id for r in want], (kind, genre, text)
            counts, shown, done = pages.group_counts(db, query)
            assert (counts, shown) == (genre_counts(want), len(want)), (kind, genre, text)
            assert done == sum(r.verdict is not None or r.error is not None for r in want)


def test_another_model_sees_its_own_results(db):
    rows = db.rows(OTHER)
    assert pages.group_counts(db, Query(OTHER))[:2] == (genre_counts(rows), len(rows))
    assert list(pages.ordered_ids(db, Query(OTHER, genre="blues"))) == sorted(
        (r.id for r in rows if r.genre == "blues"), key=lambda i: (reference_key(0, db.rows_by_id(OTHER, [i])[0]), i))


def test_rows_are_read_only_for_the_ids_asked(db):
    ids = list(pages.ordered_ids(db, Query(KEY, column=7)))
    reads = []
    pages._conn(db).set_trace_callback(lambda sql: reads.append(sql) if "r.timeline" in sql else None)
    page = pages.rows_for_ids(db, KEY, ids[10:30])
    pages._conn(db).set_trace_callback(None)
    assert [r.id for r in page] == ids[10:30] and len(reads) == 1


def test_keys_follow_changed_moved_and_forgotten_files(db, tmp_path):
    first = pages.rows_for_ids(db, KEY, pages.ordered_ids(db, Query(KEY)))[0]
    db.upsert_file(first.path, size=first.size + 1, mtime_ns=first.mtime_ns + 1, fingerprint=first.fingerprint,
                   duration=first.duration, artist=first.artist, title="zzz last now", album=first.album)
    db.move_file(pages.ids_of_paths(db, [first.path])[0], tmp_path / "moved" / "x.flac", first.size + 1, 5)
    gone = pages.rows_for_ids(db, KEY, pages.ordered_ids(db, Query(KEY)))[1]
    db.remove_files([gone.path])
    assert pages.sync_keys(db, prune=True) == 1
    ids = list(pages.ordered_ids(db, Query(KEY)))
    assert ids[-1] == first.id and gone.id not in ids
    assert list(pages.ordered_ids(db, Query(KEY, text="moved zzz"))) == [first.id]
    assert pages._conn(db).execute("SELECT COUNT(*) FROM file_keys").fetchone()[0] == len(ids)


def test_a_new_library_is_sorted_from_its_first_refresh(tmp_path):
    with LibraryDatabase(tmp_path / "new.sqlite3") as db:
        assert list(pages.ordered_ids(db, Query(KEY))) == [] if pages.sync_keys(db) == 0 else False
        _fill(db, tmp_path / "Music", n=12)
        snap = pages.snapshot(db.path, Query(KEY), [str(tmp_path / "Music" / "Artist 0" / "Album 0" / "000 Élégie.flac")])
        assert len(snap.ids) == snap.total == 12 and len(snap.changed) == 1
        assert snap.all_counts == genre_counts(db.rows(KEY))
