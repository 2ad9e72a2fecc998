"""The pixel cues: a standardised logistic regression on the eight global statistics and on colour
histograms, and the method with the ``pixel-knn`` role on raw pixels (through the registry, as ``gfp train``
would build it: the audit holds no method code of its own).

Each takes features (or images) of a train, a validation and an evaluation split; the classifier is fitted
on train, ``k`` of the kNN is chosen on validation, and the row is scored on the evaluation split.
"""

from __future__ import annotations

import numpy as np

from gfcore.errors import GfpError
from gfcore.interfaces import FitContext, Split
from gfcore.studies.audit.features import HISTOGRAM_BINS
from gfcore.studies.audit.result import AuditRow, correct_row, failed_row, scored_row
from gfcore.terminal.progress import NullReporter, Reporter

LOGISTIC = "logistic regression, standardised"  # scikit-learn, C=1
KNN_CUE = "raw-pixel kNN"
PIXEL_KNN = "pixel-knn"  # the role (gfcore.interfaces.ROLES) of the method that measures this cue


def knn_how(name: str) -> str:
    """How the raw-pixel kNN row was measured: the method holding the ``pixel-knn`` role, by its name."""
    return f"the {name} baseline, k chosen on val"


def logistic_row(
    cue: str,
    train_x: np.ndarray,
    train_y: np.ndarray,
    test_x: np.ndarray,
    test_y: np.ndarray,
    num_classes: int,
) -> AuditRow:
    """Fit ``StandardScaler + LogisticRegression`` on train, score it on the evaluation set."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    present = np.unique(train_y)
    if len(present) < 2:
        return failed_row(cue, LOGISTIC, "the training split holds fewer than two classes")
    model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
    model.fit(train_x, train_y)
    return scored_row(cue, LOGISTIC, model.predict(test_x), test_y, num_classes, features=train_x.shape[1])


def feature_rows(train_feats, train_y, test_feats, test_y, num_classes: int) -> list[AuditRow]:
    """The global-statistics and the colour-histogram rows from ``(stats, histograms)`` feature pairs."""
    (train_stats, train_hist), (test_stats, test_hist) = train_feats, test_feats
    rows = [
        logistic_row("global stats", train_stats, train_y, test_stats, test_y, num_classes),
        logistic_row("colour histogram", train_hist, train_y, test_hist, test_y, num_classes),
    ]
    rows[0].details["features"] = (
        "mean and std of R, G, B; mean |horizontal|, |vertical| neighbour difference"
    )
    rows[1].details["features"] = f"{HISTOGRAM_BINS} bins per channel (R, G, B separately), shares of pixels"
    return rows


def knn_row(
    classes: list[str],
    resolution: int,
    train: Split,
    val: Split,
    test: Split,
    *,
    seed: int = 0,
    device=None,
    reporter: Reporter | None = None,
) -> AuditRow:
    """The method with the ``pixel-knn`` role (raw pixels, k chosen on validation) scored on ``test``."""
    import torch

    from gfcore.plugins import get_registries

    cue, how = KNN_CUE, knn_how(PIXEL_KNN)
    reporter = reporter or NullReporter()
    device = device or torch.device("cpu")
    try:
        registries = get_registries()
        name = registries.with_role(PIXEL_KNN)
        cls, how = registries.attributor(name), knn_how(name)
    except GfpError as exc:
        return failed_row(cue, how, str(exc))
    knn = cls(list(classes), resolution, cls.Config(), device)
    ctx = FitContext(device=device, progress=reporter, seed=seed)
    try:
        knn.fit(train, val, ctx)
    except GfpError as exc:  # e.g. no training images: the other cues still stand
        return failed_row(cue, how, str(exc))
    predictions = []
    for start in range(0, len(test), 256):
        part = torch.from_numpy(np.array(test.images[start : start + 256]))
        predictions.append(knn.logits(part).argmax(1).numpy())
    predicted = np.concatenate(predictions) if predictions else np.empty(0, dtype=np.int64)
    chosen = ctx.history[-1].get("chosen_k") if ctx.history else None
    return scored_row(cue, how, predicted, test.labels, len(classes), k=chosen)


def knn_row_from_correct(correct, labels, num_classes: int, k: int | None, name: str) -> AuditRow:
    """The raw-pixel kNN row from a run of the ``pixel-knn`` method ``name`` made elsewhere on the same
    splits (each evaluation image's right/wrong and the ``k`` it chose on validation): what
    :func:`knn_row` computes."""
    return correct_row(KNN_CUE, knn_how(name), correct, labels, num_classes, k=k)
