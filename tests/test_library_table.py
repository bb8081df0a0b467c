"""The Library tab's paged table, offscreen, on a real library of 3,000 rows: it reads
only the rows on screen, sorts/filters/searches as the Python rules do, fills the
Proposed column as propose() does, and a scan adding rows keeps the selection, the top
row and every other row it had read."""
from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QSettings, Qt

from genre_desktop.core.library import pages
from genre_desktop.core.library.model_ref import ModelRef
from genre_desktop.core.library.batch import store_record
from genre_desktop.core.library.database import LibraryDatabase
from genre_desktop.core.library.listing import matches
from genre_desktop.core.library.review import propose
from genre_desktop.gui.library_table import PAGE
from genre_desktop.gui.tag_review import proposal_text

REF = ModelRef(key="tiny@1#cccccccccccc", name="tiny", folder="")
ROWS = 3000
GENRES = ["rock", "jazz", "pop", "électro"]


def _record(i: int, root, title=None, genre=None) -> dict:
    genre = genre or GENRES[i % len(GENRES)]
    title = title or (f"Élégie {i}" if i % 11 == 0 else f"Track {i:05d}")
    return {"path": str(root / f"Album {i // 10:04d}" / f"{i:05d}.flac"), "size": 1000 + i, "mtime_ns": i,
            "fingerprint": f"{i:040x}",
            "result": {"verdict": "genre" if i % 3 else "unsure", "genre": genre, "closest": genre,
                       "confidence": (i % 90) / 100, "top": [[genre, 0.8], ["pop", 0.15]],
                       "timeline": [[0.0, genre, 0.8], [3.0, genre, 0.7]], "duration": 60.0 + i % 100},
            "tags": {"artist": f"Artist {i % 40}", "title": title, "album": f"Album {i // 10}",
                     "genre": ["Rock"] if i % 2 else []}}


@pytest.fixture
def view(qtbot, tmp_path):
    from genre_desktop.gui.library_view import LibraryView
    from genre_desktop.gui.settings import Settings

    db_path = tmp_path / "library.sqlite3"
    with LibraryDatabase(db_path) as db:
        with db.transaction():
            for i in range(ROWS):
                rec = _record(i, tmp_path / "Music")
                file_id = db.upsert_file(rec["path"], size=rec["size"], mtime_ns=rec["mtime_ns"], fingerprint=None,
                                         duration=rec["result"]["duration"], artist=rec["tags"]["artist"],
                                         title=rec["tags"]["title"], album=rec["tags"]["album"],
                                         genre_tag=rec["tags"]["genre"])
                db.save_result(file_id, REF.key, REF.name, rec["result"])
    view = LibraryView(Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)), str(db_path))
    qtbot.addWidget(view)
    view.ref = REF
    view.resize(1000, 600)
    view.show()
    view.refresh()  # 3,000 files without sort keys: made in a worker, then shown
    assert view.keying is not None and view.model.rowCount() == 0
    qtbot.waitUntil(lambda: view.keying is None and view.model.rowCount() == ROWS, timeout=30000)
    qtbot.waitExposed(view)
    yield view
    view.shutdown()


def _reads(view) -> list:
    """The SQL statements that read whole rows (with their timelines) from now on."""
    seen: list = []
    view.db._conn.set_trace_callback(lambda sql: seen.append(sql) if "r.timeline" in sql else None)
    return seen


def _shown(view) -> list[int]:
    return list(view.model.ids)


def test_a_view_of_n_rows_reads_about_n(qtbot, view):
    assert view.model.rowCount() == ROWS and view.counts.text().startswith(f"{ROWS:,} tracks")
    on_screen = view.table.rowAt(view.table.viewport().height() - 1) + 1
    assert 5 < on_screen < PAGE and view.model.fetched <= 2 * PAGE  # not 3,000
    reads = _reads(view)
    before = view.model.fetched
    view.table.scrollTo(view.model.index(ROWS // 2, 0), view.table.ScrollHint.PositionAtTop)
    qtbot.wait(50)
    assert 0 < view.model.fetched - before <= 2 * PAGE and 1 <= len(reads) <= 2
    view.model.wait_proposals()
    lines = {p.file_id: p for p in propose(view.db, REF.key, view.model.options, check_files=False,
                                           rows=view.db.rows(REF.key))}  # the whole library, as the review sees it
    cells = [view.model.data(view.model.index(r, 4)) for r in range(ROWS // 2, ROWS // 2 + 10)]
    assert cells == [proposal_text(lines[view.model.ids[r]]) for r in range(ROWS // 2, ROWS // 2 + 10)]
    assert any(cells) and view.model.options.per_album  # albums voted over all their tracks, not the page's
    view.db._conn.set_trace_callback(None)


def test_sort_filter_and_search_show_what_the_python_rules_show(qtbot, view):
    rows = view.db.rows(REF.key)
    view.table.sortByColumn(6, Qt.DescendingOrder)
    want = sorted(rows, key=lambda r: (r.confidence if r.confidence is not None else -1.0, r.id), reverse=True)
    assert _shown(view) == [r.id for r in want]
    view.search.setText("ÉLÉGIE")
    assert _shown(view) == [r.id for r in want if matches(r, text="elegie")] and view.model.rowCount() == 273
    assert view.counts.text().startswith(f"273 of {ROWS:,} tracks")
    view.search.setText("electro artist 7")
    assert _shown(view) == [r.id for r in want if matches(r, text="electro artist 7")]
    view.search.clear()
    view.kind.setCurrentIndex(view.kind.findData("unsure"))
    view.genre.setCurrentIndex(view.genre.findData("jazz"))
    assert _shown(view) == [r.id for r in want if matches(r, "unsure", "jazz")]
    assert [r.id for r in view.visible_rows()] == _shown(view)


def test_a_scan_adding_rows_keeps_selection_top_row_and_read_rows(qtbot, view, tmp_path):
    view.table.scrollTo(view.model.index(1200, 0), view.table.ScrollHint.PositionAtTop)
    qtbot.wait(50)
    view.table.selectRow(1205)
    chosen = view.selected_paths()
    top = view.model.ids[view.table.indexAt(QPoint(1, 1)).row()]
    before = view.model.fetched
    with LibraryDatabase(view.db.path) as writer:  # the scanner's writer, on its own connection
        for i in range(ROWS, ROWS + 30):  # "Aaa ..." sort first: every row moves down by 30
            rec = _record(i, tmp_path / "Music", title=f"Aaa {i}")
            store_record(writer, rec, REF)
            view._stored.append(rec["path"])
        changed = _record(1300, tmp_path / "Music", genre="pop")  # a file of the screen, analysed again
        changed["mtime_ns"] += 1
        store_record(writer, changed, REF)
        view._stored.append(changed["path"])
    view._catch_up()
    qtbot.waitUntil(lambda: view.peek is None, timeout=10000)
    assert view.model.rowCount() == ROWS + 30
    assert view.selected_paths() == chosen and view.table.selectionModel().selectedRows()[0].row() == 1235
    assert view.model.ids[view.table.indexAt(QPoint(1, 1)).row()] == top
    qtbot.wait(50)
    assert view.model.fetched - before <= 2  # the changed file's row (and no other) read again
    row = view.model.position(pages.ids_of_paths(view.db, [changed["path"]])[0])
    assert view.model.data(view.model.index(row, 5)) == ("pop" if 1300 % 3 else "pop? (not sure)")
    assert view.counts.text().startswith(f"{ROWS + 30:,} tracks")


def test_exports_of_the_tab_leave_out_files_gone_from_the_disk(qtbot, tmp_path):
    from genre_desktop.gui.library_view import LibraryView
    from genre_desktop.gui.settings import Settings

    db_path = tmp_path / "library.sqlite3"
    with LibraryDatabase(db_path) as db:
        for i in (1, 2, 4):  # three confident verdicts
            rec = _record(i, tmp_path / "Music")
            Path(rec["path"]).parent.mkdir(parents=True, exist_ok=True)
            Path(rec["path"]).write_bytes(b"audio")
            store_record(db, rec, REF)
    Path(_record(2, tmp_path / "Music")["path"]).unlink()
    view = LibraryView(Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)), str(db_path))
    qtbot.addWidget(view)
    said: list = []
    view.message.connect(said.append)
    view.ref = REF
    view.refresh()
    assert view.model.rowCount() == 3
    out = view.export_table(str(tmp_path / "table.csv"))
    assert len(out.read_text().splitlines()) == 1 + 2 and "1 files gone from the disk left out" in said[-1]
    lists = view.export_playlists(str(tmp_path / "lists"))
    assert sum(p.read_text().count(".flac") for p in lists) == 2
    view.shutdown()
