import json
from pathlib import Path

import numpy as np
import pytest

from conftest import synth, write


def bad_inputs(tmp_path: Path) -> dict[str, Path]:
    """Every kind of bad input the CLI must survive, plus one good file."""
    d = tmp_path / "batch"
    d.mkdir()
    files = {
        "good": write(d / "good.flac", synth("treble", 6.0), 16000),
        "empty": d / "empty.mp3",
        "random": d / "random.mp3",
        "truncated": d / "truncated.mp3",
        "text": d / "notes.flac",
        "short": write(d / "short.wav", synth("bass", 0.3), 16000),
        "silence": write(d / "silence.wav", np.zeros(16000 * 60, np.float32), 16000),
        "surround": write(d / "surround.wav", np.tile(synth("noise", 3.0, sr=96000)[:, None], (1, 6)), 96000),
    }
    files["empty"].write_bytes(b"")
    files["random"].write_bytes(bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8)))
    mp3 = write(tmp_path / "full.mp3", synth("bass", 5.0, sr=44100), 44100, subtype="MPEG_LAYER_III")
    files["truncated"].write_bytes(mp3.read_bytes()[:1500])
    files["text"].write_text("not audio at all\n")
    (tmp_path / "no_audio").mkdir()
    (tmp_path / "no_audio" / "readme.txt").write_text("hi")
    return files


def test_classify_batch_survives_bad_input(tiny_model, tmp_path, run_cli):
    files = bad_inputs(tmp_path)
    proc = run_cli("classify", "--json", "--model", tiny_model, *files.values(),
                   tmp_path / "no_audio", tmp_path / "does_not_exist.ogg")
    assert proc.returncode == 1  # some files failed
    assert "Traceback" not in proc.stderr
    records = {Path(r["path"]).name: r for r in map(json.loads, proc.stdout.splitlines())}
    assert len(records) == len(files) + 2
    assert records["good.flac"]["genre"] == "treble"
    assert records["short.wav"]["genre"] == "bass"
    assert records["surround.wav"]["genre"] == "noise"
    assert records["silence.wav"]["genre"] is None and "silence" in records["silence.wav"]["reason"]
    for name in ("empty.mp3", "random.mp3", "notes.flac", "no_audio", "does_not_exist.ogg"):
        assert records[name]["error"] and "\n" not in records[name]["error"], name
    assert "empty" in records["empty.mp3"]["error"]
    assert "no audio files" in records["no_audio"]["error"]
    # the truncated mp3 either decodes what is there or says why, never crashes
    assert "genre" in records["truncated.mp3"] or "error" in records["truncated.mp3"]
    good = records["good.flac"]
    assert set(good) >= {"path", "genre", "confidence", "uncertain", "top", "slices"}
    assert {"start", "genre", "probs"} <= set(good["slices"][0])


def test_file_vanishing_mid_batch(tiny_model, tmp_path, monkeypatch, run_cli):
    """A file deleted after the batch started gets an error row; the batch goes on."""
    a = write(tmp_path / "a.wav", synth("bass", 3.0), 16000)
    b = write(tmp_path / "b.wav", synth("treble", 3.0), 16000)
    c = write(tmp_path / "c.wav", synth("noise", 3.0), 16000)
    from genre_desktop.core.engine.classify.classifier import Classifier

    original = Classifier.classify_file

    def deleting(self, path, *args, **kwargs):
        if Path(path).name == "a.wav":
            b.unlink()  # b vanishes while a is being classified
        return original(self, path, *args, **kwargs)

    monkeypatch.setattr(Classifier, "classify_file", deleting)
    proc = run_cli("classify", "--json", "--model", tiny_model, a, b, c)
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert proc.returncode == 1
    assert [r.get("genre") for r in out] == ["bass", None, "noise"]
    assert "not found" in out[1]["error"]


def test_human_table_and_top(tiny_model, tmp_path, run_cli):
    f = write(tmp_path / "x.wav", synth("bass", 4.0), 16000)
    proc = run_cli("classify", "--top", "2", "--model", tiny_model, f, check_rc=0)
    line = proc.stdout.strip()
    assert line.startswith(str(f)) and "bass" in line and line.count("%") == 2


def test_evaluate(tiny_model, tiny_library, run_cli):
    proc = run_cli("evaluate", "--json", "--model", tiny_model, tiny_library, check_rc=0)
    report = json.loads(proc.stdout)
    assert report["tracks"] == 18 and report["accuracy"] >= 0.9
    text = run_cli("evaluate", "--model", tiny_model, tiny_library, check_rc=0).stdout
    assert "track accuracy" in text and "confusion" in text


def test_info_and_missing_model(tiny_model, run_cli):
    out = run_cli("info", "--model", tiny_model, check_rc=0).stdout
    assert "bass, treble, noise" in out and "synthesised" in out
    proc = run_cli("info", "--model", "no-such-model", check_rc=2)
    assert "no model named 'no-such-model'" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_classify_a_sample_of_shared_data(bundled_model_path, shared_data, run_cli):
    """Every data set and genre of ../shared/data, a few tracks each (the whole set, all
    of it decoded and classified, is benchmarks/bench_shared_data.py)."""
    sample = []
    for genre_dir in sorted(d for d in shared_data.glob("*/*") if d.is_dir()):
        sample += sorted(genre_dir.glob("*.ogg"))[:2]
    assert len(sample) >= 20
    proc = run_cli("classify", "--json", "--no-progress", *sample)
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    errors = [r for r in records if "error" in r]
    assert proc.returncode == 0 and not errors, errors[:3]
    assert len(records) == len(sample)
    assert all(0.0 <= r["confidence"] <= 1.0 and r["closest"] for r in records)
    assert all(r["genre"] or r["verdict"] in ("unknown", "not_music") for r in records)
    # real music is hardly ever "not music" (bench_openset measures the rate on all of it)
    assert sum(r["verdict"] == "not_music" for r in records) <= 2


def test_no_model_installed_is_said_plainly(monkeypatch, tmp_path, run_cli):
    from genre_desktop.core.engine.models import registry

    monkeypatch.setattr(registry, "bundled_models_folder", lambda: tmp_path / "none")
    proc = run_cli("classify", tmp_path)
    assert proc.returncode == 2 and "no genre model is installed" in proc.stderr


def test_top_must_be_positive(tiny_model, tmp_path, run_cli):
    f = write(tmp_path / "x.wav", synth("bass", 2.0), 16000)
    proc = run_cli("classify", "--top", "-1", "--model", tiny_model, f)
    assert proc.returncode == 2 and "must be 1 or more" in proc.stderr and "Traceback" not in proc.stderr


def test_rows_come_in_the_order_named_and_decoder_notes_stay_quiet(tmp_path, run_cli_process):
    """A real program: the decoder's notes go to the C-level stderr, which only the
    program's own filter (``cli.program.run``) keeps quiet."""
    good = write(tmp_path / "good.flac", synth("treble", 4.0), 16000)
    garbage = tmp_path / "random.mp3"
    garbage.write_bytes(bytes(np.random.default_rng(3).integers(0, 256, 20000, dtype=np.uint8)))
    proc = run_cli_process("classify", good, tmp_path / "missing.ogg", garbage, "--no-progress")
    rows = [line.split("\t")[0] for line in proc.stdout.splitlines()]
    assert rows == [str(good), str(tmp_path / "missing.ogg"), str(garbage)]
    assert "Illegal Audio-MPEG-Header" not in proc.stderr and "Note:" not in proc.stderr
