"""Typed open-set and calibration fields of ``model.json``: the bundled model's file is
written byte for byte as it is, older user bundles' entries still load, and the one schema
check refuses what the typed fields cannot hold."""
from __future__ import annotations

import json
import shutil

import pytest

from genre_desktop.core.engine.models.bundle import load_bundle, read_meta
from genre_desktop.core.engine.models.bundle_meta import (OPENSET_LENGTHS, BundleMeta, Calibration,
                                                          OpenSetThresholds)
from genre_desktop.core.errors import BundleError


def test_bundled_model_json_round_trips_byte_for_byte(bundled_model_path):
    raw = (bundled_model_path / "model.json").read_text(encoding="utf-8")
    meta = BundleMeta.from_dict(json.loads(raw))
    assert isinstance(meta.openset, OpenSetThresholds) and isinstance(meta.calibration, Calibration)
    assert "openset" not in meta.extra and "calibration" not in meta.extra
    assert json.dumps(meta.to_dict(), indent=2) == raw


def test_typed_fields_are_what_the_app_reads(bundled_model_path):
    meta = BundleMeta.from_dict(read_meta(bundled_model_path))
    bundle = load_bundle(bundled_model_path, network=False)
    assert bundle.openset.unknown_thresholds == meta.openset.unknown
    assert bundle.openset.not_music_thresholds == meta.openset.not_music
    assert bundle.openset.steady_threshold == meta.openset.steady
    assert bundle.calibration == meta.calibration and bundle.temperature == meta.calibration.temperature
    assert set(meta.calibration.by_length) == {1, 2, 5, 48}
    # what the open set writes is what it was loaded from
    def thresholds(entry: dict) -> dict:
        return {k: v for k, v in entry.items() if k != "rule"}  # the rule names the quantile it was fitted at

    assert thresholds(bundle.openset.meta()) == thresholds(meta.openset.to_dict())


def test_an_older_user_bundle_still_loads(bundled_model_path, tmp_path):
    """A user model written before the typed fields: calibration with its figures in the
    order training wrote them, an open set without the "not music" test, a field this
    version does not know."""
    dest = tmp_path / "older"
    shutil.copytree(bundled_model_path, dest)
    meta = json.loads((dest / "model.json").read_text())
    meta["calibration"] = {"temperature": 1.0, "ece_before": 0.0, "ece_after": 0.0, "tracks": 0}
    meta["openset"] = {**{f"unknown_threshold_{n}": 10.0 + n for n in OPENSET_LENGTHS}, "rule": "older rule",
                       "some_future_figure": 3}
    meta["a_future_field"] = {"x": 1}
    (dest / "model.json").write_text(json.dumps(meta))
    typed = BundleMeta.from_dict(read_meta(dest))
    assert typed.calibration.figures == {"ece_before": 0.0, "ece_after": 0.0, "tracks": 0}
    assert typed.openset.not_music == {} and typed.openset.other == {"some_future_figure": 3}
    out = typed.to_dict()
    assert out["calibration"] == meta["calibration"] and list(out["calibration"]) == list(meta["calibration"])
    assert out["openset"] == meta["openset"] and out["a_future_field"] == {"x": 1}
    # its statistics have the "not music" test, its thresholds not: refused, as before
    with pytest.raises(BundleError, match="do not match"):
        load_bundle(dest, network=False)


@pytest.mark.parametrize("entry, words", [
    ({"unknown_threshold_1": 5.0}, "unknown_threshold_N"),  # lengths missing
    ({**{f"unknown_threshold_{n}": 5.0 for n in OPENSET_LENGTHS}, "not_music_threshold_1": 2.0},
     "unknown_threshold_N"),
    ({**{f"unknown_threshold_{n}": 5.0 for n in OPENSET_LENGTHS}, "rule": 7}, "rule must be text"),
    ([1, 2], "must be an object"),
])
def test_the_schema_check_refuses_a_bad_openset_entry(entry, words):
    with pytest.raises(BundleError, match=words):
        OpenSetThresholds.from_dict(entry)


@pytest.mark.parametrize("entry, words", [
    ({"temperature_slices_5": 0.0}, "temperature_slices_5"),
    ({"temperature": True}, "must be a number"),
    ({"ece_after": "low"}, "must be a number"),
])
def test_the_schema_check_refuses_a_bad_calibration_entry(entry, words):
    with pytest.raises(BundleError, match=words):
        Calibration.from_dict(entry)
