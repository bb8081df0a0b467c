"""Moods, styles, decades: shown above their thresholds, written only on request into
MOOD / GROUPING (Picard's field per format), never GENRE; ``undo-tags`` puts them back.
Real files of each tag family (ID3, Vorbis, MP4), a real SQLite library and the CLI."""
from __future__ import annotations

import json

import mutagen
import pytest

from genre_desktop.core.library.database import LibraryDatabase
from genre_desktop.core.library.moods import CONSERVATIVE, sound_tags
from genre_desktop.core.library.tag_fields import read_field
from genre_desktop.core.library.tags import read_tags
from test_library_tags import make, tag_everything

PROBS = {"rock": 0.8, "Mellow": 0.71, "chill": 0.55, "chillout": 0.62, "sad": 0.001, "happy": 0.002,
         "80s": 0.66, "hard rock": 0.9, "female vocalists": 0.7, "instrumental": 0.001}
RAW_KEYS = {".mp3": ("TMOO", "TIT1"), ".flac": ("mood", "grouping"), ".ogg": ("mood", "grouping"),
            ".m4a": ("----:com.apple.iTunes:MOOD", "\xa9grp")}


def _raw(path, key):
    audio = mutagen.File(path)
    if key in ("TMOO", "TIT1"):
        return list(audio.tags[key].text) if key in audio.tags else []
    values = audio.tags.get(key, []) if audio.tags is not None else []
    return [bytes(v).decode() if not isinstance(v, str) else v for v in values]


def test_tags_above_their_thresholds_merge_by_name():
    shown = sound_tags(PROBS)
    names = [(t.kind, t.name) for t in shown]
    assert ("mood", "Mellow") in names and ("mood", "Chill") in names and ("mood", "Sad") not in names
    assert names.count(("mood", "Chill")) == 1
    assert [t.probability for t in shown if t.name == "Chill"] == [pytest.approx(0.62)]
    assert ("decade", "1980s") in names and ("vocals", "Female Vocals") in names
    assert all(t.name != "Rock" for t in shown)  # genres are the genre model's job
    assert all(t.probability >= t.threshold for t in shown) and CONSERVATIVE >= 0.5


@pytest.fixture
def library(tmp_path):
    files = [make(tmp_path, ext, seed=i) for i, ext in enumerate(("mp3", "flac", "ogg", "m4a"))]
    for path in files:
        tag_everything(path)
    db_path = tmp_path / "lib.sqlite3"
    with LibraryDatabase(db_path) as db, db.transaction():
        for path in files:
            st = path.stat()
            file_id = db.upsert_file(path, size=st.st_size, mtime_ns=st.st_mtime_ns, fingerprint=None,
                                     duration=3.0, genre_tag=["Blues"])
            db.save_result(file_id, "m@1#abcdefabcdef", "m", {
                "verdict": "genre", "genre": "rock", "closest": "rock", "confidence": 0.8, "top": [["rock", 0.8]],
                "timeline": [], "sounds_like": [], "embedding": None, "tag_probs": list(map(list, PROBS.items()))})
    return files, db_path


def test_moods_land_in_their_own_field_and_undo_puts_them_back(library):
    from genre_desktop.core.library.moods import propose_fields, write_fields
    from genre_desktop.core.library.writing import undo

    files, db_path = library
    before = {p: p.read_bytes() for p in files}
    with LibraryDatabase(db_path) as db:
        lines = propose_fields(db, "m@1#abcdefabcdef", "mood")
        assert {line.action for line in lines} == {"write"}
        summary = write_fields(db, "m@1#abcdefabcdef", lines)
        assert summary.written == 4 and not summary.failed
        for path in files:
            assert read_field(path, "mood") == ["Mellow", "Chill"]
            assert _raw(path, RAW_KEYS[path.suffix][0]) == ["Mellow", "Chill"]
            tags = read_tags(path)
            assert tags.genre == ["Blues"] and tags.artist == "The Artist"  # GENRE untouched
        grouping = write_fields(db, "m@1#abcdefabcdef", propose_fields(db, "m@1#abcdefabcdef", "grouping"))
        assert grouping.written == 4
        for path in files:
            assert _raw(path, RAW_KEYS[path.suffix][1]) == ["Hard Rock", "1980s", "Female Vocals"]
            assert read_field(path, "mood") == ["Mellow", "Chill"]
        again = propose_fields(db, "m@1#abcdefabcdef", "mood")
        assert {line.action for line in again} == {"same"}
        assert undo(db).written == 4  # the GROUPING batch
        assert all(read_field(p, "grouping") == [] and read_field(p, "mood") == ["Mellow", "Chill"] for p in files)
        assert undo(db).written == 4  # the MOOD batch
    for path in files:
        assert read_field(path, "mood") == [] and read_tags(path).genre == ["Blues"]
        assert path.read_bytes() == before[path]  # byte for byte


def test_an_existing_mood_is_kept_unless_overwrite(library):
    from genre_desktop.core.library.moods import propose_fields, write_fields
    from genre_desktop.core.library.writing import undo

    files, db_path = library
    audio = mutagen.File(files[1])
    audio["mood"] = "Angry"
    audio.save()
    with LibraryDatabase(db_path) as db:
        with db.transaction():
            st = files[1].stat()
            db.connection.execute("UPDATE files SET size = ?, mtime_ns = ? WHERE path = ?",
                                  (st.st_size, st.st_mtime_ns, bytes(str(files[1]), "utf-8")))
        lines = {line.path: line for line in propose_fields(db, "m@1#abcdefabcdef", "mood")}
        assert lines[str(files[1])].action == "keep"
        write_fields(db, "m@1#abcdefabcdef", [lines[str(files[1])]])
        assert read_field(files[1], "mood") == ["Angry"]
        forced = propose_fields(db, "m@1#abcdefabcdef", "mood", [str(files[1])], overwrite=True)
        assert forced[0].action == "write"
        assert write_fields(db, "m@1#abcdefabcdef", forced, overwrite=True).written == 1
        assert read_field(files[1], "mood") == ["Mellow", "Chill"]
        undo(db)
    assert read_field(files[1], "mood") == ["Angry"]


def test_the_history_and_undo_commands_read_a_mood_batch(library, run_cli):
    from genre_desktop.core.library.moods import propose_fields, write_fields

    files, db_path = library
    with LibraryDatabase(db_path) as db:
        write_fields(db, "m@1#abcdefabcdef", propose_fields(db, "m@1#abcdefabcdef", "mood"))
    assert "4 files put back" in run_cli("library", "--library", db_path, "undo-tags", check_rc=0).stdout
    assert all(read_field(p, "mood") == [] for p in files)


def test_moods_of_a_real_track_scanned_by_the_bundled_model(tmp_path, bundled_model_path, shared_data, run_cli):
    """A GTZAN track scanned by the app: ``library moods --json`` gives its kinds with
    probabilities at or above their thresholds; ``write-moods`` writes MOOD (or says none
    is above its threshold), and ``undo-tags`` restores the file."""
    import shutil

    from genre_desktop.core.library.moods import threshold_of

    source = shared_data / "gtzan" / "classical" / "classical.00000.ogg"
    track = tmp_path / "Music" / "track.ogg"
    track.parent.mkdir()
    shutil.copyfile(source, track)
    db_path = tmp_path / "lib.sqlite3"
    lib = ("library", "--library", db_path)
    run_cli(*lib, "scan", track.parent, "--model", bundled_model_path, "--workers", "1", "--no-progress", check_rc=0)
    shown = json.loads(run_cli(*lib, "moods", "--model", bundled_model_path, "--json", check_rc=0).stdout)
    assert set(shown) == {"path", "mood", "style", "decade", "vocals"} and shown["path"] == str(track)
    tags = [t for kind in ("mood", "style", "decade", "vocals") for t in shown[kind]]
    assert all(0 <= p <= 1 for _, p in tags)
    before = track.read_bytes()
    wrote = run_cli(*lib, "write-moods", "--model", bundled_model_path, "--no-progress", check_rc=0)
    assert "MOOD tag" in wrote.stdout
    assert read_tags(track).genre == []  # never GENRE
    if shown["mood"]:
        assert read_field(track, "mood") == [name for name, _ in shown["mood"]]
        assert "1 files put back" in run_cli(*lib, "undo-tags", check_rc=0).stdout
    assert track.read_bytes() == before
    assert threshold_of("heavy metal") > 0
