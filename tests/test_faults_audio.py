"""Hostile and damaged audio input (issues 23 and 24): FIFOs and links to devices with
audio names, Opus files libsndfile refuses, cut WAVs, NaN audio, and links planted at
the names the crash-safe writers use. Real FIFOs, real links, real ffmpeg files."""
from __future__ import annotations

import json
import os
import shutil
import socket
import struct
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import CLI_TIMEOUT, synth, write
from genre_desktop.core import safe_files
from genre_desktop.core.engine.audio import decode as audio_io
from genre_desktop.core.engine.audio.decode import (AudioDecodeError, audio_info, cut_short_note, iter_audio_blocks,
                                                load_audio, wav_lengths)
from genre_desktop.core.engine.audio.sources import expand_paths, iter_audio_files
from genre_desktop.core.safe_files import FileTooLarge, NotRegularFile, open_regular

needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
posix_only = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs and /dev/zero are POSIX")


def finishes(fn, seconds: float = 120.0):
    """Run ``fn`` in a thread; fail (instead of hanging the suite) if it blocks."""
    box: dict = {}

    def target():
        try:
            box["value"] = fn()
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "blocked: a FIFO or a device was opened or read"
    if "error" in box:
        raise box["error"]
    return box.get("value")


@pytest.fixture
def hostile_folder(tmp_path) -> Path:
    """One good track, a FIFO named b.mp3, a link to /dev/zero named x.mp3, a socket
    named s.flac and a link to a FIFO named l.ogg."""
    folder = tmp_path / "music"
    write(folder / "good.wav", synth("treble", 4.0), 16000)
    os.mkfifo(folder / "b.mp3")
    (folder / "x.mp3").symlink_to("/dev/zero")
    os.mkfifo(tmp_path / "elsewhere.fifo")
    (folder / "l.ogg").symlink_to(tmp_path / "elsewhere.fifo")
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(folder / "s.flac"))
    except OSError:  # a path too long for a socket: the other three suffice
        pass
    finally:
        sock.close()
    return folder


# -- 1. only regular files are opened ------------------------------------------------

@posix_only
def test_the_walker_skips_fifos_devices_and_sockets_with_a_reason(hostile_folder):
    skipped: list = []
    found = finishes(lambda: list(iter_audio_files([hostile_folder], on_error=lambda p, r: skipped.append((p.name, r)))))
    assert [p.name for p in found] == ["good.wav"]
    reasons = dict(skipped)
    assert reasons["b.mp3"] == "not a regular file (a named pipe)"
    assert reasons["x.mp3"] == "not a regular file (a device)"
    assert reasons["l.ogg"] == "not a regular file (a named pipe)"
    assert all("\n" not in r for r in reasons.values())


@posix_only
def test_named_fifos_and_device_links_are_problems_not_files(hostile_folder):
    files, problems = finishes(lambda: expand_paths([hostile_folder / "b.mp3", hostile_folder / "x.mp3",
                                                     hostile_folder / "good.wav"]))
    assert [p.name for p in files] == ["good.wav"]
    assert [(Path(p).name, r) for p, r in problems] == [("b.mp3", "not a regular file (a named pipe)"),
                                                        ("x.mp3", "not a regular file (a device)")]


@posix_only
@pytest.mark.parametrize("name", ["b.mp3", "x.mp3", "l.ogg"])
def test_the_decoder_refuses_what_is_not_a_regular_file(hostile_folder, name):
    for read in (lambda: audio_info(hostile_folder / name), lambda: load_audio(hostile_folder / name, 16000)):
        with pytest.raises(AudioDecodeError, match=r"^not a regular file \(a (named pipe|device)\)$"):
            finishes(read)


@posix_only
def test_open_regular_checks_what_it_opened_and_bounds_reads(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "zero").symlink_to("/dev/zero")
    for bad in ("pipe", "zero"):
        with pytest.raises(NotRegularFile):
            finishes(lambda: open_regular(tmp_path / bad))
    with pytest.raises(NotRegularFile, match="folder"):
        open_regular(tmp_path)
    growing = tmp_path / "growing.bin"
    growing.write_bytes(b"a" * 1000)
    with open_regular(growing) as handle:
        with open(growing, "ab") as writer:  # another program appends while we read
            writer.write(b"b" * 5000)
        assert handle.read() == b"a" * 1000  # reads stop at the size it had when opened
        handle.seek(500)
        assert len(handle.read(10_000)) == 500
        assert handle.read(1) == b""
    with pytest.raises(FileTooLarge):
        open_regular(growing, max_bytes=5999)
    with open_regular(growing, max_bytes=6000) as handle:
        assert len(handle.read()) == 6000


@posix_only
def test_a_path_swapped_for_a_fifo_after_the_check_is_not_read(tmp_path, monkeypatch):
    """The decoders read the checked descriptor, not the path: a FIFO put in the file's
    place after it was opened cannot block them."""
    path = write(tmp_path / "song.wav", synth("bass", 3.0), 16000)
    real = safe_files.descriptor_path

    def swap_then_name(handle, fallback):
        os.replace(path, tmp_path / "moved.wav")
        os.mkfifo(path)
        return real(handle, fallback)

    monkeypatch.setattr(audio_io, "descriptor_path", swap_then_name)
    audio = finishes(lambda: load_audio(path, 16000))
    assert abs(len(audio) / 16000 - 3.0) < 0.05


@posix_only
def test_cli_classify_of_a_folder_with_a_fifo_and_dev_zero_finishes(hostile_folder, tiny_model, run_cli):
    proc = finishes(lambda: run_cli("classify", "--json", "--model", tiny_model, hostile_folder), CLI_TIMEOUT)
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    good = [r for r in rows if r.get("path", "").endswith("good.wav")]
    assert len(good) == 1 and good[0]["genre"] == "treble", proc.stdout + proc.stderr
    assert "b.mp3" in proc.stdout + proc.stderr and "named pipe" in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr


@posix_only
def test_library_scan_of_a_folder_with_a_fifo_and_dev_zero_finishes(hostile_folder, tiny_model, tmp_path, run_cli):
    proc = finishes(lambda: run_cli("library", "--library", tmp_path / "lib.sqlite3", "scan", hostile_folder,
                                    "--model", tiny_model, "--workers", "1", "--no-progress"), CLI_TIMEOUT)
    assert "1 audio file: 1 analysed" in proc.stdout, proc.stdout + proc.stderr
    assert "skipped" in proc.stderr and "b.mp3: not a regular file (a named pipe)" in proc.stderr
    assert "x.mp3: not a regular file (a device)" in proc.stderr
    assert "Traceback" not in proc.stderr


# -- 2. ffmpeg decodes what libsndfile refuses -----------------------------------------

def _ffmpeg(*args) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-y", "-loglevel", "error", *map(str, args)], check=True)


@pytest.fixture
def refused_opus(tmp_path) -> list[Path]:
    """Valid Opus files made by ffmpeg that libsndfile 1.2 calls "malformed": short
    (one Ogg page) streams whose granule positions start later than 0, as a clip cut
    from a longer file with its timestamps kept, or with an offset, has."""
    sr = 48000
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(int(12 * sr)) / sr)).astype(np.float32)
    src = write(tmp_path / "src.wav", np.stack([tone, tone], axis=1), sr)
    made = []
    for name, args in {
        "offset.opus": ["-t", "0.5", "-c:a", "libopus", "-b:a", "96k", "-output_ts_offset", "5"],
        "offset_voip_60ms.opus": ["-t", "0.5", "-ac", "1", "-c:a", "libopus", "-application", "voip",
                                  "-frame_duration", "60", "-output_ts_offset", "2"],
        "offset_24k.opus": ["-t", "0.5", "-ar", "24000", "-c:a", "libopus", "-output_ts_offset", "1"],
        "clip_kept_timestamps.opus": None,
    }.items():
        out = tmp_path / name
        if args is None:  # cut from a longer Opus file, timestamps kept
            long = tmp_path / "long.opus"
            _ffmpeg("-i", src, "-c:a", "libopus", long)
            _ffmpeg("-ss", "10", "-copyts", "-i", long, "-to", "10.5", "-c", "copy", out)
        else:
            _ffmpeg("-i", src, *args, out)
        made.append(out)
    refused = []
    for path in made:
        try:
            sf.info(str(path))
        except sf.LibsndfileError as exc:
            assert "malformed" in str(exc)
            refused.append(path)
    if not refused:
        pytest.skip(f"this libsndfile ({sf.__libsndfile_version__}) reads every one of these Opus files")
    return refused


@needs_ffmpeg
def test_opus_files_libsndfile_refuses_decode_through_ffmpeg(refused_opus):
    for path in refused_opus:
        audio = load_audio(path, 16000)
        assert 0.45 < len(audio) / 16000 < 0.6, path.name
        spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
        assert abs(np.argmax(spectrum) * 16000 / len(audio) - 440) < 10, path.name
        info = audio_info(path)
        assert info.format == "ffmpeg" and info.sample_rate == 48000
        assert info.duration == 0.0  # an Ogg length ffmpeg can only guess is not announced


@needs_ffmpeg
def test_refused_opus_without_ffmpeg_keeps_libsndfile_reason(refused_opus, monkeypatch):
    monkeypatch.setattr(audio_io.shutil, "which", lambda name: None)
    with pytest.raises(AudioDecodeError, match=r"^not a readable opus file \(.*malformed"):
        load_audio(refused_opus[0], 16000)


@needs_ffmpeg
def test_refused_opus_classifies_from_the_command_line(refused_opus, tiny_model, run_cli):
    proc = run_cli("classify", "--json", "--model", tiny_model, *refused_opus)
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(rows) == len(refused_opus) and all("error" not in r for r in rows), proc.stdout + proc.stderr
    assert all(not any(n.startswith("truncated") for n in r.get("notes", [])) for r in rows)


@needs_ffmpeg
def test_garbage_is_still_refused_after_ffmpeg_tried(tmp_path):
    random = tmp_path / "random.opus"
    random.write_bytes(b"OggS" + bytes(np.random.default_rng(1).integers(0, 256, 4000, dtype=np.uint8)))
    text = tmp_path / "notes.m4a"
    text.write_bytes(b"plain text, not audio\n" * 40)
    with pytest.raises(AudioDecodeError, match="^not a readable opus file"):
        load_audio(random, 16000)
    with pytest.raises(AudioDecodeError, match="^ffmpeg"):
        load_audio(text, 16000)


# -- 3. cut WAVs get a "truncated" note -------------------------------------------------

def _wav_claiming(path: Path, data_bytes: int) -> Path:
    raw = bytearray(path.read_bytes())
    at = raw.find(b"data")
    raw[4:8] = struct.pack("<I", min(0xFFFFFFFF, data_bytes + at))
    raw[at + 4:at + 8] = struct.pack("<I", data_bytes)
    path.write_bytes(bytes(raw))
    return path


@pytest.fixture
def cut_wavs(tmp_path) -> dict[str, Path]:
    full = write(tmp_path / "full.wav", synth("bass", 10.0), 16000, subtype="PCM_16")
    cut = tmp_path / "cut.wav"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    huge = tmp_path / "claims_4gb.wav"
    huge.write_bytes(full.read_bytes())
    _wav_claiming(huge, 0xFFFFFFFF - 64)
    return {"full": full, "cut": cut, "huge": huge}


def test_wav_lengths_read_the_header_against_the_file(cut_wavs):
    assert wav_lengths(cut_wavs["full"]) == pytest.approx((10.0, 10.0), abs=0.01)
    assert wav_lengths(cut_wavs["cut"]) == pytest.approx((10.0, 5.0), abs=0.01)
    announced, held = wav_lengths(cut_wavs["huge"])
    assert announced > 130_000 and held == pytest.approx(10.0, abs=0.01)
    assert cut_short_note(cut_wavs["full"]) is None
    assert cut_short_note(cut_wavs["cut"]).startswith("truncated: its header announces 10.0 s")
    assert "134,217.7 s" in cut_short_note(cut_wavs["huge"])


def test_cut_wavs_are_classified_with_a_truncated_note(cut_wavs, tiny_model):
    from genre_desktop.core.engine.models.bundle import load_bundle
    from genre_desktop.core.engine.classify.classifier import Classifier

    clf = Classifier(load_bundle(tiny_model))
    assert clf.classify_file(cut_wavs["full"]).notes == []
    for name in ("cut", "huge"):
        result = clf.classify_file(cut_wavs[name])
        assert result.genre == "bass" and len(result.notes) == 1 and result.notes[0].startswith("truncated"), name
    assert abs(clf.classify_file(cut_wavs["cut"]).duration - 5.0) < 0.1


def test_cli_says_truncated_and_goes_on(cut_wavs, tiny_model, run_cli):
    proc = run_cli("classify", "--json", "--model", tiny_model, cut_wavs["cut"], cut_wavs["huge"], cut_wavs["full"])
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert proc.returncode == 0 and len(rows) == 3, proc.stderr
    assert [bool(r["notes"]) for r in rows] == [True, True, False]
    assert all(r["genre"] == "bass" for r in rows)


# -- 4. NaN and infinite audio ---------------------------------------------------------

@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_float_wavs_are_refused_not_handed_to_ffmpeg(tmp_path, value):
    audio = synth("bass", 3.0)
    audio[100:110] = value
    path = write(tmp_path / "bad.wav", audio, 16000, subtype="FLOAT")
    with pytest.raises(AudioDecodeError, match="NaN or infinite"):
        load_audio(path, 16000)
    with pytest.raises(AudioDecodeError, match="NaN or infinite"):
        list(iter_audio_blocks(path, 22050))


# -- 5. links planted at the writers' names are never followed --------------------------

def test_atomic_writes_use_a_fresh_exclusive_name_and_replace_a_planted_link(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    folder = tmp_path / "data"
    folder.mkdir()
    target = folder / "settings.json"
    target.symlink_to(victim)  # a link where the file goes: replaced, not written through
    for guess in (".settings.json.tmp", ".settings.json.genre-tmp", "settings.json.tmp"):
        (folder / guess).symlink_to(victim)
    safe_files.atomic_write_text(target, "new")
    assert victim.read_text() == "precious"
    assert not target.is_symlink() and target.read_text() == "new"
    assert sorted(p.name for p in folder.iterdir() if not p.is_symlink()) == ["settings.json"]


def test_atomic_write_makes_its_temporary_with_o_excl(tmp_path, monkeypatch):
    """mkstemp is the one way temporaries are made: O_CREAT|O_EXCL|O_NOFOLLOW, 0600."""
    seen = []
    real = os.open

    def spy(path, flags, *args, **kwargs):
        if ".tmp" in os.fspath(path):
            seen.append(flags)
        return real(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", spy)
    safe_files.atomic_write_bytes(tmp_path / "x.bin", b"1")
    assert seen and all(f & os.O_EXCL and f & os.O_CREAT and f & os.O_NOFOLLOW for f in seen)


@posix_only
def test_a_link_planted_at_the_lock_name_is_not_followed(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / ".mine.lock").symlink_to(victim)
    with safe_files.name_lock(folder, "mine", timeout=5):
        pass
    assert victim.read_text() == "precious"
    assert not (folder / ".mine.lock").is_symlink()


def test_a_link_planted_at_the_trash_name_is_not_followed(tmp_path):
    keep = tmp_path / "keep"
    keep.mkdir()
    (keep / "important.txt").write_text("precious")
    folder = tmp_path / "models"
    (folder / "old").mkdir(parents=True)
    (folder / "old" / "model.json").write_text("{}")
    (folder / ".old.trash").symlink_to(keep, target_is_directory=True)
    safe_files.remove_folder(folder / "old")
    assert (keep / "important.txt").read_text() == "precious"
    assert not (folder / "old").exists() and not os.path.lexists(folder / ".old.trash")


@posix_only
def test_fsync_tree_does_not_chmod_through_a_link(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    os.chmod(victim, 0o600)
    new = safe_files.new_partial(tmp_path / "models" / "m")
    (new / "weights.safetensors").write_bytes(b"x")
    (new / "link").symlink_to(victim)
    safe_files.fsync_tree(new)
    assert victim.stat().st_mode & 0o777 == 0o600


@posix_only
def test_a_journal_that_is_a_fifo_or_a_device_link_is_dropped(tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / ".a.swap").symlink_to("/dev/zero")
    os.mkfifo(folder / ".b.swap")
    finishes(lambda: safe_files._apply_journal(folder, folder / ".a.swap"))
    finishes(lambda: safe_files.recover_folder(folder))
    assert not os.path.lexists(folder / ".a.swap")


@posix_only
def test_a_fifo_or_device_link_in_a_model_folder_is_not_opened(tmp_path):
    from genre_desktop.core.engine.models.registry import safetensors_problem

    os.mkfifo(tmp_path / "weights.safetensors")
    (tmp_path / "openset.safetensors").symlink_to("/dev/zero")
    for name in ("weights.safetensors", "openset.safetensors"):
        assert finishes(lambda: safetensors_problem(tmp_path / name)) == "is not a regular file"


@posix_only
def test_linked_album_folders_are_walked_once_and_loops_are_said(tmp_path):
    """An album folder that is a link (to a second disk) is scanned; a link back up the
    tree is skipped with a reason instead of being walked for ever."""
    elsewhere = tmp_path / "disk2" / "Album B"
    write(elsewhere / "b1.wav", synth("bass", 1.0), 16000)
    music = tmp_path / "Music"
    write(music / "Album A" / "a1.wav", synth("bass", 1.0), 16000)
    (music / "Album B").symlink_to(elsewhere, target_is_directory=True)
    (music / "Album A" / "loop").symlink_to(music, target_is_directory=True)
    skipped: list = []
    found = finishes(lambda: list(iter_audio_files([music], on_error=lambda p, r: skipped.append((p, r)))))
    assert [p.name for p in found] == ["a1.wav", "b1.wav"]
    assert [r for _, r in skipped] == ["a link to a folder already scanned (skipped)"]


def test_open_regular_can_write_in_place_and_names_the_file(tmp_path):
    path = tmp_path / "song.mp3"
    path.write_bytes(b"0123456789")
    with open_regular(path, writable=True) as handle:
        assert handle.name == str(path)
        handle.seek(2)
        handle.write(b"ab")
    assert path.read_bytes() == b"01ab456789"
    with open_regular(path) as handle:
        assert handle.name == str(path) and handle.read(4) == b"01ab"
