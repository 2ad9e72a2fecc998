"""Classification metrics on integer labels (numpy; small and exact)."""

from __future__ import annotations

import numpy as np


def confusion_matrix(labels: np.ndarray, preds: np.ndarray, num_classes: int) -> np.ndarray:
    """``[L, L]`` counts; rows are true classes, columns predicted classes."""
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(labels, dtype=np.int64), np.asarray(preds, dtype=np.int64)), 1)
    return cm


def accuracy(labels: np.ndarray, preds: np.ndarray) -> float:
    labels, preds = np.asarray(labels), np.asarray(preds)
    return float((labels == preds).mean()) if len(labels) else float("nan")


def per_class_accuracy(cm: np.ndarray) -> np.ndarray:
    """Recall of each class (NaN for a class with no test images)."""
    totals = cm.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, np.diag(cm) / np.maximum(totals, 1), np.nan)


def macro_f1(cm: np.ndarray) -> float:
    """Mean F1 over the classes present in the labels or the predictions."""
    tp = np.diag(cm).astype(np.float64)
    predicted, actual = cm.sum(axis=0), cm.sum(axis=1)
    present = (predicted + actual) > 0
    f1 = np.where(present, 2 * tp / np.maximum(predicted + actual, 1), 0.0)
    return float(f1[present].mean()) if present.any() else float("nan")


def classification_report(labels, preds, classes: list[str]) -> dict:
    """Everything ``gfp evaluate`` reports, as plain JSON-able values."""
    cm = confusion_matrix(labels, preds, len(classes))
    per_class = per_class_accuracy(cm)
    return {
        "n": int(len(labels)),
        "accuracy": accuracy(labels, preds),
        "macro_f1": macro_f1(cm),
        "per_class_accuracy": {c: (None if np.isnan(a) else float(a)) for c, a in zip(classes, per_class)},
        "confusion_matrix": cm.tolist(),
        "classes": list(classes),
    }
