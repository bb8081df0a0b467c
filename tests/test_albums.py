"""Albums (issue 28): tracks grouped by album, one genre voted over their slices, outliers
flagged, ``--per-album`` writing; real tagged files and a real SQLite library."""
from __future__ import annotations

import json

import pytest

from conftest import synth, tagged_flac, write
from genre_desktop.core.library.albums import AlbumModel, album_index, albums
from genre_desktop.core.library.database import LibraryDatabase
from genre_desktop.core.library.tags import read_tags
from genre_desktop.core.library.writing import apply, undo
from genre_desktop.core.library.review import TagOptions, propose

KEY = "model@1#x"
LABELS = ["blues", "classical", "country", "disco", "electronic", "hiphop", "jazz", "metal", "pop", "reggae", "rock"]
MODEL = AlbumModel(labels=LABELS, rules={"min_confidence": 0.5, "min_agreement": 0.5})



def timeline(genres, p=0.8):
    return [[3.0 * i, g, p] for i, g in enumerate(genres)]


def add_track(db, path, verdict, genre, slices, key=KEY, top=None):
    """The row a scan leaves for ``path`` (its tags read from the file)."""
    stat, tags = path.stat(), read_tags(path)
    fid = db.upsert_file(path, size=stat.st_size, mtime_ns=stat.st_mtime_ns, fingerprint=None, duration=2.0,
                         artist=tags.artist, title=tags.title, album=tags.album, genre_tag=tags.genre)
    db.save_result(fid, key, "model", {"verdict": verdict, "genre": genre, "closest": genre, "confidence": 0.7,
                                       "top": top or [[genre, 0.7]], "timeline": timeline(slices)})
    return fid


def split_album(db, folder, key=KEY):
    """A 5-track rock album whose tracks came out rock / reggae / pop / not sure / rock."""
    own = [("genre", "rock", ["rock"] * 4, [["rock", 0.8], ["metal", 0.1], ["pop", 0.05]]),
           ("genre", "reggae", ["reggae", "reggae", "reggae", "rock"], [["reggae", 0.55], ["rock", 0.35], ["pop", 0.05]]),
           ("genre", "pop", ["pop", "pop", "rock", "pop"], [["pop", 0.6], ["rock", 0.3], ["country", 0.05]]),
           ("unsure", "rock", ["rock", "jazz", "rock", "blues"], [["rock", 0.45], ["jazz", 0.25], ["blues", 0.2]]),
           ("genre", "rock", ["rock", "rock", "rock", "metal"], [["rock", 0.7], ["metal", 0.25], ["pop", 0.02]])]
    paths = []
    for i, (verdict, genre, slices, top) in enumerate(own):
        path = tagged_flac(folder / f"{i + 1:02d}.flac", "The Band", "Split Album", seed=i)
        add_track(db, path, verdict, genre, slices, key, top)
        paths.append(path)
    return paths


def test_a_split_album_gets_one_genre_and_its_outliers_are_flagged(tmp_path):
    with LibraryDatabase(tmp_path / "lib.sqlite3") as db:
        paths = split_album(db, tmp_path / "The Band" / "Split Album")
        even = [tagged_flac(tmp_path / "Mix" / f"{g}.flac", f"Artist {g}", "Mixtape", seed=9 + i)
                for i, g in enumerate(["rock", "reggae", "pop", "jazz"])]
        for path, g in zip(even, ["rock", "reggae", "pop", "jazz"]):
            add_track(db, path, "genre", g, [g] * 4)
        found = {a.album: a for a in albums(db, KEY, MODEL)}
    album = found["Split Album"]
    assert album.artist == "The Band" and len(album.tracks) == 5
    assert album.genre == "rock" and album.verdict == "genre"
    assert sorted(album.disagreeing) == sorted(str(p) for p in paths[1:3])  # the reggae and the pop track
    mix = found["Mixtape"]  # four genres, one track each: the slices split, so the album is not sure
    assert mix.verdict == "unsure" and mix.artist == "Various artists"
    assert len(mix.disagreeing) == 3


def test_every_track_weighs_the_same_however_many_slices_the_scan_stored(tmp_path):
    """A scan stores every third slice of a clear track but every slice of a borderline one
    (the fast path): three clear classical tracks must not be outvoted by one long pop track
    (the new-user trial saw such a folder called pop)."""
    with LibraryDatabase(tmp_path / "lib.sqlite3") as db:
        for i in range(3):
            path = tagged_flac(tmp_path / "Album" / f"{i + 1:02d}.flac", "Orchestra", "Symphonies", seed=i)
            add_track(db, path, "genre", "classical", ["classical"] * 4,
                      top=[["classical", 0.97], ["jazz", 0.02], ["pop", 0.01]])
        path = tagged_flac(tmp_path / "Album" / "04.flac", "Orchestra", "Symphonies", seed=7)
        add_track(db, path, "unsure", "pop", ["pop"] * 20 + ["classical"] * 4,
                  top=[["pop", 0.49], ["classical", 0.3], ["rock", 0.1]])
        (album,) = albums(db, KEY, MODEL)
    assert album.genre == "classical", album.top
    assert album.disagreeing == [str(path)]


def test_untagged_tracks_group_by_folder_and_same_titles_in_two_folders_stay_apart(tmp_path):
    with LibraryDatabase(tmp_path / "lib.sqlite3") as db:
        for folder in ("A", "B"):
            for i in range(2):
                add_track(db, tagged_flac(tmp_path / folder / f"{i}.flac", "X", "Greatest Hits", seed=i),
                          "genre", "jazz", ["jazz"] * 3)
        plain = tmp_path / "C" / "loose.flac"
        write(plain, synth("bass", 2.0, seed=5))
        add_track(db, plain, "genre", "blues", ["blues"] * 3)
        found = albums(db, KEY, MODEL)
        index = album_index(db, KEY)  # the view's quick listing: the same albums, the same tracks
    assert [(a.key, a.artist, sorted(a.file_ids)) for a in index] == [(a.key, a.artist, sorted(a.file_ids))
                                                                      for a in found]
    assert sorted((a.album, len(a.tracks)) for a in found if a.album) == [("Greatest Hits", 2)] * 2
    loose = [a for a in found if a.album is None]
    assert len(loose) == 1 and loose[0].title == "C" and loose[0].genre == "blues"


def test_per_album_writes_the_album_genre_and_lists_small_albums_as_exceptions(tmp_path):
    with LibraryDatabase(tmp_path / "lib.sqlite3") as db:
        paths = split_album(db, tmp_path / "The Band" / "Split Album")
        duo = [tagged_flac(tmp_path / "Duo" / f"{i}.flac", "Duo", "Two", seed=20 + i) for i in range(2)]
        add_track(db, duo[0], "genre", "jazz", ["jazz"] * 3)
        add_track(db, duo[1], "genre", "blues", ["blues"] * 3)
        options = TagOptions(per_album=True)
        lines = {line.path: line for line in propose(db, KEY, options, album_model=MODEL)}
        assert all(lines[str(p)].proposed == ["Rock"] and lines[str(p)].action == "write" for p in paths)
        assert lines[str(paths[1])].own == "reggae"  # an exception the review lists
        assert lines[str(duo[1])].proposed == ["Blues"] and "album exception" in lines[str(duo[1])].why
        summary = apply(db, lines.values(), KEY, options)
        assert summary.written == 7 and not summary.failed
        assert [read_tags(p).genre for p in paths] == [["Rock"]] * 5
        assert undo(db).written == 7 and all(read_tags(p).genre == [] for p in paths)
        track_by_track = {line.path: line for line in propose(db, KEY, TagOptions(), album_model=MODEL)}
        assert track_by_track[str(paths[1])].proposed == ["Reggae"]  # without per_album, its own


def test_a_folder_without_album_tags_is_tagged_track_by_track(tmp_path):
    """Loose singles in one folder are grouped for the album view but never given one genre."""
    from mutagen.flac import FLAC as Flac

    with LibraryDatabase(tmp_path / "lib.sqlite3") as db:
        loose = []
        for i, genre in enumerate(["classical", "classical", "classical", "pop"]):
            path = tagged_flac(tmp_path / "Downloads" / f"{i}.flac", f"Artist {i}", "x", seed=30 + i)
            audio = Flac(path)
            del audio["album"]
            audio.save()
            add_track(db, path, "genre", genre, [genre] * 4)
            loose.append(path)
        lines = {line.path: line for line in propose(db, KEY, TagOptions(per_album=True), album_model=MODEL)}
    assert lines[str(loose[3])].proposed == ["Pop"]
    assert "no album tag" in lines[str(loose[3])].why


def test_a_one_track_album_says_what_its_track_says(tmp_path):
    with LibraryDatabase(tmp_path / "lib.sqlite3") as db:
        path = tagged_flac(tmp_path / "gh1" / "01.flac", "X", "Greatest Hits", seed=40)
        add_track(db, path, "unsure", "pop", ["pop", "country", "pop", "country"],
                  top=[["pop", 0.49], ["country", 0.45], ["rock", 0.03]])
        (album,) = albums(db, KEY, MODEL)
    assert (album.genre, album.verdict, album.disagreeing) == ("pop", "unsure", [])
    assert album.top[0] == ["pop", 0.49]


@pytest.fixture(scope="module")
def bundled_key():
    from genre_desktop.core.engine.models.registry import resolve_model
    from genre_desktop.core.library.model_ref import ModelRef

    return ModelRef.of(resolve_model("genre_musicnn_v3")).key


def test_cli_show_albums_json_and_write_tags_per_album(tmp_path, bundled_key, run_cli):
    db_path = tmp_path / "lib.sqlite3"
    with LibraryDatabase(db_path) as db:
        paths = split_album(db, tmp_path / "The Band" / "Split Album", key=bundled_key)
    lib = ["library", "--library", db_path]
    shown = [json.loads(line) for line in
             run_cli(*lib, "show", "--albums", "--json", "--model", "genre_musicnn_v3", check_rc=0).stdout.splitlines()]
    assert len(shown) == 1
    album = shown[0]
    assert set(album) == {"artist", "album", "genre", "verdict", "confidence", "tracks", "disagreeing"}
    assert (album["artist"], album["album"], album["genre"], album["tracks"]) == ("The Band", "Split Album", "rock", 5)
    assert album["verdict"] == "genre" and 0 < album["confidence"] <= 1
    assert sorted(album["disagreeing"]) == sorted(str(p) for p in paths[1:3])
    plain = run_cli(*lib, "show", "--albums", "--model", "genre_musicnn_v3", check_rc=0)
    assert "Split Album\trock" in plain.stdout and "2 disagreeing" in plain.stdout

    wrote = run_cli(*lib, "write-tags", "--per-album", "--include-unsure", "--model", "genre_musicnn_v3",
                    "--no-progress", check_rc=0)
    assert "5 files tagged" in wrote.stdout, wrote.stdout + wrote.stderr
    assert [read_tags(p).genre for p in paths] == [["Rock"]] * 5
    assert "one genre per album" in run_cli(*lib, "history", check_rc=0).stdout


def library_view(qtbot, tmp_path, db_path):
    """The real Library tab on a library database, showing the bundled model's results."""
    from PySide6.QtCore import QSettings

    from genre_desktop.core.engine.models.registry import resolve_model
    from genre_desktop.gui.library_view import LibraryView
    from genre_desktop.gui.settings import Settings

    view = LibraryView(Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)), str(db_path))
    qtbot.addWidget(view)
    view.set_model(str(resolve_model("genre_musicnn_v3")))
    view.show()
    return view


def test_the_album_view_opens_from_the_library_button_and_flags_outliers(qtbot, tmp_path, bundled_key):
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    from genre_desktop.gui.album_view import FLAG, AlbumWindow

    db_path = tmp_path / "lib.sqlite3"
    with LibraryDatabase(db_path) as db:
        paths = split_album(db, tmp_path / "The Band" / "Split Album", key=bundled_key)
    view = library_view(qtbot, tmp_path, db_path)
    QTest.mouseClick(view.albums_button, Qt.LeftButton)
    window = view.findChildren(AlbumWindow)[-1]
    qtbot.waitUntil(window.isVisible, timeout=5000)
    tree = window.view
    artist = tree.artist_row("The Band")
    assert artist is not None and artist.rowCount() == 1
    assert artist.child(0, 0).text() == "\u2026"  # albums listed (and voted) when the artist is expanded
    tree.tree.expand(artist.index())
    album = artist.child(0, 0)
    assert album.text() == "Split Album" and album.rowCount() == 5
    assert artist.child(0, 1).text() == "rock" and artist.child(0, 2).text().startswith("confident")
    assert artist.child(0, 4).text() == "2 tracks disagree"
    notes = {album.child(r, 0).toolTip(): (album.child(r, 1).text(), album.child(r, 4).text())
             for r in range(album.rowCount())}
    assert notes[str(paths[1])] == ("reggae", FLAG) and notes[str(paths[2])] == ("pop", FLAG)
    assert notes[str(paths[0])] == ("rock", "")
    window.close()


def test_the_review_lists_album_exceptions_after_disagreements(qtbot, tmp_path, bundled_key):
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    from genre_desktop.gui.tag_review import COLUMNS, TagReviewDialog

    db_path = tmp_path / "lib.sqlite3"
    with LibraryDatabase(db_path) as db:
        paths = split_album(db, tmp_path / "The Band" / "Split Album", key=bundled_key)
        tagged = tagged_flac(tmp_path / "Solo" / "one.flac", "Solo", "Single", seed=40, genre="Jazz")
        add_track(db, tagged, "genre", "metal", ["metal"] * 3, bundled_key)
    view = library_view(qtbot, tmp_path, db_path)
    QTest.mouseClick(view.write_button, Qt.LeftButton)
    review = view.findChildren(TagReviewDialog)[-1]
    assert review.per_album.isChecked()  # one genre per album by default
    table, album_column = review.table, COLUMNS.index("Album genre")
    cells = [(table.item(r, 0).text(), table.item(r, 4).text(), table.item(r, album_column).text())
             for r in range(table.rowCount())]
    assert cells[0][0] == "one.flac"  # its "Jazz" disagrees with metal: first
    assert cells[1:3] == [("02.flac", "Rock", "rock (this track: reggae)"), ("03.flac", "Rock", "rock (this track: pop)")]
    assert {name for name, will_be, _ in cells[3:]} == {p.name for p in (paths[0], paths[3], paths[4])}
    QTest.mouseClick(review.per_album, Qt.LeftButton)  # off: each track its own genre (the unsure one skipped)
    own = {table.item(r, 0).text(): table.item(r, 4).text() for r in range(table.rowCount())}
    assert own["02.flac"] == "Reggae" and own["03.flac"] == "Pop" and "04.flac" not in own
    review.reject()


def test_the_review_marks_tracks_of_a_small_album_as_album_exceptions(qtbot, tmp_path, bundled_key):
    """An album with too few analysed tracks is tagged track by track, and the review says so
    (the command line's dry run did; the window said only "new tag" beside an album genre)."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    from genre_desktop.gui.tag_review import COLUMNS, TagReviewDialog

    db_path = tmp_path / "lib.sqlite3"
    with LibraryDatabase(db_path) as db:
        for i, genre in enumerate(("reggae", "classical")):
            track = tagged_flac(tmp_path / "Duo" / "Two" / f"0{i + 1}.flac", "Duo", "Two", seed=60 + i)
            add_track(db, track, "genre", genre, [genre] * 3, bundled_key)
    view = library_view(qtbot, tmp_path, db_path)
    QTest.mouseClick(view.write_button, Qt.LeftButton)
    review = view.findChildren(TagReviewDialog)[-1]
    table = review.table
    notes = [table.item(r, COLUMNS.index("Note")).text() for r in range(table.rowCount())]
    albums = [table.item(r, COLUMNS.index("Album genre")).text() for r in range(table.rowCount())]
    assert len(notes) == 2 and all("album exception" in n for n in notes), notes
    assert all("2 analysed tracks" in a for a in albums), albums
    review.reject()
