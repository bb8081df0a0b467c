"""Render the bundled model's validation confusion matrix to PNG (offscreen Qt).

    python scripts/render_confusion.py                      # models/genre_musicnn_v3/confusion.png
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]


def render(labels: list[str], matrix: list[list[int]], title: str, out: Path) -> None:
    from PySide6.QtCore import QRectF, Qt
    from PySide6.QtGui import QColor, QFont, QGuiApplication, QImage, QPainter

    app = QGuiApplication.instance() or QGuiApplication([])  # noqa: F841
    n = len(labels)
    cell, left, top = 54, 110, 112
    width, height = left + n * cell + 20, top + n * cell + 30
    image = QImage(width, height, QImage.Format_ARGB32)
    image.fill(QColor("white"))
    p = QPainter(image)
    p.setRenderHint(QPainter.Antialiasing)
    font = QFont()
    font.setPointSize(10)
    p.setFont(font)
    p.drawText(QRectF(0, 5, width, 25), Qt.AlignCenter, title)
    p.drawText(QRectF(left, 24, n * cell, 20), Qt.AlignCenter, "predicted \u2192")
    for i, row in enumerate(matrix):
        total = sum(row) or 1
        p.drawText(QRectF(0, top + i * cell, left - 8, cell), Qt.AlignRight | Qt.AlignVCenter, labels[i])
        for j, v in enumerate(row):
            frac = v / total
            shade = QColor.fromHsvF(0.6, 0.85 * frac, 1.0 - 0.55 * frac)
            rect = QRectF(left + j * cell, top + i * cell, cell - 2, cell - 2)
            p.fillRect(rect, shade)
            if v:
                p.setPen(QColor("white") if frac > 0.5 else QColor("black"))
                p.drawText(rect, Qt.AlignCenter, str(v))
                p.setPen(QColor("black"))
    for j, label in enumerate(labels):
        p.save()
        p.translate(left + j * cell + cell / 2 + 4, top - 6)
        p.rotate(-45)
        p.drawText(0, 0, label)
        p.restore()
    p.end()
    image.save(str(out))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--results", type=Path, default=ROOT / "build" / "training" / "results_genre_musicnn_v3.json")
    parser.add_argument("--key", default="confusion", help="the confusion report's key in the results")
    parser.add_argument("--name", default="genre_musicnn_v3")
    parser.add_argument("--out", type=Path, default=None, help="default: models/NAME/confusion.png")
    args = parser.parse_args()
    results = json.loads(args.results.read_text())
    conf = results[args.key]
    render(conf["labels"], conf["confusion"],
           f"{args.name}: validation tracks (rows: truth), accuracy {conf['accuracy']:.1%}",
           args.out or ROOT / "models" / args.name / "confusion.png")


if __name__ == "__main__":
    main()
