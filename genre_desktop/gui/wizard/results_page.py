"""Wizard page 4: one accuracy figure and how it was measured, what the model knows, and\nthe same predictions per genre, as a confusion matrix and as the tracks it got wrong."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import (QHBoxLayout, QHeaderView, QLabel, QListWidget, QListWidgetItem, QPushButton,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWizardPage)

from genre_desktop.gui.theme import style_plot


class ResultsPage(QWizardPage):
    def __init__(self):
        super().__init__()
        self.setTitle("Results")
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        self.recall = QTableWidget(0, 2)
        self.recall.setHorizontalHeaderLabels(["Genre", "Right"])
        self.recall.horizontalHeader().setSectionResizeMode(0, QHeaderView.Stretch)
        self.recall.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeToContents)
        self.recall.verticalHeader().setVisible(False)
        self.recall.setMaximumWidth(340)
        self.matrix_view = pg.GraphicsLayoutWidget()
        self.matrix_plot = self.matrix_view.addPlot(title="Confusion (rows: truth, columns: predicted)")
        style_plot(self.matrix_view, [self.matrix_plot])
        self.matrix_plot.setMouseEnabled(False, False)
        self.matrix_plot.invertY(True)
        self.matrix_image = pg.ImageItem(axisOrder="row-major")
        self.matrix_image.setColorMap(pg.colormap.get("viridis"))
        self.matrix_plot.addItem(self.matrix_image)
        self.wrong = QListWidget()
        self.wrong.itemDoubleClicked.connect(self._open)
        top = QHBoxLayout()
        top.addWidget(self.recall)
        top.addWidget(self.matrix_view, 1)
        self.use_button = QPushButton("Use this model now")
        self.use_button.clicked.connect(self._use)
        self.keep_button = QPushButton("Keep the old one")
        self.keep_button.clicked.connect(self._keep_old)
        self.again_button = QPushButton("Train again")
        self.again_button.clicked.connect(lambda: self.wizard().back())
        buttons = QHBoxLayout()
        buttons.addWidget(self.use_button)
        buttons.addWidget(self.keep_button)
        buttons.addWidget(self.again_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addLayout(top, 1)
        layout.addWidget(QLabel("Tracks it got wrong (double-click to open one; fix its "
                                "folder if the label is wrong):"))
        layout.addWidget(self.wrong)
        layout.addLayout(buttons)
        self._texts = []

    def initializePage(self) -> None:
        from genre_desktop.core.training.outcome import trust_warnings

        outcome = self.wizard().outcome
        estimate = outcome.estimate  # the one figure; the table, matrix and list below are the same predictions
        warnings = trust_warnings(outcome)
        self.summary.setText(f"<b>{estimate.accuracy:.0%}</b> of {estimate.tracks} tracks right ({estimate.method}). "
                             + outcome.knows()
                             + f" Saved as <i>{outcome.path.name}</i> in {outcome.path.parent}."
                             + (f" Genres the base model already knew ({', '.join(outcome.known_genres)}) "
                                "started from what it knew." if outcome.known_genres else "")
                             + "".join(f"<br><b style='color:#b71c1c'>\u26a0 {w}.</b>" for w in warnings))
        # ask before the person relies on it: say so next to the buttons
        self.use_button.setText("Use it anyway" if warnings else "Use this model now")
        recall = estimate.report.recall()
        self.recall.setRowCount(len(recall))
        for row, (genre, value) in enumerate(recall.items()):
            self.recall.setItem(row, 0, QTableWidgetItem(genre))
            self.recall.setItem(row, 1, QTableWidgetItem(f"{value:.0%}"))
        self._draw_matrix(estimate.report)
        self.keep_button.setText("Keep the old one" if outcome.replaced else "Discard this model")
        self.keep_button.setToolTip("Put back the model this training replaced (the new one is kept as "
                                    "its backup, restorable in Manage my models)" if outcome.replaced
                                    else "Delete the model just trained")
        self.wrong.clear()
        for w in estimate.wrong:
            item = QListWidgetItem(f"{w.path.name}: labelled {w.truth}, heard as {w.predicted} ({w.confidence:.0%})")
            item.setData(256, str(w.path))
            item.setToolTip(str(w.path))
            self.wrong.addItem(item)
        if not estimate.wrong:
            self.wrong.addItem("None \u2014 every track was right.")

    def _draw_matrix(self, report) -> None:
        for t in self._texts:
            self.matrix_plot.removeItem(t)
        self._texts = []
        # only the genres that were tested or predicted (an extended model knows many more)
        used = [i for i in range(len(report.labels)) if report.matrix[i].sum() or report.matrix[:, i].sum()]
        m = report.matrix[np.ix_(used, used)].astype(float)
        labels = [report.labels[i] for i in used]
        rows = m.sum(axis=1, keepdims=True)
        norm = np.divide(m, rows, out=np.zeros_like(m), where=rows > 0)
        self.matrix_image.setImage(norm, autoLevels=False, levels=(0, 1))
        n = len(labels)
        for i in range(n):
            for j in range(n):
                if m[i, j]:
                    text = pg.TextItem(str(int(m[i, j])), anchor=(0.5, 0.5),
                                       color="k" if norm[i, j] > 0.6 else "w")
                    text.setPos(j + 0.5, i + 0.5)
                    self.matrix_plot.addItem(text)
                    self._texts.append(text)
        ticks = [(i + 0.5, label) for i, label in enumerate(labels)]
        self.matrix_plot.getAxis("bottom").setTicks([ticks])
        self.matrix_plot.getAxis("left").setTicks([ticks])

    def _open(self, item) -> None:
        path = item.data(256)
        if path:
            self.wizard().open_track.emit(path)

    def _keep_old(self) -> None:
        """Honour the choice: the model of this name from before training is the model again
        (the new one stays restorable as its backup); with no model before, the new one goes."""
        from genre_desktop.core.errors import BundleError
        from genre_desktop.core.engine.models.registry import delete_user_model, restore_backup

        outcome = self.wizard().outcome
        try:
            if outcome.replaced:
                restore_backup(outcome.path.name)
            else:
                delete_user_model(outcome.path.name)
        except (BundleError, OSError) as exc:
            self.summary.setText(f"Could not put the old model back: {exc}")
            return
        self.wizard().accept()

    def _use(self) -> None:
        self.wizard().use_model.emit(str(self.wizard().outcome.path))
        self.wizard().accept()
