"""Running an audit on a prepared dataset or on a folder of image files, and its JSON document.

* A prepared dataset: every pixel cue is fitted on the train split and scored on the test split (the
  kNN's ``k`` is chosen on val) -- the splits every method of ``gfp bench`` uses.
* A folder with one sub-folder per source: the files are split per source with ``seed`` (60% fit, 20%
  validation for the kNN's ``k``, 20% evaluation); the pixel statistics and histograms are those of the
  whole decoded image, the kNN sees it fitted to ``resolution`` as ``gfp prepare`` would (centre crop),
  and the file cues are measured too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from gfcore.errors import GfpError
from gfcore.interfaces import Split
from gfcore.studies.audit.features import colour_histograms, global_stats, split_features
from gfcore.studies.audit.files import file_cues, file_rows, stratified_split
from gfcore.studies.audit.pixels import feature_rows, knn_row
from gfcore.studies.audit.result import AUDIT_FORMAT, AUDIT_VERSION, FAR_RULE, AuditRow
from gfcore.terminal.progress import NullReporter, Reporter

FOLDER_FRACTIONS = (0.6, 0.2, 0.2)


def pixel_audit(
    classes: list[str],
    resolution: int,
    train: Split,
    val: Split,
    test: Split,
    *,
    seed=0,
    device=None,
    reporter=None,
    knn: AuditRow | None = None,
) -> list[AuditRow]:
    """The pixel cues of a prepared dataset's splits: global stats, colour histogram, raw-pixel kNN.
    ``knn``: the kNN row when the caller has measured it already (``gfp bench`` with the ``knn``
    baseline, which is the same computation on the same splits), so it is not run twice."""
    if not len(train) or not len(test):
        raise GfpError("the audit needs training and test images (a split is empty)")
    reporter = reporter or NullReporter()
    task = reporter.task("audit: global statistics and histograms", total=None)
    rows = feature_rows(
        split_features(train.images), train.labels, split_features(test.images), test.labels, len(classes)
    )
    if knn is None:
        task.update(description="audit: raw-pixel kNN")
        knn = knn_row(classes, resolution, train, val, test, seed=seed, device=device, reporter=reporter)
    rows.append(knn)
    task.done()
    return rows


def audit_dataset(dataset, *, seed: int = 0, device=None, reporter: Reporter | None = None) -> dict:
    """The audit document of a :class:`gfcore.data.dataset.PreparedDataset` (train -> test, val for k)."""
    splits = {name: dataset.split(name) for name in ("train", "val", "test")}
    rows = pixel_audit(
        dataset.classes, dataset.resolution, *splits.values(), seed=seed, device=device, reporter=reporter
    )
    target = {
        "kind": "dataset",
        "path": str(Path(dataset.path).resolve()),
        "hash": dataset.hash,
        "classes": dataset.classes,
        "resolution": dataset.resolution,
        "counts": {name: len(split) for name, split in splits.items()},
        "fit": "train",
        "choose_k": "val",
        "evaluate": "test",
    }
    return audit_document(target, rows, seed)


@dataclass
class FolderImages:
    """The decoded images of a folder with one sub-folder per source, as the audit measures them."""

    classes: list[str]
    labels: np.ndarray  # source index of each readable image
    records: list  # the file cues of each (:func:`gfcore.studies.audit.files.file_cues`)
    stats: np.ndarray  # the global statistics of the whole decoded image
    hists: np.ndarray  # its colour histograms
    pixels: np.ndarray  # uint8 [N, 3, R, R]: fitted to the resolution as ``gfp prepare`` would
    skipped: list


def read_folder(src: Path, resolution: int, reporter: Reporter) -> FolderImages:
    """Decode every image file under ``src`` (unreadable ones are listed in ``skipped``)."""
    from gfcore.data.images import decode_each, fit_to_size
    from gfcore.data.sources import discover_sources

    sources = discover_sources(src, None)
    records, labels, stats, hists, pixels, skipped = [], [], [], [], [], []
    task = reporter.task("audit: reading files", total=sum(len(files) for _, files in sources))
    for label, (_, files) in enumerate(sources):
        for path, rgb in decode_each(
            files, skipped, reporter, name=str, on_file=task.advance, image_names_only=True
        ):
            chw = rgb.transpose(2, 0, 1)[None]
            records.append(file_cues(path))
            labels.append(label)
            stats.append(global_stats(chw)[0])
            hists.append(colour_histograms(chw)[0])
            pixels.append(fit_to_size(rgb, resolution).transpose(2, 0, 1))
    task.done()
    labels = np.asarray(labels, dtype=np.int64)
    if len(set(labels.tolist())) < 2:
        raise GfpError(f"{src}: fewer than two sources hold readable images; nothing to audit")
    classes = [name for name, _ in sources]
    return FolderImages(
        classes, labels, records, np.asarray(stats), np.asarray(hists), np.stack(pixels), skipped
    )


def audit_folder(src, *, resolution: int = 32, seed: int = 0, device=None, reporter=None) -> dict:
    """The audit document of a folder with one sub-folder of image files per source."""
    reporter = reporter or NullReporter()
    src = Path(src)
    found = read_folder(src, resolution, reporter)
    classes, labels = found.classes, found.labels
    idx = stratified_split(labels.tolist(), FOLDER_FRACTIONS, seed)
    if not len(idx["test"]):
        raise GfpError(f"{src}: too few readable images per source to hold any out (at least 2 per source)")

    def split(name):
        return Split(images=found.pixels[idx[name]], labels=labels[idx[name]])

    tr, te = idx["train"], idx["test"]
    train_feats, test_feats = (found.stats[tr], found.hists[tr]), (found.stats[te], found.hists[te])
    rows = feature_rows(train_feats, labels[tr], test_feats, labels[te], len(classes))
    splits = split("train"), split("val"), split("test")
    rows.append(knn_row(classes, resolution, *splits, seed=seed, device=device, reporter=reporter))
    records = found.records
    rows += file_rows(
        [records[i] for i in tr], labels[tr], [records[i] for i in te], labels[te], len(classes), seed
    )
    target = {
        "kind": "folder",
        "path": str(src.resolve()),
        "classes": classes,
        "resolution": resolution,
        "counts": {name: int(len(i)) for name, i in idx.items()},
        "fractions": list(FOLDER_FRACTIONS),
        "skipped": found.skipped,
    }
    return audit_document(target, rows, seed)


def audit_document(target: dict, rows: list[AuditRow], seed: int) -> dict:
    from gfcore.runs.folder import package_versions

    return {
        "format": AUDIT_FORMAT,
        "version": AUDIT_VERSION,
        "target": target,
        "seed": seed,
        "far_above_chance_rule": FAR_RULE,
        "cues": [row.to_dict() for row in rows],
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": package_versions(),
    }
