"""Tag writes under hostile folders, other programs, other writers and odd files (issues 23, 24).

Real files (soundfile, ffmpeg, mutagen), real SQLite libraries, real processes holding real
locks, real kills. Each test reproduces one reported case.
"""
from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest
import soundfile as sf
from mutagen.apev2 import APEv2
from mutagen.id3 import APIC, ID3, TCON, TIT2, TPE1

from conftest import synth, write
from genre_desktop.core.library import tag_file_copy
from genre_desktop.core.library.analyse import audio_fingerprint
from genre_desktop.core.library.database import LibraryDatabase
from genre_desktop.core.library.tag_write import write_genre
from genre_desktop.core.library.tags import TagError, audio_digest, read_tags, same_genres
from genre_desktop.core.library.writer_lock import WriterBusy
from genre_desktop.core.library.writing import apply, recover, undo, undoable_batches
from genre_desktop.core.library.review import TagOptions, propose
from test_library_tags import make, tag_everything

KEY = "model@1#x"
OPTIONS = TagOptions(overwrite=True)


def library(folder: Path, files: dict, fingerprint_rate=None) -> LibraryDatabase:
    """A library whose rows hold these results, as a scan leaves them (with the audio
    fingerprint at ``fingerprint_rate`` when given)."""
    db = LibraryDatabase(folder / "library.sqlite3")
    for path, top in files.items():
        st, tags = path.stat(), read_tags(path)
        fid = db.upsert_file(path, size=st.st_size, mtime_ns=st.st_mtime_ns, duration=3.0, genre_tag=tags.genre,
                             fingerprint=audio_fingerprint(path, fingerprint_rate) if fingerprint_rate else None)
        db.save_result(fid, KEY, "model", {"verdict": "genre", "genre": top[0][0], "top": top, "confidence": top[0][1]})
    return db


def write_all(db, options=OPTIONS):
    return apply(db, propose(db, KEY, options), KEY, options)


def copies_beside(path: Path) -> list:
    return [p for p in path.parent.iterdir() if p.name.startswith(f".{path.name}") and p.name.endswith(".genre-tmp")]


def id3v23_track(folder: Path, seed: int = 0) -> Path:
    path = make(folder, "mp3", seed=seed)
    tags = ID3()
    tags.add(TPE1(encoding=1, text="Old Player"))
    tags.add(TIT2(encoding=1, text="Song"))
    tags.add(TCON(encoding=1, text="Blues"))
    tags.save(path, v2_version=3)
    return path


# --- 1. a link planted where the private copy goes

def test_links_planted_at_copy_names_are_never_followed(tmp_path, monkeypatch):
    track = make(tmp_path, "mp3")
    tag_everything(track)
    victim = tmp_path / "elsewhere" / "precious.txt"
    victim.parent.mkdir()
    victim.write_text("someone's file")
    old_name = tmp_path / f".{track.name}.genre-tmp"  # the name the writer used to take
    old_name.symlink_to(victim)
    guessed = tmp_path / f".{track.name}.{'0' * 16}.genre-tmp"  # and a name the attacker guessed right
    guessed.symlink_to(victim)
    names = iter(["0" * 16, "1" * 16])
    monkeypatch.setattr(tag_file_copy.secrets, "token_hex", lambda n: next(names))
    digest, before = audio_digest(track), read_tags(track)

    after = write_genre(track, ["Rock"])
    assert victim.read_text() == "someone's file" and old_name.is_symlink() and guessed.is_symlink()
    assert not track.is_symlink() and after.genre == ["Rock"] and audio_digest(track) == digest
    assert (after.artist, after.title, after.album) == (before.artist, before.title, before.album)
    assert set(copies_beside(track)) == {old_name, guessed}  # nothing of ours left, the planted links untouched


PAUSED_WRITER = """
import sys, time
from pathlib import Path
from genre_desktop.core.library import tag_write
from genre_desktop.core.library.database import LibraryDatabase
from genre_desktop.core.library.writing import apply
from genre_desktop.core.library.review import TagOptions, propose
gate = Path(sys.argv[2])
def pause(name):  # the first file waits, its private copy written, until the test opens the gate
    if name == "tag-after-save" and not gate.exists():
        print("paused", flush=True)
        while not gate.exists():
            time.sleep(0.05)
tag_write.fault_point = pause
db = LibraryDatabase(sys.argv[1])
options = TagOptions(overwrite=True)
summary = apply(db, propose(db, "model@1#x", options), "model@1#x", options)
print("written", summary.written, flush=True)
"""


def paused_writer(db, gate: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", PAUSED_WRITER, str(db.path), str(gate)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "paused", proc.stderr.read()
    return proc


def three_tracks(tmp_path):
    tracks = [make(tmp_path, "flac", seed=i) for i in range(3)]
    return tracks, library(tmp_path, {t: [["rock", 0.9]] for t in tracks})


# --- 3, 4. one writer per library; recovery leaves a live writer's entries alone

def test_a_running_writer_is_left_alone_and_blocks_other_writers(tmp_path, run_cli):
    tracks, db = three_tracks(tmp_path)
    proc = paused_writer(db, tmp_path / "gate")
    try:
        pending = db.pending_writes()
        assert len(pending) == 1 and len(copies_beside(Path(pending[0]["path"].decode()))) == 1
        assert recover(db) == []  # its writer is alive: not "settled" under it
        assert [e["state"] for e in db.journal(1)] == ["pending"]
        assert copies_beside(tracks[0])  # its private copy is still there
        with pytest.raises(WriterBusy, match=f"another write is running \\(pid {proc.pid}"):
            undo(db, 1)  # a batch still being written cannot be undone
        with pytest.raises(WriterBusy, match=f"pid {proc.pid}"):
            write_all(db)
        cli = run_cli("library", "--library", db.path, "undo-tags", "1")
        assert cli.returncode == 2 and cli.stderr.count("\n") == 1 and f"pid {proc.pid}" in cli.stderr, cli.stderr
    finally:
        (tmp_path / "gate").touch()
        out, err = proc.communicate(timeout=300)
    assert "written 3" in out, err
    assert all(read_tags(t).genre == ["Rock"] for t in tracks)
    assert undo(db, 1).written == 3 and all(read_tags(t).genre == [] for t in tracks)


def test_a_killed_writer_is_settled_and_only_its_recorded_copy_goes(tmp_path):
    tracks, db = three_tracks(tmp_path)
    before = tracks[0].read_bytes()
    bystander = tmp_path / f".{tracks[0].name}.cafe.genre-tmp"  # looks like a copy, is not the journal's
    bystander.write_text("not ours")
    proc = paused_writer(db, tmp_path / "gate")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    recorded = copies_beside(tracks[0])
    assert len(recorded) == 2
    lines = recover(db)
    assert len(lines) == 1 and "had not happened" in lines[0]
    assert copies_beside(tracks[0]) == [bystander] and tracks[0].read_bytes() == before
    assert db.journal(1)[0]["state"] == "failed"


def test_undo_leaves_unreachable_files_for_a_retry(tmp_path):
    here = make(tmp_path, "flac", seed=0)
    disk = tmp_path / "disk"
    disk.mkdir()
    away = make(disk, "ogg", seed=1)
    originals = {p: p.read_bytes() for p in (here, away)}
    db = library(tmp_path, {here: [["rock", 0.9]], away: [["jazz", 0.9]]})
    assert write_all(db).written == 2
    disk.rename(tmp_path / "unmounted")  # the disk holding one of them goes away
    first = undo(db)
    assert first.written == 1 and len(first.failed) == 1 and first.failed[0][0] == str(away)
    assert db.tag_batch(1)["undone_by"] is None and [b["id"] for b in undoable_batches(db)] == [1]
    (tmp_path / "unmounted").rename(disk)
    second = undo(db)  # undo again retries the rest
    assert second.written == 1 and not second.failed and db.tag_batch(1)["undone_by"] is not None
    assert {p: p.read_bytes() for p in originals} == originals
    with pytest.raises(ValueError, match="undone already"):
        undo(db, 1)


# --- 2. several genres in an ID3v2.3 file

def test_id3v23_multi_genre_batch_undoes(tmp_path):
    track = id3v23_track(tmp_path)
    original = track.read_bytes()
    db = library(tmp_path, {track: [["rock", 0.6], ["pop", 0.4]]})
    options = TagOptions(top_k=2, overwrite=True)
    assert write_all(db, options).written == 1
    assert read_tags(track).genre == ["Rock; Pop"] and ID3(track).version[:2] == (2, 3)
    assert same_genres(read_tags(track).genre, ["Rock", "Pop"])
    assert propose(db, KEY, options)[0].action == "same"  # the review sees the same genres
    result = undo(db)
    assert result.written == 1 and not result.failed
    assert read_tags(track).genre == ["Blues"] and track.read_bytes() == original
    assert undoable_batches(db) == []


# --- 5. the audio replaced, size and time kept

def test_replaced_audio_with_the_same_size_and_time_is_not_written(tmp_path):
    track = write(tmp_path / "song.wav", synth("bass", 3.0, seed=0))
    other = write(tmp_path / "kept.wav", synth("bass", 3.0, seed=5))
    db = library(tmp_path, {track: [["rock", 0.9]], other: [["jazz", 0.9]]}, fingerprint_rate=16000)
    st = track.stat()
    sf.write(track, synth("hihat", 3.0, seed=9), 22050)  # like mp3gain -p or rsync -t: same size, time restored
    os.utime(track, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert track.stat().st_size == st.st_size
    replaced = track.read_bytes()
    summary = write_all(db)
    assert summary.written == 1 and read_tags(other).genre == ["Jazz"]  # an unchanged file passes the check
    assert [(p, r) for p, r in summary.failed if "changed since it was analysed" in r] == [(str(track), summary.failed[0][1])]
    assert track.read_bytes() == replaced


# --- 6. another program holds a lock on the file

LOCKER = """
import fcntl, sys
handle = open(sys.argv[1], "rb+")
(fcntl.lockf if sys.argv[2] == "lockf" else fcntl.flock)(handle, fcntl.LOCK_EX)
print("locked", flush=True)
sys.stdin.read()
"""


@pytest.mark.parametrize("kind", ["lockf", "flock"])
def test_a_file_locked_by_another_program_is_refused(tmp_path, kind):
    track = make(tmp_path, "flac")
    before, inode = track.read_bytes(), track.stat().st_ino
    proc = subprocess.Popen([sys.executable, "-c", LOCKER, str(track), kind], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(TagError, match="locked by another program"):
            write_genre(track, ["Rock"])
        assert track.read_bytes() == before and track.stat().st_ino == inode and not copies_beside(track)
    finally:
        proc.communicate("", timeout=60)
    assert write_genre(track, ["Rock"]).genre == ["Rock"]  # once it lets go


# --- 7. owner, group and mode; read-only for root too

@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="changing owners needs root")
def test_root_keeps_owner_group_and_mode_and_honours_read_only(tmp_path):
    track = make(tmp_path, "ogg")
    os.chown(track, 1234, 2345)
    track.chmod(0o640)
    write_genre(track, ["Rock"])
    st = track.stat()
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1234, 2345, 0o640)
    frozen = make(tmp_path, "flac", seed=1)
    frozen.chmod(0o444)
    before = frozen.read_bytes()
    with pytest.raises(TagError, match="read-only"):
        write_genre(frozen, ["Rock"])
    assert frozen.read_bytes() == before


def test_group_mode_and_extended_attributes_are_kept(tmp_path):
    track = make(tmp_path, "flac")
    track.chmod(0o664)
    try:
        os.setxattr(track, "user.rating", b"5")
    except OSError:
        xattrs = False
    else:
        xattrs = True
    write_genre(track, ["Rock"])
    assert stat.S_IMODE(track.stat().st_mode) == 0o664
    if xattrs:
        assert os.getxattr(track, "user.rating") == b"5"


# --- 8. an MP3 with ID3 and APEv2 tags

def test_the_apev2_genre_follows_and_undo_restores_it(tmp_path):
    track = make(tmp_path, "mp3")
    tag_everything(track)
    ape = APEv2()
    ape["Genre"], ape["Artist"] = "Blues", "Ape Artist"
    ape.save(track)
    original = track.read_bytes()
    db = library(tmp_path, {track: [["rock", 0.9]]})
    assert write_all(db).written == 1
    ape = APEv2(track)
    assert list(ape["Genre"]) == ["Rock"] and str(ape["Artist"]) == "Ape Artist"
    assert read_tags(track).genre == ["Rock"]
    assert undo(db).written == 1
    assert list(APEv2(track)["Genre"]) == ["Blues"] and track.read_bytes() == original


# --- 9. a large cover

def test_a_large_cover_costs_hashes_not_text_dumps(tmp_path):
    track = make(tmp_path, "mp3")
    cover_mib = 20
    tags = ID3()
    tags.add(TPE1(encoding=3, text="A"))
    tags.add(APIC(encoding=3, mime="image/jpeg", type=3, desc="front", data=os.urandom(cover_mib << 20)))
    tags.save(track)
    tracemalloc.start()
    try:
        write_genre(track, ["Rock"])
        peak = tracemalloc.get_traced_memory()[1] / 2 ** 20
    finally:
        tracemalloc.stop()
    # measured: 6x the cover with digests, 14.5x with repr() of every frame
    assert peak < 10 * cover_mib, f"{peak:.0f} MiB for a {cover_mib} MiB cover"
    assert ID3(track).getall("APIC")[0].data.__len__() == cover_mib << 20


# --- 10. only regular files, bounded reads

ODD_FILES = """
import os, sys
from genre_desktop.core.library.tags import TagError, read_tags
from genre_desktop.core.library.tag_write import write_genre
for path in sys.argv[1:]:
    for what in (read_tags, lambda p: write_genre(p, ["Rock"])):
        try:
            what(path)
            print("read", path)
        except TagError as exc:
            print("refused", os.path.basename(path), str(exc))
"""


def test_fifos_and_devices_are_refused_without_waiting(tmp_path):
    fifo = tmp_path / "b.mp3"
    os.mkfifo(fifo)
    zero = tmp_path / "x.mp3"
    zero.symlink_to("/dev/zero")
    proc = subprocess.run([sys.executable, "-c", ODD_FILES, str(fifo), str(zero), str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    lines = proc.stdout.splitlines()
    assert proc.returncode == 0 and len(lines) == 6 and all(line.startswith("refused") for line in lines), proc
    assert "pipe" in lines[0] and "device" in lines[2] and "folder" in lines[4]
    assert fifo.exists() and stat.S_ISFIFO(fifo.lstat().st_mode) and zero.is_symlink()


# --- 11. undo puts back exactly what was there; RIFF INFO is read

@pytest.mark.parametrize("ext", ["mp3v23", "mp3", "flac", "wav", "ogg", "opus", "aiff", "m4a"])
def test_undo_restores_the_exact_bytes_and_time(tmp_path, ext):
    if ext == "mp3v23":
        track = id3v23_track(tmp_path)
    else:
        track = make(tmp_path, ext)
        tag_everything(track)
    os.utime(track, ns=(1_000_000_000_000_000_000, 1_000_000_000_000_000_000))
    original, mtime = track.read_bytes(), track.stat().st_mtime_ns
    db = library(tmp_path, {track: [["rock", 0.6], ["pop", 0.4]]})
    assert write_all(db, TagOptions(top_k=2, overwrite=True)).written == 1
    assert track.read_bytes() != original
    assert undo(db).written == 1
    assert track.read_bytes() == original and track.stat().st_mtime_ns == mtime
    assert not list(Path(f"{db.path}.undo").iterdir())  # what was kept for the undo is gone with it


def test_a_write_whose_bytes_were_not_kept_undoes_its_genre(tmp_path):
    track = make(tmp_path, "flac")
    tag_everything(track)
    db = library(tmp_path, {track: [["rock", 0.9]]})
    assert write_all(db).written == 1
    for kept in Path(f"{db.path}.undo").glob("*.kept"):
        kept.unlink()  # e.g. a write that moved more than the bounded amount
    assert undo(db).written == 1 and read_tags(track).genre == ["Blues"]


def test_wav_riff_info_tags_are_read(tmp_path):
    path = tmp_path / "tagged.wav"
    with sf.SoundFile(path, "w", 22050, 1) as handle:
        handle.title, handle.artist, handle.album, handle.genre = "Genève", "Some Band", "First Album", "Folk"
        handle.write(synth("bass", 1.0))
    tags = read_tags(path)
    assert (tags.title, tags.artist, tags.album, tags.genre) == ("Genève", "Some Band", "First Album", ["Folk"])
    write_genre(path, ["Rock"])  # an ID3 genre written later wins; the rest still comes from INFO
    tags = read_tags(path)
    assert tags.genre == ["Rock"] and tags.title == "Genève"



def test_kept_bytes_stay_within_their_budget(tmp_path, monkeypatch):
    from genre_desktop.core.library import writer_lock

    tracks = [make(tmp_path, "mp3", seed=i) for i in range(3)]
    for track in tracks:
        tag_everything(track)
    originals = {t: t.read_bytes() for t in tracks}
    monkeypatch.setattr(writer_lock, "UNDO_BUDGET", 1)  # room for the newest write's bytes only
    db = library(tmp_path, {t: [["rock", 0.9]] for t in tracks})
    assert write_all(db).written == 3
    assert len(list(Path(f"{db.path}.undo").glob("*.kept"))) == 1
    assert undo(db).written == 3  # the others are undone tag by tag
    assert all(read_tags(t).genre == ["Blues"] for t in tracks)
    assert sum(t.read_bytes() == originals[t] for t in tracks) >= 1


UNDO_SCRIPT = """
import sys
from genre_desktop.core.library.database import LibraryDatabase
from genre_desktop.core.library.writing import undo
undo(LibraryDatabase(sys.argv[1]))
"""


def test_an_undo_killed_after_putting_a_file_back_finishes_on_the_next_undo(tmp_path):
    tracks, db = three_tracks(tmp_path)
    originals = {t: t.read_bytes() for t in tracks}
    assert write_all(db).written == 3
    proc = subprocess.run([sys.executable, "-c", UNDO_SCRIPT, str(db.path)], capture_output=True, text=True,
                          env={**os.environ, "GENRE_DESKTOP_FAULT": "tag-after-rename"}, timeout=300)
    assert proc.returncode == -9, proc.stderr
    assert sum(t.read_bytes() == originals[t] for t in tracks) == 1  # killed after the first file
    assert len(recover(db)) == 1
    result = undo(db)
    assert result.written == 2 and not result.failed
    assert {t: t.read_bytes() for t in tracks} == originals and db.tag_batch(1)["undone_by"] is not None


@pytest.mark.parametrize("name", ["🎵" * 62 + ".flac", "caf\udce9\nline.flac", "-rf *.flac"])
def test_hostile_names_are_written_and_undone(tmp_path, name):
    track = make(tmp_path, "flac").rename(tmp_path / name)
    tag_everything(track)
    original = track.read_bytes()
    db = library(tmp_path, {track: [["rock", 0.9]]})
    assert write_all(db).written == 1 and read_tags(track).genre == ["Rock"]
    assert undo(db).written == 1 and track.read_bytes() == original
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("library.sqlite3")) == [name]
