"""Accuracy, per-genre recall and confusion matrices."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class ConfusionReport:
    """Track-level evaluation of predictions against truth."""

    labels: list[str]  # row/column order
    matrix: np.ndarray  # (n_labels, n_labels): rows truth, columns prediction

    @property
    def total(self) -> int:
        return int(self.matrix.sum())

    @property
    def accuracy(self) -> float:
        return float(np.trace(self.matrix) / max(self.total, 1))

    def recall(self) -> dict[str, float]:
        rows = self.matrix.sum(axis=1)
        return {label: float(self.matrix[i, i] / rows[i])
                for i, label in enumerate(self.labels) if rows[i] > 0}

    def balanced_accuracy(self) -> float:
        values = list(self.recall().values())
        return float(np.mean(values)) if values else 0.0

    def to_json(self) -> dict:
        return {"accuracy": self.accuracy, "balanced_accuracy": self.balanced_accuracy(),
                "tracks": self.total, "recall": self.recall(), "labels": self.labels,
                "confusion": self.matrix.tolist()}

    def to_text(self) -> str:
        lines = [f"track accuracy: {self.accuracy:.1%} ({np.trace(self.matrix)}/{self.total}), "
                 f"balanced: {self.balanced_accuracy():.1%}", "", "per-genre recall:"]
        rows = self.matrix.sum(axis=1)
        for i, label in enumerate(self.labels):
            if rows[i]:
                lines.append(f"  {label:<14}{self.matrix[i, i] / rows[i]:6.1%}  ({self.matrix[i, i]}/{rows[i]})")
        used = [i for i in range(len(self.labels)) if rows[i] or self.matrix[:, i].sum()]
        width = max(6, max(len(self.labels[i]) for i in used) + 1)
        lines += ["", "confusion (rows: truth, columns: predicted):",
                  " " * width + "".join(f"{self.labels[i][:5]:>6}" for i in used)]
        for i in used:
            lines.append(f"{self.labels[i]:<{width}}" + "".join(f"{self.matrix[i, j]:>6}" for j in used))
        return "\n".join(lines)


def confusion_report(truth: list[str], predicted: list[str], labels: list[str]) -> ConfusionReport:
    """Build a report; genres seen in ``truth`` or ``predicted`` but not in ``labels`` are appended."""
    order = list(labels) + sorted((set(truth) | set(predicted)) - set(labels))
    index = {label: i for i, label in enumerate(order)}
    matrix = np.zeros((len(order), len(order)), int)
    for t, p in zip(truth, predicted):
        matrix[index[t], index[p]] += 1
    return ConfusionReport(order, matrix)
