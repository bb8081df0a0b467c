"""Shared fixtures: synthesised audio, a tiny model the suite trains itself, isolation."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import contextlib
import io
import logging
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
#: the read-only data beside the repository (``../shared``): real music and published weights;
#: tests reach it through the ``shared_data`` / ``shared_models`` fixtures, which skip when absent
SHARED = ROOT.parent / "shared"
SHARED_DATA = SHARED / "data"
#: the command line as a real program (``run_cli_process``)
CLI_COMMAND = (sys.executable, "-m", "genre_desktop.cli")
CLI_TIMEOUT = 600  # seconds; only a hang (the bug) comes near it
SR = 16000
TINY_LABELS = ["bass", "treble", "noise"]


def synth(kind: str, seconds: float, sr: int = SR, seed: int = 0) -> np.ndarray:
    """Music-like test signals that a tiny CNN can tell apart.

    ``bass``: low harmonic tones with a pulse; ``treble``: high tones; ``noise``: hiss bursts.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    if kind == "noise":
        env = (np.sin(2 * np.pi * 2 * t) > 0).astype(np.float32) * 0.8 + 0.2
        return (0.2 * env * rng.standard_normal(t.size)).astype(np.float32)
    f0 = (80.0 if kind == "bass" else 1800.0) * (1 + 0.05 * rng.standard_normal())
    tone = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 4))
    pulse = 0.6 + 0.4 * (np.sin(2 * np.pi * 2 * t) > 0)
    return (0.25 * tone * pulse + 0.005 * rng.standard_normal(t.size)).astype(np.float32)


def write(path: Path, audio: np.ndarray, sr: int = SR, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), audio, sr, **kwargs)
    return path


def tagged_flac(path: Path, artist: str, album: str, seed: int = 0, genre=None, albumartist=None) -> Path:
    """A real 2-s FLAC file (soundfile) with Vorbis artist/album/title (and genre, album
    artist) tags written by mutagen."""
    from mutagen.flac import FLAC

    write(path, synth("bass", 2.0, seed=seed))
    audio = FLAC(path)
    audio["artist"], audio["album"], audio["title"] = artist, album, path.stem
    if genre:
        audio["genre"] = genre
    if albumartist:
        audio["albumartist"] = albumartist
    audio.save()
    return path


@pytest.fixture(scope="session")
def bundled_classifier(bundled_model_path):
    """The bundled model's classifier (torch), loaded once for the whole session: tests read
    it, never change it (``copy.copy`` it and its bundle to try other settings)."""
    from genre_desktop.core.engine.classify.classifier import Classifier
    from genre_desktop.core.engine.models.bundle import load_bundle

    return Classifier(load_bundle(bundled_model_path))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (real music: gtzan/, emotify/ ...); the test skips, saying so, when absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real music not found at {SHARED_DATA} (the shared data beside the repository)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def shared_models() -> Path:
    """``../shared/models`` (published weights); the test skips, saying so, when absent."""
    folder = SHARED / "models"
    if not folder.is_dir():
        pytest.skip(f"published weights not found at {folder} (the shared data beside the repository)")
    return folder


@dataclass
class CliResult:
    """One in-process run of the command line: the exit status and what it printed."""

    returncode: int
    stdout: str
    stderr: str


class _Captured(io.TextIOWrapper):
    """A text stream like the terminal's (UTF-8, ``reconfigure`` works) that keeps what is written."""

    def __init__(self):
        super().__init__(io.BytesIO(), encoding="utf-8", newline="", write_through=True)

    def getvalue(self) -> str:
        return self.buffer.getvalue().decode("utf-8", "backslashreplace")


def cli_in_process(*args, check_rc: int | None = None) -> CliResult:
    """``genre_desktop.cli.program.main(args)`` with stdout and stderr captured (see ``run_cli``)."""
    from genre_desktop.cli.program import main

    environ = dict(os.environ)  # main sets the thread policy in the environment
    out, err = _Captured(), _Captured()
    # what the program's logging.basicConfig would print (pytest's own handlers make it a no-op here)
    logged = logging.StreamHandler(err)
    logged.setLevel(logging.INFO if {"-v", "--verbose"} & set(map(str, args)) else logging.WARNING)
    logged.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(logged)
    root.setLevel(min(level, logged.level))
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main([str(a) for a in args])
            except SystemExit as exc:  # argparse: --help (0), a bad option (2)
                code = exc.code if isinstance(exc.code, int) else 2
    finally:
        root.removeHandler(logged)
        root.setLevel(level)
        os.environ.clear()
        os.environ.update(environ)
    result = CliResult(code, out.getvalue(), err.getvalue())
    if check_rc is not None:
        assert code == check_rc, f"exit {code}, stderr:\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="session")
def run_cli():
    """The command line in this process (``genre_desktop.cli.program.main``), the way a
    person runs it: ``run_cli("classify", path, check_rc=0)`` returns a :class:`CliResult`
    (``returncode``, ``stdout``, ``stderr``); ``check_rc`` asserts the exit status.

    Use ``run_cli_process`` only where a real process is the point (kills, a lock held by
    another process, SIGPIPE, the C-level stderr filter, fault points that SIGKILL)."""
    return cli_in_process


#: a program that runs the command line, then fails (exit 97) if it imported a module named
#: before ``--`` (``run_cli_process(..., forbid_imports=("torch",))``)
_FORBIDDING = """
import sys
from genre_desktop.cli.program import main
end = sys.argv.index("--")
code = main(sys.argv[end + 1:])
sys.stdout.flush()
imported = [name for name in sys.argv[1:end] if name in sys.modules]
if imported:
    print(f"imported {imported}", file=sys.stderr)
sys.exit(97 if imported else code)
"""


class CliProcess:
    """The command line as a real program (``python -m genre_desktop.cli``), for the tests
    that need one: ``run_cli_process("classify", path, check_rc=0, env={...})`` returns a
    ``subprocess.CompletedProcess``; ``run_cli_process.popen(*args, **kwargs)`` starts one
    (to kill, to pipe into ``head``). The environment is this test's (its user data folder)
    plus ``env``; a run that blocks is killed after ``timeout`` seconds and the test fails.
    ``forbid_imports``: the run fails (exit 97) if the program imported any of these modules."""

    @staticmethod
    def command(*args, forbid_imports: tuple[str, ...] = ()) -> list[str]:
        if forbid_imports:
            return [sys.executable, "-c", _FORBIDDING, *forbid_imports, "--", *map(str, args)]
        return [*CLI_COMMAND, *map(str, args)]

    def __call__(self, *args, check_rc: int | None = None, env: dict | None = None,
                 timeout: float = CLI_TIMEOUT, forbid_imports: tuple[str, ...] = (),
                 **kwargs) -> subprocess.CompletedProcess:
        proc = subprocess.run(self.command(*args, forbid_imports=forbid_imports), capture_output=True, text=True,
                              timeout=timeout, env={**os.environ, **(env or {})}, **kwargs)
        if check_rc is not None:
            assert proc.returncode == check_rc, f"exit {proc.returncode}, stderr:\n{proc.stderr[-3000:]}"
        return proc

    def popen(self, *args, env: dict | None = None, **kwargs) -> subprocess.Popen:
        return subprocess.Popen(self.command(*args), env={**os.environ, **(env or {})}, **kwargs)


@pytest.fixture(scope="session")
def run_cli_process() -> CliProcess:
    """The command line as a real program (:class:`CliProcess`)."""
    return CliProcess()


@pytest.fixture(autouse=True)
def _isolated_user_data(tmp_path_factory, monkeypatch):
    """Every test gets its own user data folder (models, caches, settings)."""
    monkeypatch.setenv("GENRE_DESKTOP_DATA", str(tmp_path_factory.mktemp("userdata")))


@pytest.fixture(scope="session")
def tiny_library(tmp_path_factory) -> Path:
    """A labelled library: 3 genres x 6 tracks of 6 s, as OGG files."""
    root = tmp_path_factory.mktemp("library")
    for g, genre in enumerate(TINY_LABELS):
        for i in range(6):
            write(root / genre / f"{genre}_{i}.ogg", synth(genre, 6.0, seed=10 * g + i))
    return root


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A small genre bundle trained by the suite itself on synthesised audio."""
    from genre_desktop.core.engine.models.bundle import BundleMeta, save_bundle
    from genre_desktop.core.engine.audio.features import FeatureConfig, log_mel
    from genre_desktop.core.training.fine_tune import FineTuneOptions, TrackData, evaluate_tracks, train_network

    cfg = FeatureConfig()
    tracks = [TrackData(log_mel(synth(genre, 8.0, seed=100 + 7 * i + g), cfg), g)
              for g, genre in enumerate(TINY_LABELS) for i in range(4)]
    options = FineTuneOptions(epochs=12, batch_size=12, channels=(8, 16, 16, 16), lr=1e-2, seed=0)
    model, _ = train_network(tracks, [], len(TINY_LABELS), 0, options)
    acc, _ = evaluate_tracks(model, tracks, cfg.slice_frames)
    assert acc == 1.0, "the tiny model must learn its synthetic genres"
    folder = tmp_path_factory.mktemp("models") / "tiny"
    meta = BundleMeta(name="tiny", version="0.0.1",
                      architecture={"name": "genre_cnn", "params": {"channels": [8, 16, 16, 16]}},
                      labels=TINY_LABELS, features=cfg,
                      thresholds={"min_confidence": 0.5, "min_agreement": 0.5},
                      provenance={"data": "synthesised by tests/conftest.py"},
                      metrics={"validation_track_accuracy": acc})
    return save_bundle(folder, model, meta)


@pytest.fixture(scope="session")
def tiny_classifier(tiny_model):
    from genre_desktop.core.engine.models.bundle import load_bundle
    from genre_desktop.core.engine.classify.classifier import Classifier

    return Classifier(load_bundle(tiny_model))


@pytest.fixture(scope="session")
def bundled_model_path() -> Path:
    from genre_desktop.core.errors import BundleError
    from genre_desktop.core.engine.models.registry import resolve_model

    try:
        return resolve_model(None)
    except BundleError as exc:
        pytest.skip(f"no bundled model: {exc}")


@pytest.fixture
def window(qtbot, tiny_model, monkeypatch):
    """The main window, shown offscreen, with the tiny model loaded (no other models listed)."""
    from genre_desktop.gui.main_window import MainWindow
    from genre_desktop.gui.settings import app_settings

    monkeypatch.setattr("genre_desktop.gui.model_menu.list_models", lambda **kwargs: [])
    w = MainWindow(app_settings())
    qtbot.addWidget(w)
    w.show()
    with qtbot.waitSignal(w.model_ready, timeout=20000):
        w.switch_model(str(tiny_model))
    yield w
    w.close()


def drop(widget, paths) -> None:
    """Real drag-enter and drop events of ``paths`` (as file URLs) on ``widget``."""
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    pos = QPointF(widget.width() / 2, widget.height() / 2)
    enter = QDragEnterEvent(pos, Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    widget.dragEnterEvent(enter)
    assert enter.isAccepted()
    event = QDropEvent(pos, Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    widget.dropEvent(event)


@pytest.fixture(scope="session")
def virtual_mic(tmp_path_factory):
    """A real PulseAudio null sink whose monitor is the default input ("microphone").

    Yields a function ``play(wav_path)`` that plays a file into it (returns the Popen).
    Skips, with the reason, only where PulseAudio cannot start.
    """
    import shutil
    import subprocess

    if not shutil.which("pulseaudio") or not shutil.which("pactl"):
        pytest.skip("PulseAudio is not installed (./run.sh installs pulseaudio and pulseaudio-utils)")
    started = False
    if subprocess.run(["pulseaudio", "--check"]).returncode != 0:
        proc = subprocess.run(["pulseaudio", "-D", "--exit-idle-time=-1", "--system=false"],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            pytest.skip(f"PulseAudio cannot start here: {proc.stderr.strip()[:200]}")
        started = True
    module = subprocess.run(["pactl", "load-module", "module-null-sink", "sink_name=genre_test_mic",
                             "rate=22050", "channels=1"], capture_output=True, text=True)
    if module.returncode != 0:
        pytest.skip(f"cannot create a PulseAudio null sink: {module.stderr.strip()[:200]}")
    previous = subprocess.run(["pactl", "get-default-source"], capture_output=True, text=True).stdout.strip()
    subprocess.run(["pactl", "set-default-source", "genre_test_mic.monitor"], check=True)
    import sounddevice as sd

    sd._terminate()  # let PortAudio see the devices PulseAudio now provides
    sd._initialize()

    def play(path):
        return subprocess.Popen(["paplay", "--device=genre_test_mic", str(path)])

    yield play
    if previous:
        subprocess.run(["pactl", "set-default-source", previous])
    subprocess.run(["pactl", "unload-module", module.stdout.strip()])
    if started:
        subprocess.run(["pulseaudio", "--kill"])
