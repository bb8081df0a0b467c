"""Screenshots of the real window for the README (run under Xvfb, see DEVELOPERS.md).

    Xvfb :99 -screen 0 1400x900x24 & DISPLAY=:99 python scripts/screenshots.py

Writes docs/main_window.png (a track analysed), docs/track_list.png (several tracks),
docs/uncertain.png (a track the model is not sure about), docs/not_music.png (speech
and noise beside music), docs/live.png (real audio
played into a PulseAudio virtual microphone) and docs/wizard_*.png (each wizard page,
training thoroughly on 8 Emotify tracks per genre) and docs/manage_models.png (a model, its
backup and a broken model folder), docs/dark.png (View › Theme › Dark, a long name elided in the middle), docs/menus.png
(a row's right-click menu and View › Theme),
docs/library.png and docs/library_review.png (a tagged
folder of GTZAN and Emotify tracks scanned into the Library tab, and the tag review),
docs/albums.png, docs/vocabulary.png and docs/review_vocabulary.png (group ``albums``: two
albums of GTZAN tracks, the Artist › Album › Track view, the vocabulary dialog's aliases and
the review with tags that agree and disagree), docs/similar.png (group ``similar``: "More
like this" on a rock track, its copy first).
Name groups to take only those: ``python scripts/screenshots.py main dark library``.
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
os.environ.setdefault("GENRE_DESKTOP_DATA", tempfile.mkdtemp(prefix="genre-shots-"))


def main() -> None:
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from genre_desktop.gui.main_window import MainWindow
    from genre_desktop.gui.settings import app_settings

    app = QApplication(sys.argv[:1])  # noqa: F841 (kept alive for the whole run)
    w = MainWindow(app_settings())
    w.resize(1280, 760)
    w.show()

    def wait(signal, count=1, timeout_ms=120000):
        loop = QEventLoop()
        seen = []

        def hit(*args):
            seen.append(args)
            if len(seen) >= count:
                loop.quit()

        signal.connect(hit)
        QTimer.singleShot(timeout_ms, loop.quit)
        loop.exec()
        signal.disconnect(hit)

    def settle(ms=600):
        loop = QEventLoop()
        QTimer.singleShot(ms, loop.quit)
        loop.exec()

    w.start()
    wait(w.model_ready)
    only = set(sys.argv[1:])
    if only:
        tmp = Path(tempfile.mkdtemp())
        if "main" in only:
            main_screenshots(w, wait, settle, tmp)
        if "dark" in only:
            dark_screenshot(w, wait, settle, tmp)
        if "library" in only:
            library_screenshots(w, settle, tmp)
        if "albums" in only:
            album_screenshots(w, settle, tmp)
        if "similar" in only:
            similar_screenshot(w, settle, tmp)
        w.close()
        return
    tmp = main_screenshots(w, wait, settle, Path(tempfile.mkdtemp()))
    dark_screenshot(w, wait, settle, tmp)
    not_music_screenshot(w, wait, settle, tmp, w.screenshot_tracks)
    live_screenshot(w, wait, settle, tmp)
    wizard_screenshots(w, wait, settle, tmp)
    manage_models_screenshot(w, settle)
    library_screenshots(w, settle, tmp)
    album_screenshots(w, settle, tmp)
    similar_screenshot(w, settle, tmp)
    w.close()


def main_screenshots(w, wait, settle, tmp: Path) -> Path:
    """docs/main_window.png, docs/track_list.png and docs/uncertain.png."""
    picks = ["emotify/rock/rock.005.ogg", "gtzan/jazz/jazz.00002.ogg", "gtzan/metal/metal.00003.ogg",
             "gtzan/classical/classical.00010.ogg", "emotify/electronic/electronic.004.ogg",
             "gtzan/reggae/reggae.00004.ogg", "gtzan/hiphop/hiphop.00001.ogg"]
    tracks = [str(DATA / p) for p in picks if (DATA / p).exists()]
    w.screenshot_tracks = tracks
    # a medley: jazz then metal then classical, which should leave the model unsure
    medley_parts = [DATA / "gtzan/jazz/jazz.00005.ogg", DATA / "gtzan/metal/metal.00005.ogg",
                    DATA / "gtzan/classical/classical.00030.ogg"]
    medley = tmp / "medley (jazz, metal, classical).ogg"
    parts = []
    for p in medley_parts:
        audio, sr = sf.read(str(p), dtype="float32")
        parts.append(soxr.resample(audio, sr, 22050)[: 22050 * 15])
    sf.write(str(medley), np.concatenate(parts), 22050)
    w.open_paths(tracks[:1])
    wait(w.verdict_ready)
    settle()
    w.grab().save(str(ROOT / "docs" / "main_window.png"))
    w.open_paths(tracks[1:])
    wait(w.verdict_ready, len(tracks) - 1)
    w.select_path(tracks[2])
    settle()
    w.grab().save(str(ROOT / "docs" / "track_list.png"))
    w.open_paths([str(medley)])
    wait(w.verdict_ready)
    w.select_path(str(medley))
    settle()
    w.grab().save(str(ROOT / "docs" / "uncertain.png"))
    return tmp


def dark_screenshot(w, wait, settle, tmp: Path) -> None:
    """View › Theme › Dark, with a long file name in the list (elided in the middle)."""
    import shutil

    long = tmp / "Some Artist - A Very Long Title of a Live Recording at a Festival (2001 Remaster).ogg"
    shutil.copy2(DATA / "gtzan/blues/blues.00003.ogg", long)
    w.tabs.setCurrentIndex(0)
    w.open_paths([str(long)])
    wait(w.verdict_ready)
    w.select_path(str(long))
    w.set_theme("dark")
    settle()
    w.grab().save(str(ROOT / "docs" / "dark.png"))
    w.set_theme("system")
    settle()
    menus_screenshot(w, settle)


def menus_screenshot(w, settle) -> None:
    """The right-click menu of a row and View › Theme, side by side (docs/menus.png)."""
    from PySide6.QtGui import QPainter, QPixmap

    rect = w.table.visualRect(w.proxy.index(0, 0))
    context = w.track_actions.show_context_menu(rect.center())
    settle(300)
    view = w.menuBar().actions()[[a.text() for a in w.menuBar().actions()].index("&View")].menu()
    theme = view.actions()[0].menu()
    theme.popup(w.mapToGlobal(w.rect().center()))
    settle(300)
    shots = [context.grab(), theme.grab()]
    canvas = QPixmap(sum(p.width() for p in shots) + 30, max(p.height() for p in shots) + 20)
    canvas.fill(w.palette().window().color())
    painter = QPainter(canvas)
    x = 10
    for shot in shots:
        painter.drawPixmap(x, 10, shot)
        x += shot.width() + 10
    painter.end()
    canvas.save(str(ROOT / "docs" / "menus.png"))
    context.close()
    theme.close()


def library_screenshots(w, settle, tmp: Path) -> None:
    """A small tagged collection, scanned; then the review of its genre tags."""
    import shutil

    import mutagen


    picks = sorted(DATA.glob("gtzan/*/*.0000[2-3].ogg")) + sorted(DATA.glob("emotify/*/*.00[1-2].ogg"))
    music = tmp / "Music"
    for i, path in enumerate(picks):
        genre = path.parent.name
        dest = music / f"{genre.title()} Collection" / f"{i + 1:02d} {path.stem}.ogg"
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dest)
        tags = mutagen.File(dest)
        tags["artist"], tags["album"] = f"{path.parent.parent.name.upper()} artist {i % 5 + 1}", f"{genre.title()} Collection"
        tags["title"] = f"{genre.title()} excerpt {path.stem.split('.')[-1]}"
        if i % 4 == 0:
            tags["genre"] = "Unknown"
        elif i % 7 == 0:
            tags["genre"] = genre.title()
        tags.save()
    scan_folder(w, settle, music)
    w.grab().save(str(ROOT / "docs" / "library.png"))
    w.settings.set("library/top_k", 2)
    dialog = w.library.review_tags()
    dialog.resize(1100, 600)
    settle()
    dialog.grab().save(str(ROOT / "docs" / "library_review.png"))
    dialog.reject()



def scan_folder(w, settle, music: Path) -> None:
    """The Library tab scans ``music`` (what Add folder… does with the folder its dialog
    returns); returns when the scan is done and the tab has settled."""
    from PySide6.QtWidgets import QApplication

    w.tabs.setCurrentWidget(w.library)
    w.library.add_folder(str(music))
    while w.library.scan is not None:
        QApplication.processEvents()
        settle(200)
    settle()


def album_screenshots(w, settle, tmp: Path) -> None:
    """Two albums of neighbouring GTZAN ids (one with a stray reggae track), some already
    tagged; the album view, the vocabulary dialog and the review, opened by their button
    and action."""
    import shutil

    import mutagen
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    from genre_desktop.gui.album_view import AlbumWindow
    from genre_desktop.gui.vocabulary_dialog import VocabularyDialog

    albums = {("Stone Giants", "Loud Hours"): [f"rock/rock.0000{n}" for n in (5, 6, 7, 8)] + ["reggae/reggae.00005"],
              ("Iron Vale", "Heavy Weather"): [f"metal/metal.0000{n}" for n in (0, 1, 2, 3, 4)]}
    existing = {0: "Hard Rock", 2: "Pop", 5: "Heavy Metal", 7: "Rock"}
    music, k = tmp / "AlbumMusic", 0
    for (artist, album), names in albums.items():
        for n, name in enumerate(names):
            dest = music / artist / album / f"{n + 1:02d} {Path(name).name}.ogg"
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(DATA / "gtzan" / f"{name}.ogg", dest)
            tags = mutagen.File(dest)
            tags["artist"], tags["album"], tags["title"] = artist, album, f"Track {n + 1}"
            if k in existing:
                tags["genre"] = existing[k]
            tags.save()
            k += 1
    scan_folder(w, settle, music)
    QTest.mouseClick(w.library.albums_button, Qt.LeftButton)
    window = w.library.findChildren(AlbumWindow)[-1]
    for r in range(window.view.model.rowCount()):
        artist = window.view.model.item(r, 0)
        window.view.tree.expand(artist.index())
        for a in range(artist.rowCount()):
            window.view.tree.expand(artist.child(a, 0).index())
    window.resize(900, 520)
    settle()
    window.grab().save(str(ROOT / "docs" / "albums.png"))
    window.close()
    w.library.vocabulary_action.trigger()
    dialog = w.library.findChildren(VocabularyDialog)[-1]
    dialog.tabs.setCurrentIndex(1)
    settle()
    dialog.grab().save(str(ROOT / "docs" / "vocabulary.png"))
    dialog.reject()
    review = w.library.review_tags([str(p) for p in sorted(music.rglob("*.ogg"))])
    review.resize(1250, 560)
    settle()
    review.grab().save(str(ROOT / "docs" / "review_vocabulary.png"))
    review.reject()


def similar_screenshot(w, settle, tmp: Path) -> None:
    """"More like this" on a GTZAN rock track, among two tracks of each GTZAN and Emotify
    genre and a copy of the track under another name (group ``similar``: docs/similar.png)."""
    import shutil


    picks = sorted(DATA.glob("gtzan/*/*.0000[6-7].ogg")) + sorted(DATA.glob("emotify/*/*.00[3-4].ogg"))
    music = tmp / "SimilarMusic"
    for path in picks:
        dest = music / path.parent.name / path.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dest)
    seed = music / "rock" / "rock.00006.ogg"
    shutil.copy2(seed, music / "rock.00006 (copy).ogg")
    scan_folder(w, settle, music)
    dialog = w.library.more_like_this(str(seed))
    if dialog is None:
        raise SystemExit(f"no 'more like this' (library model: {w.library.ref})")
    dialog.resize(760, 560)
    settle()
    dialog.grab().save(str(ROOT / "docs" / "similar.png"))
    dialog.reject()


def manage_models_screenshot(w, settle) -> None:
    """The Manage dialog with a model, its backup, another model and a broken folder."""
    import shutil

    from genre_desktop.core.engine.models.bundle import save_bundle
    from genre_desktop.core.paths import user_models_folder
    from genre_desktop.gui.manage_models import ManageModelsDialog

    bundle = w.bundle
    for version, acc in (("1", 0.8), ("2", 0.85)):
        save_bundle(user_models_folder() / "My vinyl", bundle.network,
                    {**bundle.meta, "name": "My vinyl", "version": version,
                     "metrics": {"validation_track_accuracy": acc}}, base=bundle)
    save_bundle(user_models_folder() / "DJ set", bundle.network,
                {**bundle.meta, "name": "DJ set", "metrics": {"validation_track_accuracy": 0.9}}, base=bundle)
    broken = user_models_folder() / "old experiment"
    shutil.copytree(user_models_folder() / "DJ set", broken)
    (broken / "model.json").write_text("[" * 100000)
    dialog = ManageModelsDialog(w)
    dialog.show()
    dialog.list.setCurrentRow(next(i for i in range(dialog.list.count())
                                   if "(backup)" in dialog.list.item(i).text()))
    settle()
    dialog.grab().save(str(ROOT / "docs" / "manage_models.png"))
    dialog.close()


def not_music_screenshot(w, wait, settle, tmp: Path, tracks: list[str]) -> None:
    """White noise and synthetic speech beside two real tracks: 'Not music'."""
    import subprocess

    w.clear_tracks()
    noise = tmp / "white noise.wav"
    sf.write(str(noise), (0.3 * np.random.default_rng(0).standard_normal(22050 * 12)).astype(np.float32), 22050)
    speech = tmp / "evening news (speech).wav"
    subprocess.run(["espeak-ng", "-w", str(speech), "Welcome to the evening news. Today we talk about "
                    "the weather, the markets and a new library in town."], check=True)
    files = [str(noise), str(speech), *tracks[:2]]
    w.open_paths(files)
    wait(w.verdict_ready, len(files))
    w.select_path(str(speech))
    settle()
    w.grab().save(str(ROOT / "docs" / "not_music.png"))


def live_screenshot(w, wait, settle, tmp: Path) -> None:
    """Play a track into a PulseAudio null sink and let the live tab listen to it."""
    import subprocess

    subprocess.run(["pulseaudio", "-D", "--exit-idle-time=-1", "--system=false"], capture_output=True)
    subprocess.run(["pactl", "load-module", "module-null-sink", "sink_name=shots", "rate=22050", "channels=1"],
                   capture_output=True)
    subprocess.run(["pactl", "set-default-source", "shots.monitor"], check=True)
    import sounddevice as sd

    sd._terminate()
    sd._initialize()
    audio, sr = sf.read(str(DATA / "gtzan/metal/metal.00003.ogg"), dtype="float32")
    clip = tmp / "clip.wav"
    sf.write(str(clip), soxr.resample(audio, sr, 22050)[: 22050 * 20], 22050)
    w.tabs.setCurrentIndex(1)
    w.live.refresh_devices()
    w.live.start()
    player = subprocess.Popen(["paplay", "--device=shots", str(clip)])
    wait(w.live.prediction_shown, 9)
    settle(300)
    w.grab().save(str(ROOT / "docs" / "live.png"))
    w.live.stop()
    player.wait()
    settle(500)
    w.tabs.setCurrentIndex(0)


def wizard_screenshots(w, wait, settle, tmp: Path) -> None:
    library = tmp / "library"
    for genre_dir in sorted((DATA / "emotify").iterdir()):
        (library / genre_dir.name).mkdir(parents=True)
        for f in sorted(genre_dir.glob("*.ogg"))[:8]:
            (library / genre_dir.name / f.name).symlink_to(f)
    (library / "rock" / "damaged.ogg").write_bytes(b"OggS" + b"\0" * 200)
    wizard = w.open_wizard()
    wizard.choose_page.root_edit.setText(str(library))
    settle()
    wizard.grab().save(str(ROOT / "docs" / "wizard_1_choose.png"))
    wizard.next()
    wait(wizard.check_page.scan_finished)
    settle()
    wizard.grab().save(str(ROOT / "docs" / "wizard_2_check.png"))
    wizard.next()
    wizard.train_page.name_edit.setText("my-emotify")
    wizard.train_page.thorough.setChecked(True)
    wizard.train_page.epochs.setValue(4)
    wizard.train_page.start_button.click()
    wait(wizard.train_page.training_finished, timeout_ms=600000)
    settle()
    wizard.grab().save(str(ROOT / "docs" / "wizard_3_train.png"))
    wizard.next()
    settle()
    wizard.grab().save(str(ROOT / "docs" / "wizard_4_results.png"))
    wizard.reject()


if __name__ == "__main__":
    main()
