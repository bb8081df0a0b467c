"""Fault injection: nothing a person types or a file holds may destroy data or brick the app.

Each test reproduces one fault (hostile names, kills at every stage of training and
saving, full disks, hostile model folders and cache entries, NaN audio, non-UTF-8 names,
files that vanish, concurrent saves) and asserts that no user data is lost, no traceback
reaches the person, and the app still starts. Kills are real: a subprocess is SIGKILLed at
a named point by ``GENRE_DESKTOP_FAULT`` (``core.safe_files.fault_point``).
"""
from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import synth, write
from genre_desktop.core.engine.models.bundle import load_bundle, read_meta, save_bundle
from genre_desktop.core.errors import BundleError
from genre_desktop.core.engine.models.registry import list_models, resolve_model
from genre_desktop.core.paths import user_models_folder

LEFTOVER_SUFFIXES = (".partial", ".swap", ".trash")


def no_traceback(proc) -> None:
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr[-2000:]


def leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.endswith(LEFTOVER_SUFFIXES)] if folder.is_dir() else []


@pytest.fixture
def user_model(tiny_model) -> Path:
    """A user model "mine" (version 1) with a backup (version 0): the data that must survive."""
    bundle = load_bundle(tiny_model)
    dest = user_models_folder() / "mine"
    save_bundle(dest, bundle.network, {**bundle.meta, "name": "mine", "version": "0"})
    save_bundle(dest, bundle.network, {**bundle.meta, "name": "mine", "version": "1"})
    return dest


def versions() -> dict[str, str]:
    """{folder name: version} of every usable user model folder, backups included."""
    return {e.path.name: str(e.meta.get("version")) for e in list_models(include_backups=True)
            if not e.bundled}


# ------------------------------------------------------------------ names (data loss)
HOSTILE_NAMES = ["../../../x", "/tmp/genre-desktop-thesis", "", ".", "..", "mine.previous",
                 "x.partial", "a\nb", "a/b", "con", " ", "\x1b[31mred", "x" * 65]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_cli_train_refuses_hostile_names(name, user_model, tiny_library, tiny_model, tmp_path, run_cli):
    outside = Path("/tmp/genre-desktop-thesis")
    before = versions()
    proc = run_cli("train", tiny_library, "--name", name, "--base", tiny_model)
    no_traceback(proc)
    assert proc.returncode == 2 and proc.stderr.startswith("error: a model name")
    assert len(proc.stderr.strip().splitlines()) == 1
    assert versions() == before  # nothing moved, nothing deleted
    assert not outside.exists()
    assert not (user_models_folder().parent / "models.previous").exists()


def test_every_rename_and_delete_path_uses_the_same_rule(user_model):
    from genre_desktop.core.engine.models.registry import delete_user_model, rename_user_model

    for bad in ("../evil", "", "x.previous"):
        with pytest.raises(BundleError, match="model name"):
            rename_user_model("mine", bad)
        with pytest.raises(BundleError):
            delete_user_model(bad)
    bundle = load_bundle(user_model)
    save_bundle(user_models_folder() / "other", bundle.network, bundle.meta)
    with pytest.raises(BundleError, match="exists"):
        rename_user_model("mine", "other")
    assert versions()["mine"] == "1"


def test_wizard_name_check_is_the_same_rule(qtbot):
    from genre_desktop.gui.wizard.train_page import TrainPage

    page = TrainPage()
    qtbot.addWidget(page)
    for bad in ("../x", ".", "x.previous", "a\tb"):
        page.name_edit.setText(bad)
        assert not page.start_button.isEnabled() and "name" in page.name_note.text()
    page.name_edit.setText("My genres (2026)")
    assert page.start_button.isEnabled()


# ------------------------------------------------------------------ kills while training and saving
SAVE_SCRIPT = """
import sys
from genre_desktop.core.engine.models.bundle import load_bundle, save_bundle
bundle = load_bundle(sys.argv[1])
for i in range(int(sys.argv[3])):
    save_bundle(sys.argv[2], bundle.network, {**bundle.meta, "name": "mine", "version": sys.argv[4]})
"""
SAVE_POINTS = ["save:weights-written", "save:verified", "swap:before-journal", "swap:after-journal",
               "swap:old-backup-moved", "swap:current-moved", "swap:new-installed"]
TRAIN_POINTS = ["train:decoding", "train:fitting", "train:before-save"]


def check_after_kill(run_cli, expect_new_possible: bool) -> None:
    """After a kill and a restart: 'mine' loads, version 1 survives, no leftovers."""
    proc = run_cli("models", "--json")  # any start of the app finishes a half-done swap
    no_traceback(proc)
    assert proc.returncode == 0
    found = versions()
    assert "mine" in found, found
    load_bundle(user_models_folder() / "mine")
    if found["mine"] == "1":
        assert found.get("mine.previous") == "0"
    else:
        assert expect_new_possible and found["mine.previous"] == "1", found
    assert not leftovers(user_models_folder())


@pytest.mark.parametrize("point", SAVE_POINTS)
def test_kill_while_saving_loses_nothing(point, user_model, tiny_model, run_cli):
    proc = subprocess.run([sys.executable, "-c", SAVE_SCRIPT, str(tiny_model), str(user_model), "1", "2"],
                          env={**os.environ, "GENRE_DESKTOP_FAULT": point}, capture_output=True, text=True)
    assert proc.returncode == -9, proc.stderr[-2000:]  # really killed at that point
    check_after_kill(run_cli, expect_new_possible=True)
    if point in ("swap:after-journal", "swap:old-backup-moved", "swap:current-moved", "swap:new-installed"):
        assert versions()["mine"] == "2"  # the journal was written: the save is finished


@pytest.mark.parametrize("point", TRAIN_POINTS)
def test_kill_while_training_loses_nothing(point, user_model, tiny_library, tiny_model, run_cli, run_cli_process):
    proc = run_cli_process("train", tiny_library, "--name", "mine", "--base", tiny_model,
                           env={"GENRE_DESKTOP_FAULT": point})
    assert proc.returncode == -9, proc.stderr[-2000:]
    check_after_kill(run_cli, expect_new_possible=False)
    assert versions()["mine"] == "1"


def test_concurrent_saves_of_one_name_take_turns(user_model, tiny_model):
    procs = [subprocess.Popen([sys.executable, "-c", SAVE_SCRIPT, str(tiny_model), str(user_model), "3", v],
                              stderr=subprocess.PIPE, text=True) for v in ("A", "B")]
    errors = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    found = versions()
    assert found["mine"] in ("A", "B") and found["mine.previous"] in ("A", "B")
    assert not leftovers(user_models_folder())


def test_backup_is_listed_and_restorable(user_model, run_cli):
    proc = run_cli("models", "--json")
    rows = {r["name"]: r for r in map(json.loads, proc.stdout.splitlines())}
    assert rows["mine.previous"]["backup_of"] == "mine"
    proc = run_cli("models", "restore", "mine")
    no_traceback(proc)
    assert proc.returncode == 0
    assert versions() == {"mine": "0", "mine.previous": "1"}
    assert load_bundle(resolve_model("mine")).meta["version"] == "0"


# ------------------------------------------------------------------ full disk
def test_full_disk_at_save_keeps_the_old_model(user_model, tiny_model, monkeypatch):
    import safetensors.torch

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(safetensors.torch, "save_file", full)
    bundle = load_bundle(tiny_model)
    with pytest.raises(OSError):
        save_bundle(user_model, bundle.network, {**bundle.meta, "version": "9"})
    assert versions() == {"mine": "1", "mine.previous": "0"}
    assert not leftovers(user_models_folder())


def test_full_disk_during_cli_train_is_one_line(user_model, tiny_library, tiny_model, monkeypatch, run_cli):
    import safetensors.torch

    monkeypatch.setattr(safetensors.torch, "save_file",
                        lambda *a, **k: (_ for _ in ()).throw(OSError(errno.ENOSPC, "No space left on device")))
    proc = run_cli("train", tiny_library, "--name", "mine", "--base", tiny_model)
    assert proc.returncode == 1 and "error: No space left on device" in proc.stderr and "Traceback" not in proc.stderr
    assert versions()["mine"] == "1"


def test_full_disk_for_the_cache_still_trains(tiny_library, tiny_model, monkeypatch):
    from genre_desktop.core.training import feature_cache
    from genre_desktop.core.training.train_on_library import train_on_library
    from genre_desktop.core.training.labelled_folders import scan_labelled_folders

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(feature_cache.np, "save", full)
    outcome = train_on_library(scan_labelled_folders(tiny_library), "cacheless", base_model=str(tiny_model))
    assert sorted(load_bundle(outcome.path).labels) == ["bass", "noise", "treble"]
    assert not list((Path(os.environ["GENRE_DESKTOP_DATA"]) / "cache" / "features").glob("*.tmp"))


# ------------------------------------------------------------------ hostile model folders
def _deep(meta):
    return "[" * 200000 + "]" * 200000


HOSTILE_META = {
    "deeply nested": (None, "nested too deeply"),
    "not json": ("{not json", "not valid JSON"),
    "binary": (b"\x00\xff\xfe" * 100, "not valid JSON"),
    "a list": ("[1, 2]", "must hold an object"),
    "n_mels 128": (lambda m: m["features"].update(n_mels=128), "takes 96 mel bands"),
    "tags 5": (lambda m: m.update(tags=5), "tags must be"),
    "thresholds abc": (lambda m: m.update(thresholds="abc"), "thresholds must be"),
    "threshold NaN": (lambda m: m.update(thresholds={"min_confidence": float("nan")}), "must be a number"),
    "freq_stride 0": (lambda m: m.update(architecture={"name": "musicnn_genre", "params": {"freq_stride": 0}}),
                      "bad architecture"),
    "metrics a list": (lambda m: m.update(metrics=[1, 2]), "metrics must be"),
    "provenance a string": (lambda m: m.update(provenance="x"), "provenance must be"),
    "label with a new line": (lambda m: m.update(labels=["bass\nx", "treble", "noise"]), "labels must be"),
    "huge n_fft": (lambda m: m["features"].update(n_fft=10 ** 9), "outside"),
    "unknown params": (lambda m: m["architecture"]["params"].update(evil=1), "bad architecture"),
}


def make_broken(tiny_model, folder: Path, spec) -> Path:
    shutil.copytree(tiny_model, folder)
    meta_path = folder / "model.json"
    if spec is None:
        meta_path.write_text(_deep(None))
    elif isinstance(spec, bytes):
        meta_path.write_bytes(spec)
    elif isinstance(spec, str):
        meta_path.write_text(spec)
    else:
        meta = json.loads(meta_path.read_text())
        spec(meta)
        meta_path.write_text(json.dumps(meta))
    return folder


@pytest.mark.parametrize("case", sorted(HOSTILE_META))
def test_hostile_model_json_is_listed_as_broken(case, tiny_model, tmp_path, run_cli):
    spec, reason = HOSTILE_META[case]
    make_broken(tiny_model, user_models_folder() / "broken", spec)
    entries = {e.name: e for e in list_models(include_broken=True)}
    assert reason in entries["broken"].error, entries["broken"].error
    assert "broken" not in {e.name for e in list_models()}
    track = write(tmp_path / "t.wav", synth("bass", 3.0), 16000)
    run_cli("classify", "--model", tiny_model, track, check_rc=0)  # the app still works
    assert "is broken" in run_cli("classify", "--model", "broken", track, check_rc=2).stderr
    assert "BROKEN" in run_cli("models", check_rc=0).stdout


def test_nan_weights_are_refused(tiny_model, tmp_path):
    from safetensors.torch import load_file, save_file

    folder = make_broken(tiny_model, tmp_path / "nan", lambda m: None)
    state = load_file(str(folder / "weights.safetensors"))
    state["head.weight"][0, 0] = float("nan")
    save_file(state, str(folder / "weights.safetensors"))
    with pytest.raises(BundleError, match="NaN"):
        load_bundle(folder)
    model = load_bundle(tiny_model).network
    with pytest.raises(BundleError, match="NaN"):  # and never saved
        model.head.weight.data[0, 0] = float("nan")
        save_bundle(tmp_path / "never", model, read_meta(tiny_model))
    assert not (tmp_path / "never").exists()


def test_model_json_that_is_a_folder_or_unreadable(tiny_model):
    folder = user_models_folder() / "odd"
    folder.mkdir(parents=True)
    (folder / "model.json").mkdir()
    (user_models_folder() / "stray file.txt").write_text("hello")
    entries = {e.name: e for e in list_models(include_broken=True)}
    assert "not a model bundle" in entries["odd"].error
    assert "stray file.txt" not in entries


def test_gui_falls_back_from_a_broken_remembered_model(qtbot, tiny_model):
    from genre_desktop.gui.main_window import MainWindow
    from genre_desktop.gui.settings import app_settings

    broken = make_broken(tiny_model, user_models_folder() / "broken", lambda m: m["features"].update(n_mels=128))
    settings = app_settings()
    settings.set("model/name", str(broken))
    window = MainWindow(settings)
    qtbot.addWidget(window)
    try:
        default = resolve_model(None)
    except BundleError:
        pytest.skip("no bundled model to fall back to")
    with qtbot.waitSignal(window.model_ready, timeout=60000) as blocker:
        window.start()
    assert blocker.args[0].path.resolve() == default.resolve()
    assert "could not be loaded" in window.model_menu.notice
    broken_actions = [a for a in window.model_menu.menu.actions() if "(broken)" in a.text()]
    assert broken_actions and not broken_actions[0].isEnabled()
    window.close()


def test_manage_dialog_lists_broken_models_and_backups(qtbot, user_model, tiny_model):
    from genre_desktop.gui.manage_models import ManageModelsDialog

    make_broken(tiny_model, user_models_folder() / "broken", "{")
    dialog = ManageModelsDialog()
    qtbot.addWidget(dialog)
    texts = [dialog.list.item(i).text() for i in range(dialog.list.count())]
    assert any("broken: model.json is not valid JSON" in t for t in texts)
    assert any("mine (backup)" in t and "backup of \u201cmine\u201d" in t for t in texts)
    for i in range(dialog.list.count()):
        if "backup of" in dialog.list.item(i).text():
            dialog.list.setCurrentRow(i)
    assert dialog.restore_button.isEnabled()
    dialog.restore()
    assert versions()["mine"] == "0"


# ------------------------------------------------------------------ hostile cache entries
def _cache_entry(tmp_path, tiny_model):
    from genre_desktop.core.training.feature_cache import FeatureCache

    cfg = load_bundle(tiny_model).features
    track = write(tmp_path / "t.wav", synth("bass", 3.0), 16000)
    cache = FeatureCache(tmp_path / "cache")
    good = cache.get(track, cfg)
    (entry,) = (tmp_path / "cache").glob("*.npy")
    return cache, cfg, track, good, entry


@pytest.mark.parametrize("damage", ["empty", "garbage", "wrong shape", "pickled object", "nan", "1-d"])
def test_bad_cache_entries_are_dropped_and_recomputed(damage, tmp_path, tiny_model):
    cache, cfg, track, good, entry = _cache_entry(tmp_path, tiny_model)
    if damage == "empty":
        entry.write_bytes(b"")
    elif damage == "garbage":
        entry.write_bytes(os.urandom(300))
    elif damage == "wrong shape":
        np.save(entry, np.zeros((7, 3), np.float16))
    elif damage == "pickled object":
        np.save(entry, np.array([{"x": 1}], dtype=object), allow_pickle=True)
    elif damage == "nan":
        np.save(entry, np.full(good.shape, np.nan, np.float16))
    else:
        np.save(entry, np.zeros(10, np.float16))
    again = cache.get(track, cfg)
    assert again.shape == good.shape and np.allclose(again, good, atol=1e-2)
    assert np.load(entry).shape == good.shape  # replaced by a good entry


def test_stale_tmp_files_are_swept(tmp_path):
    from genre_desktop.core.training.feature_cache import FeatureCache

    folder = tmp_path / "cache"
    folder.mkdir()
    old, fresh = folder / "a.tmp", folder / "b.tmp"
    old.write_bytes(b"x")
    fresh.write_bytes(b"x")
    os.utime(old, (0, 0))
    FeatureCache(folder)
    assert not old.exists() and fresh.exists()


def test_leftovers_of_a_dead_writer_are_cleaned(user_model):
    models = user_models_folder()
    (models / ".mine.abc123.partial").mkdir()
    (models / ".mine.abc123.partial" / "weights.safetensors").write_bytes(b"half")
    (models / ".gone.trash").mkdir()
    assert {e.name for e in list_models()} >= {"mine"}
    assert not leftovers(models)


def test_hostile_journal_cannot_move_other_folders(user_model):
    models = user_models_folder()
    (models / ".mine.swap").write_text(json.dumps({"new": "../../victim", "dest": "mine"}))
    victim = models.parent / "victim"
    victim.mkdir()
    list_models()
    assert victim.is_dir() and versions()["mine"] == "1"
    assert not leftovers(models)


# ------------------------------------------------------------------ hostile audio
@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_audio_is_refused_per_file(value, tiny_model, tmp_path, run_cli):
    audio = synth("bass", 4.0)
    audio[1000:1010] = value
    bad = write(tmp_path / "bad.wav", audio, 16000, subtype="FLOAT")
    good = write(tmp_path / "good.wav", synth("treble", 4.0), 16000)
    proc = run_cli("classify", "--json", "--model", tiny_model, bad, good)
    out = proc.stdout
    rows = [json.loads(line) for line in out.splitlines()]  # valid JSON: no NaN
    assert proc.returncode == 1 and "NaN or infinite" in rows[0]["error"] and rows[1]["genre"] == "treble"
    assert "NaN" not in out.replace("NaN or infinite", "")


def test_nan_files_in_training_are_skipped(tiny_library, tiny_model, tmp_path):
    from genre_desktop.core.training.labelled_folders import scan_labelled_folders
    from genre_desktop.core.training.train_on_library import train_on_library

    lib = tmp_path / "lib"
    shutil.copytree(tiny_library, lib)
    for i in range(2):
        audio = synth("bass", 4.0, seed=50 + i)
        audio[::100] = np.nan
        write(lib / "bass" / f"nan_{i}.wav", audio, 16000, subtype="FLOAT")
    scan = scan_labelled_folders(lib)
    outcome = train_on_library(scan, "finite", base_model=str(tiny_model))
    assert {p.name for p, _ in outcome.skipped} | {p.name for p, _ in scan.unreadable} >= {"nan_0.wav", "nan_1.wav"}
    bundle = load_bundle(outcome.path)  # finite weights, or it would not load
    assert 0.0 <= outcome.report.accuracy <= 1.0 and sorted(bundle.labels) == ["bass", "noise", "treble"]


def test_non_utf8_names_classify_and_train(tiny_model, tmp_path, run_cli):
    from genre_desktop.core.training.labelled_folders import scan_labelled_folders
    from genre_desktop.core.training.train_on_library import train_on_library

    root = os.fsencode(tmp_path / "lib")
    for genre, kind in ((b"r\xe9gg\xe6", "bass"), (b"treble", "treble")):
        os.makedirs(os.path.join(root, genre))
        for i in range(3):
            sf.write(os.path.join(root, genre, b"caf\xe9 %d.wav" % i), synth(kind, 3.0, seed=i), 16000)
    files = sorted((tmp_path / "lib").rglob("*.wav"))
    proc = run_cli("classify", "--model", tiny_model, *files)
    assert proc.returncode == 0 and len(proc.stdout.strip().splitlines()) == 6
    scan = scan_labelled_folders(tmp_path / "lib")
    assert len(scan.tracks) == 6 and "r\ufffdgg\ufffd" in scan.genres
    train_on_library(scan, "latin1", base_model=str(tiny_model))
    assert "r\ufffdgg\ufffd" in load_bundle(user_models_folder() / "latin1").labels


def test_labels_with_control_characters_are_cleaned(tmp_path):
    from genre_desktop.core.training.labelled_folders import scan_labelled_folders

    for seed, genre in enumerate(("rock\nroll", "jazz\t")):
        write(tmp_path / genre / "a.wav", synth("bass", 3.0, seed=seed), 16000)
    assert scan_labelled_folders(tmp_path).genres == ["jazz", "rock roll"]


# ------------------------------------------------------------------ files that change under training
@pytest.mark.parametrize("change", ["vanishes", "becomes garbage"])
def test_file_changing_after_the_scan_is_skipped(change, tiny_library, tiny_model, tmp_path):
    from genre_desktop.core.training.labelled_folders import scan_labelled_folders
    from genre_desktop.core.training.train_on_library import train_on_library

    lib = tmp_path / "lib"
    shutil.copytree(tiny_library, lib)
    scan = scan_labelled_folders(lib)
    victim = lib / "bass" / "bass_0.ogg"
    if change == "vanishes":
        victim.unlink()
    else:
        victim.write_bytes(b"garbage" * 50)
    outcome = train_on_library(scan, "changed", base_model=str(tiny_model))
    assert [p.name for p, _ in outcome.skipped] == ["bass_0.ogg"]
    assert sorted(load_bundle(outcome.path).labels) == ["bass", "noise", "treble"]


def test_long_tracks_go_through_the_network_in_batches(tiny_model):
    from genre_desktop.core.training import train_on_library as training
    from genre_desktop.core.engine.network.model import SLICE_BATCH

    bundle = load_bundle(tiny_model)
    sizes = []
    original = bundle.network.features
    bundle.network.features = lambda x: (sizes.append(len(x)), original(x))[1]
    mel = np.zeros((bundle.features.n_mels, bundle.features.slice_frames * 300), np.float32)
    out = training.slice_embeddings(bundle.network, mel, bundle.features.slice_frames)
    assert len(out) == 300 and max(sizes) <= SLICE_BATCH


# ------------------------------------------------------------------ CLI messages
def test_cli_missing_and_empty_folders(tmp_path, tiny_model, run_cli):
    (tmp_path / "empty").mkdir()
    cases = [["train", str(tmp_path / "nope"), "--name", "x"], ["evaluate", str(tmp_path / "nope")],
             ["evaluate", str(tmp_path / "empty"), "--model", str(tiny_model)],
             ["train", str(tmp_path / "empty"), "--name", "x", "--base", str(tiny_model)]]
    for args in cases:
        err = run_cli(*args, check_rc=2).stderr
        assert err.startswith("error: ") and len(err.strip().splitlines()) == 1, err


def test_unwritable_data_folder_fails_before_training(tiny_library, tiny_model, tmp_path, monkeypatch, run_cli):
    blocker = tmp_path / "a file, not a folder"
    blocker.write_text("x")
    monkeypatch.setenv("GENRE_DESKTOP_DATA", str(blocker))
    calls = []
    from genre_desktop.core.training import train_on_library as training

    monkeypatch.setattr(training, "load_bundle", lambda *a: calls.append(a))
    proc = run_cli("train", tiny_library, "--name", "x", "--base", tiny_model)
    assert proc.returncode == 1 and "cannot write to the models folder" in proc.stderr and not calls


def test_tiny_gtzan_named_library_keeps_most_tracks_for_training(tmp_path, tiny_model):
    from genre_desktop.core.training.labelled_folders import scan_labelled_folders
    from genre_desktop.core.training.train_on_library import train_on_library

    for g, genre in enumerate(("bass", "treble", "noise")):
        for i in range(6):
            write(tmp_path / genre / f"{genre}.{i:05d}.wav", synth(genre, 3.0, seed=10 * g + i), 16000)
    outcome = train_on_library(scan_labelled_folders(tmp_path), "tiny-lib", base_model=str(tiny_model))
    meta = read_meta(outcome.path)["metrics"]
    assert meta["train_tracks"] > meta["validation_tracks"] >= 1


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root to drop to 'nobody'")
def test_permission_denied_is_said_plainly(tiny_model, tmp_path_factory, run_cli_process):
    """As another user (root reads everything): an unreadable file and folder get clear messages."""
    import tempfile

    tmp_path = Path(tempfile.mkdtemp(prefix="genre-perm-"))  # outside pytest's 0700 folders
    try:
        _permission_case(tiny_model, tmp_path, run_cli_process)
    finally:
        for p in tmp_path.rglob("*"):
            p.chmod(0o755)
        shutil.rmtree(tmp_path, ignore_errors=True)


def _permission_case(tiny_model, tmp_path, run_cli_process):
    base = tmp_path / "perm"
    base.mkdir()
    readable = write(base / "ok.wav", synth("bass", 3.0), 16000)
    secret = write(base / "secret.wav", synth("bass", 3.0), 16000)
    locked = base / "locked"
    write(locked / "inside.wav", synth("bass", 3.0), 16000)
    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    secret.chmod(0o000)
    locked.chmod(0o000)
    for p in [tmp_path, base, readable, model, *model.iterdir()]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    home = tmp_path / "home"
    home.mkdir(mode=0o777)
    home.chmod(0o777)
    proc = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",  # another user
                           *run_cli_process.command("classify", "--json", "--model", model, base)],
                          capture_output=True, text=True,
                          env={**os.environ, "GENRE_DESKTOP_DATA": str(home), "HOME": str(home)})
    if "Permission denied" in proc.stderr and "python" in proc.stderr.lower() and not proc.stdout:
        pytest.skip(f"'nobody' cannot run this interpreter: {proc.stderr.strip()[:200]}")
    no_traceback(proc)
    rows = {Path(r["path"]).name: r for r in map(json.loads, proc.stdout.splitlines())}
    assert rows["ok.wav"]["genre"] == "bass"
    assert "permission denied" in rows["secret.wav"]["error"]
    assert "permission denied" in rows["locked"]["error"]


def test_window_starts_with_a_hostile_models_folder(qtbot, tiny_model):
    """A 200k-bracket model.json once aborted the window at start; now it is a broken entry."""
    from genre_desktop.gui.main_window import MainWindow
    from genre_desktop.gui.settings import app_settings

    make_broken(tiny_model, user_models_folder() / "deep", None)
    (user_models_folder() / ".deep.x1.partial").mkdir()  # and a dead writer's leftover
    window = MainWindow(app_settings())
    qtbot.addWidget(window)
    labels = [a.text() for a in window.model_menu.menu.actions()]
    assert "deep  (broken)" in labels
    assert not leftovers(user_models_folder())
    window.close()
