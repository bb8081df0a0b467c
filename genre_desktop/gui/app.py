"""``genre-desktop``: open the window; file paths on the command line are analysed on start."""
from __future__ import annotations

import logging
import sys
from typing import Optional, Sequence


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # torch's OpenMP threads otherwise spin after each inference: ~30% of a core while
    # listening live, 3% with passive waiting (benchmarks/bench_live.py). Set before torch loads.
    from genre_desktop.core.engine.network.threads import set_thread_policy

    set_thread_policy()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from genre_desktop.gui.main_window import MainWindow
    from genre_desktop.gui.settings import app_settings

    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setApplicationName("Genre Desktop")
    app.setOrganizationName("genre-desktop")
    app.setDesktopFileName("genre-desktop")  # ties the window to its menu entry and icon
    from PySide6.QtGui import QIcon

    from genre_desktop.core.desktop_entry import icon_path

    app.setWindowIcon(QIcon(str(icon_path())))
    from genre_desktop.gui.single_instance import InstanceServer, hand_off

    if hand_off(argv):  # a window is open already: it opens these files, no second window
        return 0
    window = MainWindow(app_settings())
    app.aboutToQuit.connect(window.shutdown)
    window.instance_server = InstanceServer(lambda paths: window.open_handed_off(paths), parent=window)
    window.show()
    # the model loads in the background once the window is on screen
    QTimer.singleShot(0, window.start)
    if argv:
        QTimer.singleShot(0, lambda: window.open_paths(argv))
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
