"""One rule each: the suffixes the model store reserves (safe_files names them once, the
model-name rule refuses them), control characters (the same rule for a model's name and
for the labels in its model.json), and genre names (aliases, keys) in their own module."""
from __future__ import annotations

import json

import pytest

from genre_desktop.core import safe_files
from genre_desktop.core.engine.models import names
from genre_desktop.core.engine.models.bundle_meta import validate_meta
from genre_desktop.core.engine.models.genre_names import clean_label, genre_key, match_label
from genre_desktop.core.errors import BundleError


def test_reserved_suffixes_are_the_store_s_own(tmp_path):
    assert names.RESERVED_SUFFIXES is safe_files.RESERVED_SUFFIXES
    for suffix in (safe_files.BACKUP_SUFFIX, safe_files.PARTIAL_SUFFIX, safe_files.TRASH_SUFFIX,
                   safe_files.JOURNAL_SUFFIX, safe_files.LOCK_SUFFIX, safe_files.TMP_SUFFIX):
        with pytest.raises(names.InvalidName, match=f"cannot end in '\\{suffix}'"):
            names.validate_model_name(f"jazz{suffix.upper()}")
    # the temporary files atomic writes leave behind carry one of them
    safe_files.atomic_write_text(tmp_path / "a.json", "{}")
    assert names.validate_model_name("jazz.tmpish") == "jazz.tmpish"


@pytest.mark.parametrize("ch", ["\n", "\x85", "\u200b", "\udc80", "\ue000"])
def test_one_control_rule_for_names_and_labels(bundled_model_path, ch):
    assert names.has_control(f"a{ch}b")
    with pytest.raises(names.InvalidName, match="control characters"):
        names.validate_model_name(f"ja{ch}zz")
    meta = json.loads((bundled_model_path / "model.json").read_text())
    meta["labels"][0] = f"blues{ch}"
    with pytest.raises(BundleError, match="control characters"):
        validate_meta(meta)
    assert not names.has_control(clean_label(f"blues{ch}x"))


def test_genre_names_match_spellings_and_aliases():
    assert genre_key("Hip-Hop") == genre_key("hip hop") == "hiphop"
    assert match_label("Electronica", ["electronic", "rock"]) == "electronic"
    assert match_label("Rock 'n' Roll", ["electronic", "rock"]) == "rock"
    assert match_label("polka", ["electronic", "rock"]) is None
