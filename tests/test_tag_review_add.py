"""The review's "Add" box, clicked as a person does: the file's proposed tag reads the same in
the review and in the Library's Proposed column, before and after ticking it, and what is
written is what the review said."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QStyle, QStyleOptionButton

from genre_desktop.core.library.database import LibraryDatabase
from genre_desktop.core.library.tags import read_tags
from genre_desktop.gui.tag_review import COLUMNS, NOTE_WORDS, TagReviewDialog
from test_albums import add_track, bundled_key, library_view, tagged_flac  # noqa: F401  (fixture)


def click_box(qtbot, box) -> None:
    """A left click on the check box's square (where a person clicks), not its middle."""
    option = QStyleOptionButton()
    box.initStyleOption(option)
    square = box.style().subElementRect(QStyle.SE_CheckBoxIndicator, option, box)
    QTest.mouseClick(box, Qt.LeftButton, Qt.NoModifier, square.center())


def cells(dialog: TagReviewDialog, name: str) -> dict:
    table = dialog.table
    for r in range(table.rowCount()):
        if table.item(r, 0).text() == name:
            return {COLUMNS[c]: table.item(r, c).text() for c in range(table.columnCount())}
    raise AssertionError(f"{name} not in the review")


def library_proposed(view, path) -> str:
    """The Library's Proposed cell of ``path`` (filled by a worker once the row is shown)."""
    model = view.model
    column = list(model.columns).index("Proposed")
    for r in range(model.rowCount()):
        if model.row_at(model.index(r, 0)).path == str(path):
            model.data(model.index(r, column), Qt.DisplayRole)  # asks the worker for it
            model.wait_proposals()
            return model.data(model.index(r, column), Qt.DisplayRole)
    raise AssertionError(f"{path} not in the Library table")


def test_ticking_add_keeps_the_proposed_text_one_format(qtbot, tmp_path, bundled_key):
    db_path = tmp_path / "lib.sqlite3"
    with LibraryDatabase(db_path) as db:
        song = tagged_flac(tmp_path / "Solo" / "song.flac", "Solo", "Single", seed=40, genre="Rock")
        add_track(db, song, "genre", "metal", ["metal"] * 3, bundled_key)
    view = library_view(qtbot, tmp_path, db_path)
    assert library_proposed(view, song) == "(Metal)"  # proposed, not written: the file keeps Rock
    QTest.mouseClick(view.write_button, Qt.LeftButton)
    review = view.findChildren(TagReviewDialog)[-1]
    before = cells(review, "song.flac")
    assert (before["Genre tag now"], before["Will be"], before["Note"]) == ("Rock", "", NOTE_WORDS["keep"])

    click_box(qtbot, review.add)
    assert review.add.isChecked()
    after = cells(review, "song.flac")
    assert after["Will be"] == "Rock; Metal"  # the whole tag the file will carry, as the Library writes it
    assert after["Note"].startswith(NOTE_WORDS["write"])
    QTest.mouseClick(review.write_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: review.task is None, timeout=30000)
    assert read_tags(song).genre == ["Rock", "Metal"]
    review.reject()
    # the Library follows the options the person wrote with (Add): the file's tag, in the review's words
    # (it read "Metal", the proposal alone, while a file to be written read as its whole tag)
    qtbot.waitUntil(lambda: library_proposed(view, song) == after["Will be"], timeout=10000)
    view.shutdown()
