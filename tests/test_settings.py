"""Settings are declared once (key, type, default) and live in the config folder."""
import pytest

from genre_desktop.core.paths import user_config_folder, user_data_folder
from genre_desktop.gui.settings import OPTIONS, app_settings


def test_defaults_types_and_unknown_keys():
    settings = app_settings()
    for key, option in OPTIONS.items():
        assert settings.get(key) == option.default
    settings.set("live/hop_seconds", 2)
    settings.set("live/record", True)
    settings.set("paths/recent", ["/a", "/b"])
    settings.sync()
    again = app_settings()
    assert again.get("live/hop_seconds") == 2.0 and again.get("live/record") is True
    assert again.get("paths/recent") == ["/a", "/b"]
    with pytest.raises(KeyError):
        settings.set("no/such/key", 1)
    assert (user_config_folder() / "settings.ini").is_file()


def test_a_hand_edited_wrong_type_reads_as_the_default():
    folder = user_config_folder()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "settings.ini").write_text("[live]\nhop_seconds=fast\nrecord=maybe\n")
    settings = app_settings()
    assert settings.get("live/hop_seconds") == 1.0
    assert settings.get("live/record") is False


def test_old_settings_in_the_data_folder_are_moved():
    user_data_folder().mkdir(parents=True, exist_ok=True)
    (user_data_folder() / "settings.ini").write_text("[live]\ndevice=USB mic\n")
    assert app_settings().get("live/device") == "USB mic"
    assert not (user_data_folder() / "settings.ini").exists()


def test_file_dialogs_open_in_a_folder_of_the_person_not_where_the_app_started(tmp_path, monkeypatch, qtbot):
    """Add folder… opens in the remembered folder, else Music or home, never the working
    directory (a new user's first click landed in the project checkout)."""
    from pathlib import Path

    from PySide6.QtCore import QSettings, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QFileDialog

    from genre_desktop.gui.library_view import LibraryView
    from genre_desktop.gui.settings import Settings

    monkeypatch.chdir(tmp_path)
    settings = Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat))
    assert settings.start_folder() != str(tmp_path) and Path(settings.start_folder()).is_dir()
    asked = []
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: asked.append(a[2]) or ""))
    view = LibraryView(settings, str(tmp_path / "library.sqlite3"))
    qtbot.addWidget(view)
    QTest.mouseClick(view.add_button, Qt.LeftButton)
    assert asked and asked[0] and Path(asked[0]).resolve() != tmp_path.resolve()
    (tmp_path / "Music").mkdir()
    settings.set("paths/last_folder", str(tmp_path / "Music"))
    assert settings.start_folder() == str(tmp_path / "Music")
    view.close()
