"""The desktop menu entry: valid for freedesktop tools, opens this installation, has icons."""
import shutil
import subprocess

import pytest

from genre_desktop.core.desktop_entry import PNG_SIZES, desktop_entry, install


def test_install_writes_a_valid_entry_and_icons(tmp_path, run_cli):
    run_cli("desktop-install", "--data-home", tmp_path, check_rc=0)
    entry = tmp_path / "applications" / "genre-desktop.desktop"
    text = entry.read_text()
    program = next(line for line in text.splitlines() if line.startswith("Exec=")).split("=", 1)[1]
    assert program.endswith(" %F") and "audio/flac" in text and "audio/mpeg" in text
    assert (tmp_path / "icons/hicolor/scalable/apps/genre-desktop.svg").is_file()
    for n in PNG_SIZES:
        assert (tmp_path / f"icons/hicolor/{n}x{n}/apps/genre-desktop.png").stat().st_size > 100
    if not shutil.which("desktop-file-validate"):
        pytest.skip("desktop-file-validate is not installed (./run.sh installs desktop-file-utils)")
    check = subprocess.run(["desktop-file-validate", str(entry)], capture_output=True, text=True)
    assert check.returncode == 0 and not check.stdout.strip(), check.stdout


def test_a_launcher_path_with_spaces_is_quoted():
    text = desktop_entry('/home/me/My Apps/genre-desktop')
    assert 'Exec="/home/me/My Apps/genre-desktop" %F' in text


def test_install_twice_is_harmless(tmp_path):
    first = install(tmp_path, program="/opt/gd/genre-desktop")
    second = install(tmp_path, program="/opt/gd/genre-desktop")
    assert first == second and all(p.is_file() for p in second)
