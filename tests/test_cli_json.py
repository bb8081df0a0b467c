"""Every command's JSON reads alike: non-ASCII names as they are, not as \\u escapes."""
import json

from conftest import synth, write


def test_classify_and_library_json_spell_names_alike(tmp_path, tiny_model, run_cli):
    track = tmp_path / "Björk – Jóga.flac"
    write(track, synth("bass", 3.0))
    out = run_cli("classify", "--json", "--no-progress", "--model", tiny_model, track, check_rc=0).stdout
    assert "Björk – Jóga" in out and "\\u" not in out
    assert json.loads(out.splitlines()[0])["path"] == str(track)
    db = tmp_path / "lib.sqlite3"
    run_cli("library", "--library", db, "scan", "--no-progress", "--model", tiny_model, track, check_rc=0)
    shown = run_cli("library", "--library", db, "show", "--json", "--model", tiny_model, check_rc=0).stdout
    assert "Björk – Jóga" in shown and "\\u" not in shown
