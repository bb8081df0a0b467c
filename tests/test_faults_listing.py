"""Playlists and exports from hostile tags, labels and file names (issue 23): playlist
names that collide once cleaned, CSV cells that a spreadsheet would run as formulas, file
names with line breaks that would inject M3U entries. Real library files, the real CLI."""
from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path

from genre_desktop.core.library.model_ref import ModelRef
from genre_desktop.core.library.database import LibraryDatabase
from genre_desktop.core.library.listing import playlist_names, write_playlists


def library_with(db_path: Path, ref: ModelRef, tracks: list[dict], make_files: bool = False) -> Path:
    """A library whose files (``path``, ``genre`` and tags) have results of ``ref``
    (``make_files``: the files exist, as exports and playlists leave out files gone)."""
    with LibraryDatabase(db_path) as db:
        for t in tracks:
            if make_files:
                Path(t["path"]).parent.mkdir(parents=True, exist_ok=True)
                Path(t["path"]).write_bytes(b"not really audio")
            file_id = db.upsert_file(t["path"], size=100, mtime_ns=1, fingerprint=None, duration=61.0,
                                     artist=t.get("artist"), title=t.get("title"), album=t.get("album"),
                                     genre_tag=t.get("genre_tag", ()))
            db.save_result(file_id, ref.key, ref.name, {"verdict": "genre", "genre": t["genre"], "closest": t["genre"],
                                                        "confidence": 0.9, "top": [[t["genre"], 0.9]]})
    return db_path


HOSTILE_GENRES = ["a:b", "a?b", ".", "..", "x" * 70 + "1", "x" * 70 + "2", "Rock", "rock", "genre", "../up"]


def test_playlist_names_never_collide_and_no_genre_is_lost(tmp_path):
    ref = ModelRef(key="k", name="m", folder="/nowhere")
    db = library_with(tmp_path / "lib.sqlite3", ref,
                      [{"path": f"/music/{i}.ogg", "genre": g} for i, g in enumerate(HOSTILE_GENRES)])
    with LibraryDatabase(db, readonly=True) as lib:
        rows = lib.rows(ref.key)
    folder = tmp_path / "lists"
    written = write_playlists(rows, folder, "m")
    assert len(written) == len(HOSTILE_GENRES) == len({p.name.casefold() for p in written})
    assert all(p.parent == folder for p in written) and sorted(folder.iterdir()) == sorted(written)
    heard = []  # (playlist title, its entries)
    for path in written:
        lines = path.read_text().splitlines()
        heard.append((lines[1], [line for line in lines if line.startswith("/")]))
    assert sorted(e for _, entries in heard for e in entries) == sorted(f"/music/{i}.ogg"
                                                                       for i in range(len(HOSTILE_GENRES)))
    for i, genre in enumerate(HOSTILE_GENRES):  # each genre its own list, with its own track
        mine = [entries for title, entries in heard if f"/music/{i}.ogg" in entries]
        assert mine == [[f"/music/{i}.ogg"]], genre
        (title,) = [t for t, entries in heard if entries == mine[0]]
        assert title[len("#PLAYLIST:"):-len(" (m)")].casefold() == genre.casefold()
    assert playlist_names(HOSTILE_GENRES) == playlist_names(reversed(HOSTILE_GENRES))  # stable names


def test_csv_cells_that_look_like_formulas_are_prefixed(tmp_path, tiny_model, run_cli):
    ref = ModelRef.of(tiny_model)
    tricks = {"artist": '=HYPERLINK("http://evil.example/","click")', "title": "+1+1", "album": "@SUM(A1:A9)",
              "genre_tag": ["-2+3", "\tcmd"]}
    m = tmp_path / "music"
    db = library_with(tmp_path / "lib.sqlite3", ref, [
        {"path": f"{m}/evil.ogg", "genre": "bass", **tricks},
        {"path": f"{m}/plain.ogg", "genre": "treble", "artist": "Plain Artist", "title": "A-ha - Take On Me"}],
        make_files=True)
    out = tmp_path / "table.csv"
    run_cli("library", "--library", db, "export", out, "--model", tiny_model, check_rc=0)
    table = {r["path"]: r for r in csv.DictReader(out.open(newline=""))}
    evil, plain = table[f"{m}/evil.ogg"], table[f"{m}/plain.ogg"]
    assert evil["artist"] == "'" + tricks["artist"] and evil["title"] == "'+1+1" and evil["album"] == "'@SUM(A1:A9)"
    assert evil["genre_tag"] == "'-2+3; \tcmd"
    for row in table.values():  # no cell a spreadsheet would run
        assert not any(v.startswith(("=", "+", "-", "@", "\t", "\r")) for v in row.values()), row
    assert plain["artist"] == "Plain Artist" and plain["title"] == "A-ha - Take On Me" and plain["confidence"] == "0.9"
    # JSON keeps the values as they are (no spreadsheet reads it)
    run_cli("library", "--library", db, "export", tmp_path / "t.json", "--model", tiny_model, check_rc=0)
    tracks = {t["path"]: t for t in json.loads((tmp_path / "t.json").read_text())["tracks"]}
    assert tracks[f"{m}/evil.ogg"]["artist"] == tricks["artist"]


def test_a_file_name_with_a_line_break_never_injects_a_playlist_entry(tmp_path, tiny_model, run_cli):
    ref = ModelRef.of(tiny_model)
    share = tmp_path / "share"
    db = library_with(tmp_path / "lib.sqlite3", ref, [
        {"path": f"{share}/song.ogg\n/home/victim/.ssh/id_rsa", "genre": "bass"},
        {"path": f"{share}/cr.ogg\r#EXTINF:1,x", "genre": "bass"},
        {"path": f"{share}/good.ogg", "genre": "bass", "title": "two\nlines\r#EXTM3U"}], make_files=True)
    proc = run_cli("library", "--library", db, "playlists", tmp_path / "lists", "--model", tiny_model, check_rc=0)
    assert proc.stderr.count("left out:") == 2 and "line break" in proc.stderr
    (playlist,) = (tmp_path / "lists").iterdir()
    lines = playlist.read_bytes().split(b"\n")
    entries = [line for line in lines if line and not line.startswith(b"#")]
    assert entries == [f"{share}/good.ogg".encode()]
    assert b"\r" not in playlist.read_bytes()
    assert [line for line in lines if line.startswith(b"#EXTINF")] == [b"#EXTINF:61,two lines #EXTM3U"]


def test_show_into_a_closed_pipe_ends_quietly(tmp_path, tiny_model, run_cli_process):
    ref = ModelRef.of(tiny_model)
    db = library_with(tmp_path / "lib.sqlite3", ref,
                      [{"path": f"/music/{i:05d}.ogg", "genre": "bass", "title": "t" * 100} for i in range(3000)])
    proc = run_cli_process.popen("library", "--library", db, "show", "--json", "--model", tiny_model,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = proc.stdout.readline()  # `| head -1`
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    assert proc.wait() == 0, stderr
    assert json.loads(first)["path"] == "/music/00000.ogg"
    assert "error" not in stderr and "Broken pipe" not in stderr and "Exception ignored" not in stderr


def test_streamed_commands_leave_out_files_gone_and_forget_missing_forgets_them(tmp_path, tiny_model, run_cli):
    ref = ModelRef.of(tiny_model)
    m = tmp_path / "music"
    tracks = [{"path": f"{m}/{i:03d}.ogg", "genre": "bass" if i % 2 else "treble", "title": f"t{i}"} for i in range(40)]
    db = library_with(tmp_path / "lib.sqlite3", ref, tracks, make_files=True)
    for i in range(0, 40, 4):  # ten files deleted since the scan
        Path(tracks[i]["path"]).unlink()
    lib = ["library", "--library", db]
    export = run_cli(*lib, "export", tmp_path / "t.json", "--model", tiny_model, check_rc=0)
    assert "10 files gone from the disk" in export.stderr and "forget --missing" in export.stderr
    kept = [t["path"] for t in json.loads((tmp_path / "t.json").read_text())["tracks"]]
    assert kept == [t["path"] for i, t in enumerate(tracks) if i % 4]  # in path order, none gone
    table = run_cli(*lib, "export", tmp_path / "t.csv", "--model", tiny_model, check_rc=0).stdout.strip()
    csv_rows = list(csv.DictReader(open(table, newline="")))
    assert len(csv_rows) == 30
    lists = run_cli(*lib, "playlists", tmp_path / "lists", "--model", tiny_model, check_rc=0)
    entries = [line for p in (tmp_path / "lists").iterdir() for line in p.read_text().splitlines()
               if not line.startswith("#")]
    assert sorted(entries) == sorted(kept) and "10 files gone" in lists.stderr
    shown = run_cli(*lib, "show", "--model", tiny_model, check_rc=0)
    assert shown.stdout.count("\n") == 40 and "40 tracks:" in shown.stderr and "bass 20" in shown.stderr
    assert "10 files forgotten" in run_cli(*lib, "forget", "--missing", check_rc=0).stdout
    assert run_cli(*lib, "show", "--model", tiny_model, check_rc=0).stdout.count("\n") == 30
