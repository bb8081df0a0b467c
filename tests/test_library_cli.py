"""``genre-desktop-cli library``: scan, show, review and write tags, undo, playlists, export."""
from __future__ import annotations

import json

from conftest import TINY_LABELS, synth, write
from genre_desktop.core.library.tags import read_tags
from test_cli import run_cli


def test_the_library_commands_end_to_end(tmp_path, tiny_model):
    music = tmp_path / "Music"
    for g, genre in enumerate(TINY_LABELS):
        for i in range(2):
            write(music / genre / f"{genre}_{i}.ogg", synth(genre, 5.0, seed=70 + 2 * g + i))
    db = tmp_path / "lib.sqlite3"
    lib = ["library", "--library", db]

    scan = run_cli(*lib, "scan", music, "--model", tiny_model, "--workers", "2", "--no-progress", check_rc=0)
    assert "6 audio files: 6 analysed" in scan.stdout
    assert "0 analysed" in run_cli(*lib, "scan", music, "--model", tiny_model, "--no-progress", check_rc=0).stdout

    shown = [json.loads(line) for line in run_cli(*lib, "show", "--model", tiny_model, "--json", check_rc=0).stdout.splitlines()]
    assert len(shown) == 6 and all(r["verdict"] for r in shown)
    confident = [r for r in shown if r["verdict"] == "genre"]
    assert confident

    dry = run_cli(*lib, "write-tags", "--model", tiny_model, "--dry-run", check_rc=0)
    assert "dry run" in dry.stderr and "->" in dry.stdout
    assert all(read_tags(r["path"]).genre == [] for r in shown)  # a dry run changes nothing

    wrote = run_cli(*lib, "write-tags", "--model", tiny_model, "--no-progress", check_rc=0)
    assert f"{len(confident)} files tagged" in wrote.stdout
    for r in confident:
        assert read_tags(r["path"]).genre == [r["genre"].title()]
    assert "batch 1" in run_cli(*lib, "history", check_rc=0).stdout

    lists = run_cli(*lib, "playlists", tmp_path / "lists", "--model", tiny_model, check_rc=0).stdout.split()
    assert lists and all(p.endswith(".m3u8") for p in lists)
    export = run_cli(*lib, "export", tmp_path / "all.csv", "--model", tiny_model, "--filter", "untagged", check_rc=0)
    assert export.stdout.strip().endswith("all.csv")

    assert f"{len(confident)} files put back" in run_cli(*lib, "undo-tags", check_rc=0).stdout
    assert all(read_tags(r["path"]).genre == [] for r in shown)
    again = run_cli(*lib, "undo-tags")
    assert again.returncode == 2 and again.stderr.count("\n") == 1 and "no tag writes to undo" in again.stderr

    assert "2 files forgotten" in run_cli(*lib, "forget", *[r["path"] for r in shown[:2]], check_rc=0).stdout


def test_library_mistakes_are_one_line(tmp_path):
    lib = ["library", "--library", tmp_path / "lib.sqlite3"]
    for args in (["scan", tmp_path / "nowhere"], ["undo-tags", "7"]):
        proc = run_cli(*lib, *args)
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "no tags written yet" in run_cli(*lib, "history", check_rc=0).stderr
