"""Settings are declared once (key, type, default) and live in the config folder."""
import pytest

from genre_desktop.core.engine.registry import user_config_folder, user_data_folder
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
