"""Screenshots of the real window for the README (run under Xvfb, see DEVELOPERS.md).

    Xvfb :99 -screen 0 1400x900x24 & DISPLAY=:99 python scripts/screenshots.py

Writes docs/main_window.png (a track analysed), docs/track_list.png (several tracks)
and docs/uncertain.png (a track the model is not sure about).
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

    app = QApplication(sys.argv[:1])
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
    picks = ["emotify/rock/rock.005.ogg", "gtzan/jazz/jazz.00002.ogg", "gtzan/metal/metal.00003.ogg",
             "gtzan/classical/classical.00010.ogg", "emotify/electronic/electronic.004.ogg",
             "gtzan/reggae/reggae.00004.ogg", "gtzan/hiphop/hiphop.00001.ogg"]
    tracks = [str(DATA / p) for p in picks if (DATA / p).exists()]
    tmp = Path(tempfile.mkdtemp())
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
    w.table.selectRow(2)
    settle()
    w.grab().save(str(ROOT / "docs" / "track_list.png"))
    w.open_paths([str(medley)])
    wait(w.verdict_ready)
    w.table.selectRow(len(w.table_model.rows) - 1)
    settle()
    w.grab().save(str(ROOT / "docs" / "uncertain.png"))
    w.close()


if __name__ == "__main__":
    main()
