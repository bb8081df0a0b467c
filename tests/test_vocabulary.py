"""Your vocabulary (issue 28): spellings, aliases that make existing tags evidence, a
whitelist, and "add" beside keep/replace, with undo; real tagged files, a real library."""
from __future__ import annotations

import json
import os

import pytest
from mutagen.flac import FLAC
from mutagen.id3 import ID3, TCON

from conftest import synth, write
from genre_desktop.core.library.database import LibraryDatabase
from genre_desktop.core.library.tags import read_tags
from genre_desktop.core.library.vocabulary import (Vocabulary, VocabularyError, load_vocabulary, save_vocabulary,
                                                   vocabulary_path)
from genre_desktop.core.library.writing import apply, undo
from genre_desktop.core.library.review import TagOptions, propose, review_order

KEY = "model@1#x"


def flac_with(path, *genres):
    write(path, synth("bass", 2.0, seed=len(str(path))))
    if genres:
        audio = FLAC(path)
        audio["genre"] = list(genres)
        audio.save()
    return path


def library(tmp_path, files: dict, key: str = KEY):
    db = LibraryDatabase(tmp_path / "lib.sqlite3")
    for path, genre in files.items():
        stat = path.stat()
        fid = db.upsert_file(path, size=stat.st_size, mtime_ns=stat.st_mtime_ns, fingerprint=None, duration=2.0,
                             genre_tag=read_tags(path).genre)
        db.save_result(fid, key, "model", {"verdict": "genre", "genre": genre, "top": [[genre, 0.9]],
                                           "confidence": 0.9, "timeline": [[0.0, genre, 0.9]]})
    return db


def test_an_alias_makes_heavy_metal_agree_with_metal_and_disagreements_come_first(tmp_path):
    heavy = flac_with(tmp_path / "heavy.flac", "Heavy Metal")
    wrong = flac_with(tmp_path / "wrong.flac", "Jazz")
    bare = flac_with(tmp_path / "bare.flac")
    hop = flac_with(tmp_path / "hop.flac", "Rap")
    with library(tmp_path, {heavy: "metal", wrong: "metal", bare: "rock", hop: "hiphop"}) as db:
        lines = {line.path: line for line in propose(db, KEY, TagOptions())}
        assert lines[str(heavy)].agrees is True and lines[str(heavy)].why == "your tag agrees"
        assert lines[str(hop)].agrees is True
        assert lines[str(wrong)].agrees is False and lines[str(bare)].agrees is None
        assert review_order(lines.values())[0].path == str(wrong)  # the disagreement first
        without = {line.path: line for line in propose(db, KEY, TagOptions(), vocabulary=Vocabulary(aliases={}))}
        assert without[str(heavy)].agrees is False  # no alias: "Heavy Metal" is not "metal"


def test_spellings_and_the_whitelist_decide_what_is_written(tmp_path):
    hop, rock = flac_with(tmp_path / "hop.flac"), flac_with(tmp_path / "rock.flac")
    mine = Vocabulary(spellings={"hiphop": "Hip Hop"}, whitelist=["Hip-Hop", "jazz"])
    with library(tmp_path, {hop: "hiphop", rock: "rock"}) as db:
        lines = {line.path: line for line in propose(db, KEY, TagOptions(), vocabulary=mine)}
    assert lines[str(hop)].proposed == ["Hip Hop"] and lines[str(hop)].action == "write"
    assert lines[str(rock)].action == "skip" and "not in your whitelist" in lines[str(rock)].why


def test_add_keeps_the_existing_genres_and_undo_puts_them_back(tmp_path):
    two = flac_with(tmp_path / "two.flac", "Blues", "Soul")
    mp3 = tmp_path / "one.mp3"
    write(mp3, synth("bass", 2.0, seed=3))
    tags = ID3()
    tags.add(TCON(encoding=3, text=["Blues"]))
    tags.save(mp3)
    already = flac_with(tmp_path / "already.flac", "Hard Rock")
    with library(tmp_path, {two: "jazz", mp3: "jazz", already: "rock"}) as db:
        options = TagOptions(add=True)
        lines = propose(db, KEY, options)
        by_path = {line.path: line for line in lines}
        assert by_path[str(already)].action == "same"  # "Hard Rock" is rock already: nothing to add
        summary = apply(db, lines, KEY, options)
        assert summary.written == 2 and not summary.failed
        assert read_tags(two).genre == ["Blues", "Soul", "Jazz"]  # several values, as FLAC keeps them
        assert read_tags(mp3).genre == ["Blues", "Jazz"]
        assert undo(db).written == 2
    assert read_tags(two).genre == ["Blues", "Soul"] and read_tags(mp3).genre == ["Blues"]


def test_the_vocabulary_file_round_trips_and_bad_files_are_one_line(tmp_path):
    assert load_vocabulary().aliases["Heavy Metal"] == "metal"  # no file: the defaults
    mine = Vocabulary(spellings={"hiphop": "Hip Hop"}, aliases={"Nu Metal": "metal"}, whitelist=["rock"])
    path = save_vocabulary(mine)
    assert path == vocabulary_path() and path.parent.is_dir()
    assert load_vocabulary() == mine
    assert not [p for p in path.parent.iterdir() if p.name != path.name]  # no temporary left
    for text, words in (("{not json", "damaged"), ('{"version": 99}', "newer version"),
                        ('{"aliases": {"x": 5}}', "not a name"), ("[]", "not a vocabulary")):
        path.write_text(text)
        with pytest.raises(VocabularyError, match=words) as err:
            load_vocabulary()
        assert "\n" not in str(err.value)
    os.unlink(path)
    os.mkfifo(path)
    with pytest.raises(VocabularyError, match="pipe"):
        load_vocabulary()
    os.unlink(path)
    path.write_text(json.dumps({"aliases": {f"a{i}": "rock" for i in range(20000)}}))
    with pytest.raises(VocabularyError, match="at most"):
        load_vocabulary()


def test_the_vocabulary_dialog_opens_from_its_action_saves_and_the_review_shows_agreement(qtbot, tmp_path):
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QDialogButtonBox

    from genre_desktop.core.engine.models.registry import resolve_model
    from genre_desktop.core.library.model_ref import ModelRef
    from genre_desktop.gui.tag_review import TagReviewDialog
    from genre_desktop.gui.vocabulary_dialog import VocabularyDialog
    from test_albums import library_view

    key = ModelRef.of(resolve_model("genre_musicnn_v3")).key
    nu, jazz = flac_with(tmp_path / "nu.flac", "Nu Metal"), flac_with(tmp_path / "jazz.flac", "Jazz")
    library(tmp_path, {nu: "metal", jazz: "metal"}, key).close()
    view = library_view(qtbot, tmp_path, tmp_path / "lib.sqlite3")
    view.vocabulary_action.trigger()
    dialog = view.findChildren(VocabularyDialog)[-1]
    qtbot.waitUntil(dialog.isVisible, timeout=5000)
    assert dialog.spellings.rowCount() == 11  # the model's genres
    QTest.mouseClick(dialog.add_alias, Qt.LeftButton)
    row = dialog.aliases.rowCount() - 1
    dialog.aliases.item(row, 0).setText("Nu Metal")
    dialog.aliases.item(row, 1).setText("metal")
    QTest.mouseClick(dialog.buttons.button(QDialogButtonBox.Save), Qt.LeftButton)
    assert not dialog.isVisible()
    assert load_vocabulary().aliases["Nu Metal"] == "metal"

    QTest.mouseClick(view.write_button, Qt.LeftButton)
    review = view.findChildren(TagReviewDialog)[-1]
    table = review.table
    order = [table.item(r, 0).text() for r in range(table.rowCount())]
    agree = {table.item(r, 0).text(): table.item(r, 6).text() for r in range(table.rowCount())}
    assert order[0] == "jazz.flac" and agree == {"jazz.flac": "disagrees", "nu.flac": "agrees"}
    review.show_only.setCurrentIndex(review.show_only.findText("Tag agrees"))
    assert [table.item(r, 0).text() for r in range(table.rowCount())] == ["nu.flac"]
    review.reject()


def test_cli_write_tags_add_keeps_genres_and_undo_restores_them(tmp_path, run_cli):
    from genre_desktop.core.engine.models.registry import resolve_model
    from genre_desktop.core.library.model_ref import ModelRef
    
    key = ModelRef.of(resolve_model("genre_musicnn_v3")).key
    blues = flac_with(tmp_path / "blues.flac", "Blues")
    library(tmp_path, {blues: "jazz"}, key).close()
    lib = ["library", "--library", tmp_path / "lib.sqlite3"]
    wrote = run_cli(*lib, "write-tags", "--add", "--model", "genre_musicnn_v3", "--no-progress", check_rc=0)
    assert "1 files tagged" in wrote.stdout and read_tags(blues).genre == ["Blues", "Jazz"]
    assert "adding to existing genres" in run_cli(*lib, "history", check_rc=0).stdout
    run_cli(*lib, "undo-tags", check_rc=0)
    assert read_tags(blues).genre == ["Blues"]
