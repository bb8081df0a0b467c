"""Genre tags in real files of every format: read, write, verify, refuse, undo, recover."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from mutagen.id3 import ID3, TALB, TCON, TDRC, TIT2, TPE1
from mutagen.flac import FLAC
from mutagen.mp4 import MP4

from conftest import synth, write
from genre_desktop.core.library.database import LibraryDatabase
from genre_desktop.core.library.tag_write import write_genre
from genre_desktop.core.library.tags import TagError, audio_digest, read_tags


def temp_left(path):
    """Whether a private copy of ``path`` was left beside it."""
    return any(p.name.startswith(f".{path.name}") and p.name.endswith(".genre-tmp") for p in path.parent.iterdir())
from genre_desktop.core.library.writing import apply, recover, undo
from genre_desktop.core.library.review import TagOptions, propose, proposed_genres

FORMATS = ["wav", "flac", "ogg", "opus", "mp3", "aiff", "m4a"]


def make(folder, ext: str, seconds: float = 3.0, seed: int = 0):
    """A real file of ``ext`` (soundfile writes all but m4a; ffmpeg writes m4a)."""
    audio = synth("bass", seconds, sr=48000 if ext == "opus" else 22050, seed=seed)
    if ext == "m4a":
        if shutil.which("ffmpeg") is None:
            pytest.skip("ffmpeg is not installed")
        wav = write(folder / f"src{seed}.wav", audio, 22050)
        path = folder / f"track{seed}.m4a"
        subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-i", str(wav), "-c:a", "aac", str(path)], check=True)
        wav.unlink()
        return path
    kwargs = {"format": "OGG", "subtype": "OPUS"} if ext == "opus" else {}
    return write(folder / f"track{seed}.{ext}", audio, 48000 if ext == "opus" else 22050, **kwargs)


def tag_everything(path):
    """Artist, title, album and more, as Picard or MusicBee would have left them."""
    ext = path.suffix
    if ext in (".mp3", ".wav", ".aiff"):
        import mutagen

        audio = mutagen.File(path)
        if audio.tags is None:
            audio.add_tags()
        for frame in (TPE1(encoding=3, text="The Artist"), TIT2(encoding=3, text="Ünïcode Title"),
                      TALB(encoding=3, text="Album"), TDRC(encoding=3, text="1999"),
                      TCON(encoding=3, text="Blues")):
            audio.tags.add(frame)
        audio.save()
    elif ext == ".m4a":
        audio = MP4(path)
        audio["\xa9ART"], audio["\xa9nam"], audio["\xa9alb"], audio["\xa9gen"] = "The Artist", "Ünïcode Title", "Album", "Blues"
        audio["trkn"] = [(3, 12)]
        audio.save()
    else:
        import mutagen

        audio = mutagen.File(path)
        if audio.tags is None:
            audio.add_tags()
        audio["artist"], audio["title"], audio["album"], audio["genre"] = "The Artist", "Ünïcode Title", "Album", "Blues"
        audio["tracknumber"] = "3"
        audio.save()


@pytest.mark.parametrize("ext", FORMATS)
def test_write_genre_keeps_audio_and_other_tags(tmp_path, ext):
    path = make(tmp_path, ext)
    tag_everything(path)
    before = read_tags(path)
    assert (before.artist, before.title, before.album, before.genre) == ("The Artist", "Ünïcode Title", "Album", ["Blues"])
    digest = audio_digest(path)
    after = write_genre(path, ["Rock", "Pop"])
    assert after.genre == ["Rock", "Pop"]  # several values: ID3v2.4, Vorbis comments, MP4 all allow it
    assert (after.artist, after.title, after.album) == (before.artist, before.title, before.album)
    assert audio_digest(path) == digest
    assert not temp_left(path)
    assert write_genre(path, []).genre == []  # removing the genre is a write too
    assert read_tags(path).artist == "The Artist"
    assert audio_digest(path) == digest


@pytest.mark.parametrize("ext", ["wav", "flac", "ogg", "mp3"])
def test_a_file_without_tags_gets_one(tmp_path, ext):
    path = make(tmp_path, ext)
    assert read_tags(path).genre == []
    assert write_genre(path, ["Jazz"]).genre == ["Jazz"]


def test_id3v23_keeps_its_version_and_joins_genres(tmp_path):
    path = make(tmp_path, "mp3")
    tags = ID3()
    tags.add(TPE1(encoding=1, text="Old Player"))
    tags.add(TDRC(encoding=1, text="2001"))
    tags.add(TCON(encoding=1, text="(17)"))  # "Rock" as ID3v1 numbers it
    tags.save(path, v2_version=3)
    assert read_tags(path).genre == ["Rock"]
    assert write_genre(path, ["Blues", "Jazz"]).genre == ["Blues; Jazz"]
    saved = ID3(path)
    assert saved.version[:2] == (2, 3)
    assert str(saved["TDRC"]) == "2001" and str(saved["TPE1"]) == "Old Player"


def test_refusals_leave_the_file_as_it_was(tmp_path):
    garbage = tmp_path / "random.mp3"
    garbage.write_bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    before = garbage.read_bytes()
    with pytest.raises(TagError):
        write_genre(garbage, ["Rock"])
    assert garbage.read_bytes() == before

    linked = make(tmp_path, "flac", seed=1)
    os.link(linked, tmp_path / "other-name.flac")
    with pytest.raises(TagError, match="hard links"):
        write_genre(linked, ["Rock"])

    readonly = make(tmp_path, "ogg", seed=2)  # refused for root too: the person marked it so
    readonly.chmod(0o444)
    with pytest.raises(TagError, match="read-only"):
        write_genre(readonly, ["Rock"])

    text = tmp_path / "notes.wav"
    text.write_text("not audio")
    with pytest.raises(TagError):
        write_genre(text, ["Rock"])
    assert text.read_text() == "not audio"


def test_a_write_whose_audio_check_fails_is_not_applied(tmp_path):
    path = make(tmp_path, "flac")
    before = path.read_bytes()
    calls = iter(["a", "b"])
    with pytest.raises(TagError, match="audio would have changed"):
        write_genre(path, ["Rock"], audio_check=lambda p: next(calls))
    assert path.read_bytes() == before and not temp_left(path)


def test_a_symlink_writes_its_target(tmp_path):
    target = make(tmp_path, "flac")
    link = tmp_path / "link.flac"
    link.symlink_to(target)
    write_genre(link, ["Reggae"])
    assert link.is_symlink() and FLAC(target)["genre"] == ["Reggae"]


def test_proposed_genres_follow_the_options():
    top = [["hiphop", 0.6], ["rock", 0.3], ["jazz", 0.05]]
    assert proposed_genres(top, TagOptions()) == ["Hip-Hop"]
    assert proposed_genres(top, TagOptions(top_k=3)) == ["Hip-Hop", "Rock"]  # jazz under 15 %
    assert proposed_genres(top, TagOptions(top_k=2, separator=" / ")) == ["Hip-Hop / Rock"]


def _library(tmp_path, files: dict):
    """A library database whose rows hold the given results (as a scan would leave them)."""
    db = LibraryDatabase(tmp_path / "library.sqlite3")
    for path, (verdict, top) in files.items():
        stat = path.stat()
        tags = read_tags(path)
        fid = db.upsert_file(path, size=stat.st_size, mtime_ns=stat.st_mtime_ns, fingerprint=None,
                             duration=3.0, artist=tags.artist, genre_tag=tags.genre)
        db.save_result(fid, "model@1#x", "model", {"verdict": verdict, "genre": top[0][0], "top": top,
                                                   "confidence": top[0][1]})
    return db


def test_review_write_and_undo_a_batch(tmp_path):
    tagged, plain, unsure, noise = (make(tmp_path, e, seed=i) for i, e in enumerate(["mp3", "flac", "ogg", "wav"]))
    tag_everything(tagged)
    db = _library(tmp_path, {tagged: ("genre", [["rock", 0.9]]), plain: ("genre", [["jazz", 0.8], ["blues", 0.2]]),
                             unsure: ("unsure", [["pop", 0.4]]), noise: ("not_music", [["pop", 0.5]])})
    lines = {p.path: p for p in propose(db, "model@1#x", TagOptions(top_k=2))}
    assert lines[str(tagged)].action == "keep"  # has "Blues": not overwritten unless asked
    assert lines[str(plain)].action == "write" and lines[str(plain)].proposed == ["Jazz", "Blues"]
    assert lines[str(unsure)].action == "skip" and lines[str(noise)].action == "skip"
    digests = {p: audio_digest(p) for p in (tagged, plain)}

    options = TagOptions(overwrite=True)
    lines = propose(db, "model@1#x", options)
    summary = apply(db, lines, "model@1#x", options)
    assert summary.written == 2 and not summary.failed
    assert read_tags(tagged).genre == ["Rock"] and read_tags(tagged).artist == "The Artist"
    assert read_tags(plain).genre == ["Jazz"]
    assert {p: audio_digest(p) for p in (tagged, plain)} == digests
    assert all(p.action != "stale" for p in propose(db, "model@1#x", options))  # the rows follow the writes

    audio = FLAC(plain)  # a person edits one of the files after the batch
    audio["genre"] = "Smooth Jazz"
    audio.save()
    result = undo(db)
    assert result.written == 1 and len(result.failed) == 1 and "changed since" in result.failed[0][1]
    assert read_tags(tagged).genre == ["Blues"]  # the previous value, exactly
    assert read_tags(plain).genre == ["Smooth Jazz"]  # the person's edit is kept
    again = undo(db)  # the batch is undone only when every file is: the one left is retried (and left again)
    assert again.written == 0 and len(again.failed) == 1 and read_tags(plain).genre == ["Smooth Jazz"]
    audio["genre"] = "Jazz"  # the person puts the batch's value back: now it can be undone
    audio.save()
    assert undo(db).written == 1 and read_tags(plain).genre == []
    with pytest.raises(ValueError, match="no tag writes to undo"):
        undo(db)


def test_a_file_changed_after_its_scan_is_not_written(tmp_path):
    path = make(tmp_path, "flac")
    db = _library(tmp_path, {path: ("genre", [["rock", 0.9]])})
    os.utime(path, ns=(1, 1))
    lines = propose(db, "model@1#x", TagOptions())
    assert lines[0].action == "stale"
    assert apply(db, lines, "model@1#x", TagOptions()).written == 0
    assert read_tags(path).genre == []


KILL_SCRIPT = """
import sys
from genre_desktop.core.library.database import LibraryDatabase
from genre_desktop.core.library.writing import apply
from genre_desktop.core.library.review import TagOptions, propose
db = LibraryDatabase(sys.argv[1])
apply(db, propose(db, "model@1#x", TagOptions()), "model@1#x", TagOptions())
"""


@pytest.mark.parametrize("point, expect_genre", [("tag-after-save", []), ("tag-before-rename", []),
                                                 ("tag-after-rename", ["Rock"])])
def test_a_kill_during_a_write_is_settled_at_start_up(tmp_path, point, expect_genre):
    path = make(tmp_path, "mp3")
    db = _library(tmp_path, {path: ("genre", [["rock", 0.9]])})
    digest = audio_digest(path)
    proc = subprocess.run([sys.executable, "-c", KILL_SCRIPT, str(db.path)], capture_output=True, text=True,
                          env={**os.environ, "GENRE_DESKTOP_FAULT": point})
    assert proc.returncode == -9, proc.stderr
    assert read_tags(path).genre == expect_genre and audio_digest(path) == digest
    lines = recover(db)
    assert len(lines) == 1 and not temp_left(path)
    entry = db.journal(1)[0]
    assert entry["state"] == ("done" if expect_genre else "failed")
    if expect_genre:  # a finished write can be undone like any other
        assert undo(db).written == 1 and read_tags(path).genre == []
