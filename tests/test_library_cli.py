"""``genre-desktop-cli library``: scan, show, review and write tags, undo, playlists, export."""
from __future__ import annotations

import json

import numpy as np

from conftest import TINY_LABELS, synth, write
from genre_desktop.core.library.tags import read_tags


def test_the_library_commands_end_to_end(tmp_path, tiny_model, run_cli):
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


def test_library_mistakes_are_one_line(tmp_path, run_cli):
    lib = ["library", "--library", tmp_path / "lib.sqlite3"]
    for args in (["scan", tmp_path / "nowhere"], ["undo-tags", "7"]):
        proc = run_cli(*lib, *args)
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    for args in (["history"], ["undo-tags"], ["forget", "x"]):  # only scan makes a library
        missing = run_cli(*lib, *args)
        assert missing.returncode == 2 and "no library at" in missing.stderr, missing.stderr
    assert not (tmp_path / "lib.sqlite3").exists()


def test_history_counts_written_undone_and_failed(tmp_path, run_cli):
    """A 36-file batch of which 34 were undone reads "36 written (34 since undone)", not
    "2 written"; its undo reads "34 put back, 2 left alone", not "0 written"."""
    from genre_desktop.core.library.database import LibraryDatabase

    db_path = tmp_path / "lib.sqlite3"
    with LibraryDatabase(db_path) as db:
        batch = db.start_tag_batch("key", {"top_k": 2, "separator": None, "verdicts": ["genre"]})
        entries = [db.journal_write(batch, None, f"/m/{i}.mp3", [], ["Rock", "Pop"]) for i in range(37)]
        for entry in entries[:36]:
            db.mark_write(entry, "done")
        db.mark_write(entries[36], "failed", "read-only")
        undo = db.start_tag_batch("key", {"undo": batch}, undo_of=batch)
        for i, entry in enumerate(entries[:36]):
            back = db.journal_write(undo, None, f"/m/{i}.mp3", ["Rock", "Pop"], [])
            if i < 34:
                db.mark_write(entry, "undone")
                db.mark_write(back, "done")
            else:
                db.mark_write(back, "failed", "changed since")
        db.mark_undone(batch, undo)
    lines = run_cli("library", "--library", db_path, "history", check_rc=0).stdout.splitlines()
    assert "34 put back, 2 left alone" in lines[0] and "undo of batch 1" in lines[0]
    assert "36 written (34 since undone), 1 failed, undone by batch 2" in lines[1]


def test_help_texts_and_verdict_words(tmp_path, tiny_model, run_cli):
    def help_of(*args):
        return " ".join(run_cli(*args, "--help", check_rc=0).stdout.split())

    assert "batch number" in help_of("library", "undo-tags")
    for args in (["library", "scan"], ["library", "write-tags"], ["classify"]):
        assert "no progress bar" in help_of(*args)
    assert "chosen in the window" in help_of("library", "show")
    silent = write(tmp_path / "silent.wav", np.zeros(16000 * 8, np.float32))
    line = run_cli("classify", silent, "--model", tiny_model, "--no-progress", check_rc=0).stdout
    assert "no music heard" in line and "?" not in line and "not sure" not in line
    from genre_desktop.cli.classify import verdict_text

    text = verdict_text("not_music", None, "not music: a steady sound (noise, a tone or a hum)")
    assert text == "not music: a steady sound (noise, a tone or a hum)"
    assert verdict_text("unsure", "rock", "low confidence (40%)") == "rock? (not sure: low confidence (40%))"
    assert verdict_text("genre", "rock") == "rock"


def test_the_cli_uses_the_model_chosen_in_the_window(tmp_path, tiny_model, run_cli):
    from genre_desktop.gui.settings import app_settings

    settings = app_settings()  # the window's own settings code writes the choice
    settings.set("model/name", str(tiny_model))
    settings.sync()
    info = run_cli("info", "--json", check_rc=0)
    assert json.loads(info.stdout)["path"] == str(tiny_model)
    assert "the model chosen in the window" in info.stderr
    ogg = write(tmp_path / "m" / "a.ogg", synth("bass", 5.0))
    db = tmp_path / "lib.sqlite3"
    run_cli("library", "--library", db, "scan", ogg.parent, "--workers", "1", "--no-progress", check_rc=0)
    shown = run_cli("library", "--library", db, "show", "--model", tiny_model, "--json", check_rc=0)
    assert json.loads(shown.stdout)["verdict"]  # the scan used the window's model: its results are there
