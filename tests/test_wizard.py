"""The training wizard, driven end to end offscreen on a tiny synthetic library."""
import shutil

import numpy as np
import pytest
from PySide6.QtWidgets import QWizard

from genre_desktop.core.paths import user_models_folder
from genre_desktop.gui.wizard import TrainWizard


@pytest.fixture
def library(tmp_path, tiny_library):
    lib = tmp_path / "lib"
    shutil.copytree(tiny_library, lib)
    (lib / "noise" / "corrupt.flac").write_bytes(b"definitely not flac" * 50)
    return lib


@pytest.fixture
def wizard(qtbot, tiny_model):
    w = TrainWizard(str(tiny_model))
    qtbot.addWidget(w)
    w.show()
    yield w
    w.reject()


def to_check_page(qtbot, wizard, library):
    wizard.choose_page.root_edit.setText(str(library))
    assert wizard.choose_page.isComplete()
    with qtbot.waitSignal(wizard.check_page.scan_finished, timeout=30000):
        wizard.next()
    return wizard.check_page


def test_wizard_end_to_end(qtbot, wizard, library):
    check = to_check_page(qtbot, wizard, library)
    assert set(wizard.choose_page.folders()) == {"bass", "noise", "treble"}
    assert check.isComplete()
    assert check.table.rowCount() == 3
    assert "corrupt.flac" in check.problems.item(0).text()
    wizard.next()
    train = wizard.train_page
    train.name_edit.setText("my synth genres")
    train.thorough.setChecked(True)
    train.epochs.setValue(2)
    with qtbot.waitSignal(train.training_finished, timeout=120000) as blocker:
        train.start_button.click()
    outcome = blocker.args[0]
    assert outcome.path == user_models_folder() / "my synth genres"
    assert train.acc_curve.getData()[0] is not None and len(train.acc_curve.getData()[0]) == 2
    wizard.next()
    results = wizard.results_page
    text = results.summary.text()  # thorough mode trains only your genres, and is not cross-validated
    assert "tracks right (on " in text and "held out of training" in text
    assert "It knows only your 3 genres (bass, noise, treble)" in text
    assert results.recall.rowCount() == 3
    used = []
    wizard.use_model.connect(used.append)
    results.use_button.click()
    assert used == [str(outcome.path)]
    assert wizard.result() == QWizard.Accepted


def test_cancel_mid_training_leaves_nothing(qtbot, wizard, library):
    to_check_page(qtbot, wizard, library)
    wizard.next()
    train = wizard.train_page
    train.name_edit.setText("never")
    train.thorough.setChecked(True)
    train.epochs.setValue(50)
    seen = []
    train.start_button.click()
    train.worker.progress.connect(lambda f, m: seen.append(f))
    qtbot.waitUntil(lambda: bool(seen) and seen[-1] > 0.5, timeout=60000)  # training, not decoding
    train.cancel_button.click()
    qtbot.waitUntil(lambda: "Cancelled" in train.status.text(), timeout=5000)
    assert not (user_models_folder() / "never").exists()
    assert not train.isComplete()


def test_one_genre_blocks_training(qtbot, wizard, tmp_path, tiny_library):
    lib = tmp_path / "one"
    shutil.copytree(tiny_library / "bass", lib / "bass")
    check = to_check_page(qtbot, wizard, lib)
    assert not check.isComplete()
    assert "Cannot train" in check.warnings.text()


def test_check_page_says_which_genres_the_base_model_knows(qtbot, wizard, tmp_path, tiny_library):
    lib = tmp_path / "mixed"
    shutil.copytree(tiny_library / "bass", lib / "Bass")
    shutil.copytree(tiny_library / "treble", lib / "shoegaze")
    check = to_check_page(qtbot, wizard, lib)
    rows = {check.table.item(r, 0).text(): check.table.item(r, 3).text() for r in range(check.table.rowCount())}
    assert rows["Bass"] == "knows it" and rows["shoegaze"] == "new genre"


@pytest.mark.parametrize("existed", [True, False])
def test_keep_the_old_one_is_honoured(qtbot, wizard, library, tiny_model, existed):
    """'Keep the old one' puts back the model the training replaced (the new one becomes the
    restorable backup); with no model of that name before, the button discards the new one."""
    from genre_desktop.core.engine.models.bundle import load_bundle, read_meta, save_bundle

    dest = user_models_folder() / "mine"
    if existed:
        bundle = load_bundle(tiny_model)
        save_bundle(dest, bundle.network, {**bundle.meta, "name": "mine", "version": "old"})
    to_check_page(qtbot, wizard, library)
    wizard.next()
    train = wizard.train_page
    train.name_edit.setText("mine")
    with qtbot.waitSignal(train.training_finished, timeout=120000):
        train.start_button.click()
    wizard.next()
    results = wizard.results_page
    assert results.keep_button.text() == ("Keep the old one" if existed else "Discard this model")
    results.keep_button.click()
    assert wizard.result() == QWizard.Accepted
    if existed:
        assert read_meta(dest)["version"] == "old"
        assert read_meta(dest.with_name("mine.previous"))["version"] == "1"  # the new one, restorable
    else:
        assert not dest.exists()


def test_results_page_gives_one_estimate_and_says_how_it_was_measured(qtbot, wizard, library):
    """18 tracks: one figure (cross-validated over all of them), how it was measured, how many
    genres the model knows, and a warning that 18 tracks are few; the table, matrix and list
    of wrong tracks are the same predictions as the figure."""
    import re

    to_check_page(qtbot, wizard, library)
    wizard.next()
    assert wizard.train_page.scope() == "extend"  # the default
    with qtbot.waitSignal(wizard.train_page.training_finished, timeout=120000) as blocker:
        wizard.train_page.start_button.click()
    outcome = blocker.args[0]
    wizard.next()
    page = wizard.results_page
    text = page.summary.text()
    assert len(re.findall(r"\d+ ?%", text)) == 1, text  # one figure, no second one beside it
    assert "of 18 tracks right (5-fold cross-validation over all 18 of your tracks" in text
    assert "It knows 3 genres: the base model's 3" in text
    assert "rests on only 18 tracks" in text and page.use_button.text() == "Use it anyway"
    estimate = outcome.estimate
    shown = int(re.search(r"<b>(\d+)%</b>", text).group(1))
    assert shown == round(100 * estimate.accuracy)
    assert estimate.accuracy == pytest.approx(np.trace(estimate.report.matrix) / 18)
    assert page.wrong.count() == max(len(estimate.wrong), 1)
    per_genre = {page.recall.item(r, 0).text(): page.recall.item(r, 1).text() for r in range(page.recall.rowCount())}
    assert per_genre == {g: f"{v:.0%}" for g, v in estimate.report.recall().items()}


def test_train_page_scope_choice(qtbot, wizard):
    """Add to the base's genres is the default; "only my genres" carries a plain warning; thorough
    mode (which moves the network) trains only your genres."""
    page = wizard.train_page
    assert page.extend.isChecked() and page.scope() == "extend"
    page.only.setChecked(True)
    assert page.scope() == "only" and "calls all music one of them" in page.scope_note.text()
    page.extend.setChecked(True)
    page.thorough.setChecked(True)
    assert page.scope() == "only" and not page.extend.isEnabled()
    page.quick.setChecked(True)
    assert page.extend.isEnabled()


def test_wizard_starts_from_the_bundled_model_and_remembers_the_folder(qtbot, library, bundled_model_path):
    from genre_desktop.gui.settings import app_settings

    settings = app_settings()
    first = TrainWizard(None, settings=settings)
    qtbot.addWidget(first)
    assert first.base_model == str(bundled_model_path)  # not whatever the window has loaded
    assert "recommended" in first.choose_page.base_combo.currentText()
    first.show()
    first.choose_page.root_edit.setText(str(library))
    assert first.choose_page.validatePage()
    first.reject()
    second = TrainWizard(None, settings=settings)
    qtbot.addWidget(second)
    second.show()
    assert second.choose_page.root_edit.text() == str(library.absolute())
    second.reject()


def test_quick_mode_says_why_it_has_no_curves(qtbot, wizard):
    page = wizard.train_page
    assert page.quick.isChecked() and page.plots.isHidden() and not page.quick_note.isHidden()
    page.thorough.setChecked(True)
    assert not page.plots.isHidden() and page.quick_note.isHidden()
