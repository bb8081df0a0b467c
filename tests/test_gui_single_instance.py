"""A second ``genre-desktop FILE`` hands its file to the running window and exits: two real
processes, offscreen, talking over the per-user local socket."""
from __future__ import annotations

import os
import subprocess
import sys
import time

from conftest import synth, write
from genre_desktop.core.paths import user_config_folder
from genre_desktop.gui.single_instance import hand_off, server_name


def test_a_second_launch_hands_its_files_to_the_first(qapp, tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    track = write(tmp_path / "handed_over.ogg", synth("bass", 3.0))
    first = subprocess.Popen([sys.executable, "-m", "genre_desktop.gui.app"], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        while not hand_off([], timeout_ms=200):  # until the first window listens
            assert first.poll() is None, first.stdout.read().decode(errors="replace")
            assert time.monotonic() < deadline, "the first window never listened"
            time.sleep(0.3)
        second = subprocess.run([sys.executable, "-m", "genre_desktop.gui.app", str(track)], env=env,
                                capture_output=True, text=True, timeout=180)
        assert second.returncode == 0, second.stderr
        settings = user_config_folder() / "settings.ini"
        while str(track) not in (settings.read_text(errors="replace") if settings.exists() else ""):
            assert first.poll() is None
            assert time.monotonic() < deadline, "the first window did not open the handed-over file"
            time.sleep(0.3)
        assert first.poll() is None  # still the one window
    finally:
        first.terminate()
        first.wait(30)


def test_the_server_name_is_per_user_and_config_folder(monkeypatch, tmp_path):
    name = server_name()
    assert name.startswith("genre-desktop-") and len(name) < 40
    monkeypatch.setenv("GENRE_DESKTOP_DATA", str(tmp_path / "elsewhere"))
    assert server_name() != name


def test_no_window_running_means_no_hand_off(qapp):
    assert hand_off(["/nowhere.ogg"], timeout_ms=100) is False
