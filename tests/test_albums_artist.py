"""Albums by album artist (issue 28): the album-artist tag read from real files of every
family, a compilation of many track artists under one album artist grouped as one album,
folder groups that say their folder, a schema-2 library migrated (and a newer one still
refused), and the album artists of rows stored before schema 3 read on the next scan."""
from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess

import pytest
from mutagen.apev2 import APEv2

from conftest import synth, tagged_flac, write
from genre_desktop.core.library.albums import AlbumModel, album_index, albums
from genre_desktop.core.library.database import SCHEMA_VERSION, LibraryDatabase
from genre_desktop.core.library.db_open import LibraryTooNew
from genre_desktop.core.library.tags import read_tags

KEY = "model@1#x"
LABELS = ["blues", "classical", "country", "disco", "electronic", "hiphop", "jazz", "metal", "pop", "reggae", "rock"]
MODEL = AlbumModel(labels=LABELS, rules={"min_confidence": 0.5, "min_agreement": 0.5})
CURATOR = "DJ Curator"
ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")

#: the library's schema 2, as the version before album artists made it (files without albumartist)
SCHEMA_2 = """
CREATE TABLE files (
    id INTEGER PRIMARY KEY, path BLOB NOT NULL UNIQUE,
    size INTEGER, mtime_ns INTEGER, fingerprint TEXT, duration REAL,
    artist TEXT, title TEXT, album TEXT, genre_tag TEXT, added_at TEXT, changed_run INTEGER
);
CREATE INDEX files_fingerprint ON files (fingerprint);
CREATE INDEX files_size_time ON files (size, mtime_ns);
CREATE TABLE results (
    file_id INTEGER NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    model_key TEXT NOT NULL, model_name TEXT,
    verdict TEXT, genre TEXT, closest TEXT, confidence REAL, reason TEXT,
    top TEXT, timeline TEXT, sounds_like TEXT, error TEXT, analysed_at TEXT, run_id INTEGER,
    PRIMARY KEY (file_id, model_key)
);
CREATE TABLE runs (id INTEGER PRIMARY KEY, model_key TEXT, model_name TEXT, roots TEXT,
    started_at TEXT, finished_at TEXT, state TEXT, counts TEXT);
CREATE TABLE tag_batches (id INTEGER PRIMARY KEY, created_at TEXT, model_key TEXT, options TEXT,
    undo_of INTEGER, undone_by INTEGER);
CREATE TABLE tag_writes (id INTEGER PRIMARY KEY, batch_id INTEGER NOT NULL REFERENCES tag_batches (id),
    file_id INTEGER REFERENCES files (id) ON DELETE SET NULL, path BLOB NOT NULL, previous TEXT, new TEXT,
    state TEXT NOT NULL, message TEXT, at TEXT);
CREATE INDEX tag_writes_batch ON tag_writes (batch_id);
CREATE TABLE vectors (file_id INTEGER NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    model_key TEXT NOT NULL, embedding BLOB, tag_probs BLOB, PRIMARY KEY (model_key, file_id));
CREATE TABLE model_tags (model_key TEXT PRIMARY KEY, names TEXT);
PRAGMA user_version = 2;
"""



def flac(path, artist, album, albumartist=None, seed=0):
    """A tagged FLAC file; the album artist as ALBUMARTIST."""
    return tagged_flac(path, artist, album, seed=seed, albumartist=albumartist)


def encoded(path, seed=0, codec=(), **tags):
    """A real file of ``path``'s kind encoded by ffmpeg, with ``tags`` as its metadata."""
    source = write(path.with_suffix(".src.wav"), synth("bass", 2.0, seed=seed))
    meta = [arg for key, value in tags.items() for arg in ("-metadata", f"{key}={value}")]
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-i", str(source), *codec, *meta,
                    str(path)], check=True, timeout=60)
    source.unlink()
    return path


def add_track(db, path, genre, key=KEY):
    """The row a scan leaves for ``path``: its tags read from the file, one result."""
    stat, tags = path.stat(), read_tags(path)
    fid = db.upsert_file(path, size=stat.st_size, mtime_ns=stat.st_mtime_ns, fingerprint=None, duration=2.0,
                         artist=tags.artist, title=tags.title, album=tags.album, genre_tag=tags.genre,
                         albumartist=tags.albumartist or "")
    db.save_result(fid, key, "model", {"verdict": "genre", "genre": genre, "closest": genre, "confidence": 0.8,
                                       "top": [[genre, 0.8]], "timeline": [[0.0, genre, 0.8], [3.0, genre, 0.8]]})
    return fid


@ffmpeg
def test_the_album_artist_is_read_from_id3_vorbis_mp4_and_apev2(tmp_path):
    mp3 = encoded(tmp_path / "a.mp3", artist="One", album="Mix", album_artist=CURATOR)  # ID3 TPE2
    m4a = encoded(tmp_path / "b.m4a", codec=("-c:a", "aac"), artist="Two", album="Mix", album_artist=CURATOR)  # aART
    vorbis = flac(tmp_path / "c.flac", "Three", "Mix", CURATOR)  # ALBUMARTIST
    wavpack = encoded(tmp_path / "d.wv", codec=("-c:a", "wavpack"))
    ape = APEv2()
    ape["Artist"], ape["Album"], ape["Album Artist"] = "Four", "Mix", CURATOR
    ape.save(wavpack)
    read = {p.suffix: read_tags(p) for p in (mp3, m4a, vorbis, wavpack)}
    assert {s: (t.artist, t.album, t.albumartist) for s, t in read.items()} == {
        ".mp3": ("One", "Mix", CURATOR), ".m4a": ("Two", "Mix", CURATOR), ".flac": ("Three", "Mix", CURATOR),
        ".wv": ("Four", "Mix", CURATOR)}
    assert read_tags(flac(tmp_path / "plain.flac", "Solo", "Alone")).albumartist is None


def compilation(db, root):
    """Three tracks of three artists under one album artist, in two folders (CD1, CD2)."""
    paths = [flac(root / "CD1" / "01.flac", "Artist A", "Summer Mix", CURATOR, seed=1),
             flac(root / "CD1" / "02.flac", "Artist B", "Summer Mix", CURATOR.upper(), seed=2),
             flac(root / "CD2" / "01.flac", "Artist C", "summer  mix", CURATOR, seed=3)]
    for path, genre in zip(paths, ["pop", "pop", "rock"]):
        add_track(db, path, genre)
    return paths


def test_a_compilation_with_one_album_artist_is_one_album(tmp_path):
    with LibraryDatabase(tmp_path / "lib.sqlite3") as db:
        paths = compilation(db, tmp_path / "Summer Mix")
        # the same album name by another album artist, and the same name with none, stay apart
        other = [flac(tmp_path / "Other" / f"{i}.flac", f"X{i}", "Summer Mix", "Someone Else", seed=5 + i)
                 for i in range(2)]
        loose = [flac(tmp_path / "Loose" / f"{i}.flac", f"Y{i}", "Summer Mix", seed=8 + i) for i in range(2)]
        for path in other + loose:
            add_track(db, path, "jazz")
        found = albums(db, KEY, MODEL)
        index = album_index(db, KEY)
    assert [(a.key, a.artist, sorted(a.file_ids)) for a in index] == [(a.key, a.artist, sorted(a.file_ids))
                                                                      for a in found]
    mix = [a for a in found if a.artist == CURATOR]
    assert len(mix) == 1 and sorted(r.path for r in mix[0].tracks) == sorted(map(str, paths))
    assert mix[0].genre == "pop" and mix[0].disagreeing == [str(paths[2])]
    assert mix[0].folder == str(tmp_path / "Summer Mix")  # its tracks' common folder
    assert sorted((a.artist, len(a.tracks)) for a in found) == [(CURATOR, 3), ("Someone Else", 2),
                                                                ("Various artists", 2)]


@pytest.fixture(scope="module")
def bundled():
    """The bundled model's name and :class:`ModelRef` (skipped without it)."""
    from genre_desktop.core.engine.models.registry import resolve_model
    from genre_desktop.core.errors import BundleError
    from genre_desktop.core.library.model_ref import ModelRef

    try:
        return "genre_musicnn_v3", ModelRef.of(resolve_model("genre_musicnn_v3"))
    except BundleError as exc:
        pytest.skip(f"no bundled model: {exc}")


def test_show_albums_json_names_the_album_artist_and_the_folder_of_untagged_tracks(tmp_path, bundled, run_cli):
    name, ref = bundled
    key = ref.key
    db_path = tmp_path / "lib.sqlite3"
    with LibraryDatabase(db_path) as db:
        compilation(db, tmp_path / "Summer Mix")
        misc = tmp_path / "Misc"
        for i in range(2):
            add_track(db, write(misc / f"{i}.flac", synth("bass", 2.0, seed=i)), "blues", key=key)
        db.connection.execute("UPDATE results SET model_key = ?", (key,))
    done = run_cli("library", "--library", db_path, "show", "--albums", "--json", "--model", name, check_rc=0)
    shown = [json.loads(line) for line in done.stdout.splitlines()]
    fixed = {"artist", "album", "genre", "verdict", "confidence", "tracks", "disagreeing"}
    by_artist = {line["artist"]: line for line in shown}
    mix = by_artist[CURATOR]
    assert set(mix) == fixed and (mix["album"], mix["tracks"], mix["genre"]) == ("Summer Mix", 3, "pop")
    folder = by_artist[None]
    assert set(folder) == fixed | {"folder"} and folder["album"] is None and folder["folder"] == str(misc)
    assert folder["tracks"] == 2 and folder["genre"] == "blues"
    plain = run_cli("library", "--library", db_path, "show", "--albums", "--model", name, check_rc=0)
    assert f"-\t{misc}\tblues" in plain.stdout and f"{CURATOR}\tSummer Mix\tpop" in plain.stdout, plain.stdout


def old_library(path):
    """A library file exactly as schema 2 made it."""
    conn = sqlite3.connect(path)
    conn.executescript(SCHEMA_2)
    conn.close()
    return path


def test_a_schema_2_library_gains_the_column_and_a_newer_one_is_still_refused(tmp_path):
    path = old_library(tmp_path / "old.sqlite3")
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO files (path, size, mtime_ns, artist, album, genre_tag) VALUES"
                 " (?, 1, 1, 'A', 'Album', '[]')", (b"/music/a.flac",))
    conn.commit()
    conn.close()
    with LibraryDatabase(path, readonly=True) as db:  # read-only: read as it is, nothing changed
        (row,) = db.rows(KEY)
        assert (row.artist, row.album, row.albumartist) == ("A", "Album", None)
        assert len(album_index(db, KEY)) == 1
    with sqlite3.connect(path) as conn:
        assert "albumartist" not in {r[1] for r in conn.execute("PRAGMA table_info(files)")}
    with LibraryDatabase(path) as db:
        (row,) = db.rows(KEY)
        assert row.artist == "A" and row.albumartist is None  # kept; not read yet
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
        assert "albumartist" in {r[1] for r in conn.execute("PRAGMA table_info(files)")}
        plan = " ".join(r[-1] for r in conn.execute("EXPLAIN QUERY PLAN SELECT id FROM files WHERE albumartist = 'x' COLLATE NOCASE"))
        assert "files_albumartist" in plan  # album_mates finds an album artist's tracks through its index
        assert conn.execute("SELECT albumartist FROM files").fetchone()[0] is None
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    before = path.read_bytes()
    for readonly in (False, True):
        with pytest.raises(LibraryTooNew):
            LibraryDatabase(path, readonly=readonly)
    assert path.read_bytes() == before


def test_rows_stored_before_schema_3_get_their_album_artist_on_the_next_scan(tmp_path, bundled):
    from genre_desktop.core.library.batch import scan_library

    ref = bundled[1]
    root = tmp_path / "Summer Mix"
    paths = [flac(root / "CD1" / "01.flac", "Artist A", "Summer Mix", CURATOR, seed=1),
             flac(root / "CD1" / "02.flac", "Artist B", "Summer Mix", CURATOR, seed=2),
             flac(root / "CD2" / "01.flac", "Artist C", "Summer Mix", CURATOR, seed=3),
             flac(root / "Bonus" / "01.flac", "Artist D", "Bonus", seed=4)]
    path = old_library(tmp_path / "old.sqlite3")
    conn = sqlite3.connect(path)
    for i, track in enumerate(paths):  # as the version before scanned them: analysed, no album artist
        stat, tags = track.stat(), read_tags(track)
        conn.execute("INSERT INTO files (id, path, size, mtime_ns, duration, artist, title, album, genre_tag)"
                     " VALUES (?, ?, ?, ?, 2.0, ?, ?, ?, '[]')", (i + 1, bytes(track), stat.st_size,
                                                                   stat.st_mtime_ns, tags.artist, tags.title,
                                                                   tags.album))
        conn.execute("INSERT INTO results (file_id, model_key, model_name, verdict, genre, closest, confidence,"
                     " top, timeline) VALUES (?, ?, ?, 'genre', 'pop', 'pop', 0.8, ?, ?)",
                     (i + 1, ref.key, ref.name, json.dumps([["pop", 0.8]]), json.dumps([[0.0, "pop", 0.8]])))
        conn.execute("INSERT INTO vectors (file_id, model_key, embedding) VALUES (?, ?, ?)",
                     (i + 1, ref.key, b"\0" * 8))
    conn.commit()
    conn.close()
    with LibraryDatabase(path) as db:
        assert len(albums(db, ref.key, MODEL)) == 3  # no album artist yet: by folder (CD1, CD2, Bonus)
    summary = scan_library([root], ref, path)
    assert (summary.unchanged, summary.analysed, summary.failed) == (4, 0, [])  # nothing analysed again
    with LibraryDatabase(path, readonly=True) as db:
        assert [r.albumartist for r in db.rows(ref.key)] == [None, CURATOR, CURATOR, CURATOR]
        with sqlite3.connect(path) as raw:
            assert raw.execute("SELECT albumartist FROM files WHERE id = 4").fetchone()[0] == ""  # read: none
        found = sorted((a.artist, a.album, len(a.tracks)) for a in albums(db, ref.key, MODEL))
    assert found == [("Artist D", "Bonus", 1), (CURATOR, "Summer Mix", 3)]


def test_exports_keep_their_keys_and_columns_in_order(tmp_path):
    import csv

    from genre_desktop.core.library.listing import write_table

    with LibraryDatabase(tmp_path / "lib.sqlite3") as db:
        add_track(db, flac(tmp_path / "a.flac", "=cmd", "Mix", CURATOR), "pop")
        rows = db.rows(KEY)
    keys = ["path", "artist", "title", "album", "genre_tag", "verdict", "genre", "confidence", "duration",
            "closest", "reason", "error", "analysed_at", "top", "sounds_like", "timeline"]
    record = json.loads(write_table(rows, tmp_path / "out.json", KEY, "model").read_text())["tracks"][0]
    assert list(record) == keys and record["path"] == str(tmp_path / "a.flac") and record["genre_tag"] == []
    with open(write_table(rows, tmp_path / "out.csv", KEY, "model"), newline="", encoding="utf-8") as handle:
        header, cells = list(csv.reader(handle))
    assert header == [*keys[:-2], "model"]
    assert (cells[1], cells[5], cells[13], cells[14]) == ("'=cmd", "genre", "pop 80%", KEY)


def test_the_album_view_says_a_not_music_track_in_words_and_names_folder_groups(qtbot, tmp_path):
    from genre_desktop.gui.album_view import FOLDER_NOTE, AlbumView

    with LibraryDatabase(tmp_path / "lib.sqlite3") as db:
        tracks = [flac(tmp_path / "Band" / f"{i}.flac", "The Band", "Live", seed=i) for i in range(3)]
        for path in tracks[:2]:
            add_track(db, path, "rock")
        talk = add_track(db, tracks[2], "rock")
        db.save_result(talk, KEY, "model", {"verdict": "not_music", "genre": None, "closest": "hiphop",
                                            "confidence": 0.91, "top": [["hiphop", 0.91]], "timeline": []})
        add_track(db, write(tmp_path / "Misc" / "x.flac", synth("bass", 2.0, seed=7)), "jazz")
        view = AlbumView(db, KEY, MODEL)
        qtbot.addWidget(view)
        band = view.artist_row("The Band")
        view.fill_artist(band)
        album = band.child(0, 0)
        verdicts = {album.child(r, 0).toolTip(): album.child(r, 2).text() for r in range(album.rowCount())}
        assert verdicts[str(tracks[2])] == "not music"  # not its closest genre's 91 %
        assert verdicts[str(tracks[0])] == "confident 80%"
        unknown = view.artist_row("Unknown artist")
        view.fill_artist(unknown)
        assert unknown.child(0, 0).text() == "Misc" and unknown.child(0, 4).text() == FOLDER_NOTE


def test_the_review_of_one_track_votes_its_whole_album_across_folders(tmp_path):
    from genre_desktop.core.library.pages import album_mates, proposals_for
    from genre_desktop.core.library.review import TagOptions

    db_path = tmp_path / "lib.sqlite3"
    with LibraryDatabase(db_path) as db:
        paths = compilation(db, tmp_path / "Summer Mix")  # CD1: pop, pop; CD2: rock
        add_track(db, flac(tmp_path / "Summer Mix" / "CD2" / "02.flac", "Z", "Other", seed=9), "jazz")
        (cd2,) = [r for r in db.rows(KEY) if r.path == str(paths[2])]
        assert [r.path for r in album_mates(db, KEY, [cd2])] == sorted(map(str, paths))
    found = proposals_for(db_path, KEY, TagOptions(per_album=True, verdicts=("genre", "unsure")), None, [cd2])
    assert list(found) == [cd2.id] and found[cd2.id].album_genre == "pop"  # voted with CD1's tracks, not alone
