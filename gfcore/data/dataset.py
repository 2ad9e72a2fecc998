"""Prepared datasets: folders of images per source -> uint8 arrays per split that training memory-maps.

Layout of a prepared dataset folder::

    manifest.json          class order, resolution, size policy, split counts, seed, source files + hashes
    train_images.npy       uint8 [N, 3, R, R]   (memory-mapped by training)
    train_labels.npy       int64 [N]
    val_images.npy ...     the same for val and test

``manifest.json`` is written last, so a folder without it is an unfinished preparation.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gfcore.config import check_seed, parse_split_fractions
from gfcore.data.hashing import file_sha256, json_sha256
from gfcore.data.images import SIZE_POLICIES, decode_each, fit_to_size
from gfcore.data.sources import discover_sources
from gfcore.errors import GfpError
from gfcore.interfaces import Split
from gfcore.runs.schema import check_manifest
from gfcore.storage.atomic import atomic_path, open_memmap_for_writing, write_error, write_json
from gfcore.storage.jsonio import read_document
from gfcore.storage.outfolder import claim_out_folder, is_within
from gfcore.storage.regular import check_regular
from gfcore.terminal.progress import NullReporter, Reporter

MANIFEST = "manifest.json"
FORMAT = "gfp-dataset"
FORMAT_VERSION = 1
SPLITS = ("train", "val", "test")


def claim_dataset_folder(out: Path):
    """A dataset's --out, claimed (:mod:`gfcore.storage.outfolder`); staging files: ``.decoded.XXXXXXXX.npy``."""
    names = tuple(f"{s}_{k}.npy" for s in SPLITS for k in ("images", "labels"))
    return claim_out_folder(
        out, names, (r"\.decoded(\.[A-Za-z0-9_]{8})?\.npy",), MANIFEST, "gfp prepare", "a prepared dataset"
    )


def prepare_dataset(
    src: str | os.PathLike,
    out: str | os.PathLike,
    resolution: int = 32,
    split: tuple[float, float, float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    classes: list[str] | None = None,
    size_policy: str = "crop",
    reporter: Reporter | None = None,
) -> dict:
    """Decode, size-fit and split every source's images; returns the manifest."""
    reporter = reporter or NullReporter()
    src, out = Path(src), Path(out)
    if resolution < 4 or resolution > 4096:
        raise GfpError(f"--resolution {resolution}: expected a size between 4 and 4096")
    if size_policy not in SIZE_POLICIES:
        raise GfpError(f"unknown size policy {size_policy!r}; use one of {', '.join(SIZE_POLICIES)}")
    check_seed(seed)
    parse_split_fractions(",".join(str(p) for p in split))  # the one check of --split (gfcore.config)
    if is_within(out, src):
        raise GfpError(f"--out {out} is inside the source folder {src}; choose a folder outside it")
    if (out / MANIFEST).exists():
        raise GfpError(f"{out} already holds a prepared dataset; choose another --out or delete it")
    sources = discover_sources(src, classes)
    with claim_dataset_folder(out):
        return _prepare_into(src, out, sources, resolution, split, seed, size_policy, reporter)


def _prepare_into(src, out, sources, resolution, split, seed, size_policy, reporter) -> dict:
    class_names = [name for name, _ in sources]
    fd, staging_name = tempfile.mkstemp(prefix=".decoded.", suffix=".npy", dir=out)  # per run: never shared
    os.close(fd)
    staging = Path(staging_name)
    decoded, records, skipped = _decode(src, sources, staging, resolution, size_policy, reporter)
    counts_per_class = [sum(r["label"] == i for r in records) for i in range(len(class_names))]
    empty = [class_names[i] for i, c in enumerate(counts_per_class) if c == 0]
    if empty:  # the claim removes this run's files (only gfp's own names) on the way out
        raise GfpError(f"no readable images in source folder(s): {', '.join(empty)}")
    split_indices = _stratified_split(records, class_names, split, seed)
    counts, digests = {}, {}
    for name in SPLITS:
        idx = np.sort(np.array(split_indices[name], dtype=np.int64))
        labels = np.array([records[i]["label"] for i in idx], dtype=np.int64)
        digests[name] = _write_split(out, name, decoded, idx, labels, resolution)
        counts[name] = {c: int((labels == i).sum()) for i, c in enumerate(class_names)}
    del decoded
    staging.unlink()
    settings = dataset_settings(class_names, resolution, size_policy, list(split), seed)
    manifest = build_manifest(settings, counts, digests, str(src.resolve()), records, skipped)
    write_json(out / MANIFEST, manifest)
    return manifest


def _decode(src: Path, sources, staging: Path, resolution: int, size_policy: str, reporter):
    """Every source image, decoded and size-fitted into the memory-mapped ``staging`` array in source order:
    ``(array, one record per kept image, the skipped files)``."""
    total = sum(len(files) for _, files in sources)
    try:  # space for every image now: a full disk is one line here, not a SIGBUS later
        decoded = open_memmap_for_writing(staging, np.uint8, (total, 3, resolution, resolution))
    except OSError as exc:
        raise write_error(staging, exc) from None
    records: list[dict] = []  # one per kept image, in staging order
    skipped: list[dict] = []
    task = reporter.task("decoding images", total=total)

    def relative(path: Path) -> str:
        return str(path.relative_to(src))

    for label, (name, files) in enumerate(sources):
        for path, rgb in decode_each(
            files, skipped, reporter, name=relative, on_file=task.advance, image_names_only=True
        ):
            decoded[len(records)] = fit_to_size(rgb, resolution, size_policy).transpose(2, 0, 1)
            records.append(
                {
                    "path": str(path.relative_to(src)),
                    "class": name,
                    "label": label,
                    "sha256": file_sha256(path),
                    "size": [int(rgb.shape[1]), int(rgb.shape[0])],
                }
            )
    task.done()
    decoded.flush()
    return decoded, records, skipped


def _stratified_split(records: list[dict], class_names, split, seed: int) -> dict[str, list[int]]:
    """Each class shuffled with the seed and cut by the fractions: the record indices of each split (and
    ``record["split"]`` set)."""
    rng = np.random.default_rng(seed)
    split_indices: dict[str, list[int]] = {s: [] for s in SPLITS}
    for label in range(len(class_names)):
        idx = np.array([i for i, r in enumerate(records) if r["label"] == label])
        idx = idx[rng.permutation(len(idx))]
        n_val, n_test = round(len(idx) * split[1]), round(len(idx) * split[2])
        n_train = len(idx) - n_val - n_test
        if n_train < 1:
            raise GfpError(f"class {class_names[label]!r} has {len(idx)} image(s): too few for split {split}")
        for name, part in zip(SPLITS, np.split(idx, [n_train, n_train + n_val])):
            split_indices[name].extend(int(i) for i in part)
            for i in part:
                records[i]["split"] = name
    return split_indices


def _write_split(out: Path, name: str, decoded, idx, labels, resolution: int) -> str:
    """``{name}_images.npy`` (rows ``idx`` of ``decoded``) and ``{name}_labels.npy``; returns the sha256 of
    the stored pixels and labels, so the dataset hash covers the arrays."""
    digest = hashlib.sha256()
    with atomic_path(out / f"{name}_images.npy") as tmp:
        arr = open_memmap_for_writing(tmp, np.uint8, (len(idx), 3, resolution, resolution))
        for start in range(0, len(idx), 1024):  # chunked copy keeps memory flat
            chunk = decoded[idx[start : start + 1024]]
            arr[start : start + 1024] = chunk
            digest.update(chunk.tobytes())
        arr.flush()
        del arr
    with atomic_path(out / f"{name}_labels.npy") as tmp, open(tmp, "wb") as fh:
        np.save(fh, labels)  # a file object: np.save would append ".npy" to a path
    digest.update(labels.tobytes())
    return digest.hexdigest()


def dataset_settings(classes, resolution, size_policy, split_fractions, seed) -> dict:
    """How a dataset was made, as its manifest records (and hashes) it."""
    return {
        "classes": list(classes),
        "resolution": int(resolution),
        "size_policy": size_policy,
        "split_fractions": split_fractions,
        "seed": seed,
    }


def build_manifest(settings, counts, digests, source, files=(), skipped=(), provenance=None) -> dict:
    """The ``manifest.json`` of a prepared dataset, from ``gfp prepare`` (``files``: one record per source
    image, in the hash) or from :func:`write_dataset` (no files; ``provenance``). Its ``hash`` covers the
    settings, the files' contents, labels and splits, and the arrays."""
    hashed_files = {"files": [(r["sha256"], r["label"], r["split"]) for r in files]} if files else {}
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        **settings,
        "counts": counts,
        "preprocessing": {
            "size_policy": settings["size_policy"],
            "color": "RGB 8-bit",
            "layout": "uint8 NCHW",
        },
        "source": source,
        **({"provenance": provenance} if provenance is not None else {}),
        "files": list(files),
        "skipped": list(skipped),
        "array_sha256": digests,
        "hash": json_sha256({**settings, **hashed_files, "arrays": digests}),
    }


@dataclass
class PreparedDataset:
    path: Path
    manifest: dict

    @property
    def classes(self) -> list[str]:
        return list(self.manifest["classes"])

    @property
    def resolution(self) -> int:
        return int(self.manifest["resolution"])

    @property
    def hash(self) -> str:
        return self.manifest["hash"]

    def split(self, name: str) -> Split:
        """A split's arrays (images memory-mapped), checked against the manifest: one line when they differ."""
        if name not in SPLITS:
            raise GfpError(f"unknown split {name!r}; use one of {', '.join(SPLITS)}")
        images_path, labels_path = (self.path / f"{name}_{k}.npy" for k in ("images", "labels"))
        try:
            check_regular(images_path, labels_path)  # a FIFO there would block np.load forever
            images = np.load(images_path, mmap_mode="r")
            labels = np.load(labels_path)
        except (OSError, ValueError) as exc:
            raise GfpError(f"{self.path}: split {name!r} is missing or unreadable ({exc})") from None
        r = self.resolution
        expected = sum(self.manifest["counts"].get(name, {}).values())
        if images.dtype != np.uint8 or images.shape != (expected, 3, r, r):
            raise GfpError(
                f"{images_path}: holds {images.dtype} {list(images.shape)}, but "
                f"{MANIFEST} describes uint8 {[expected, 3, r, r]}"
            )
        if labels.shape != (expected,) or labels.dtype.kind not in "iu":
            raise GfpError(
                f"{labels_path}: holds {labels.dtype} {list(labels.shape)}, but "
                f"{MANIFEST} describes {expected} integer labels"
            )
        if expected and (labels.min() < 0 or labels.max() >= len(self.classes)):
            raise GfpError(
                f"{labels_path}: labels outside 0..{len(self.classes) - 1}, the "
                f"{len(self.classes)} classes of {MANIFEST}"
            )
        return Split(images=images, labels=labels.astype(np.int64))


def load_dataset(path: str | os.PathLike) -> PreparedDataset:
    path = Path(path)
    missing = f"{path}: not a prepared dataset (no {MANIFEST}); create one with `gfp prepare`"
    manifest = read_document(path / MANIFEST, FORMAT, missing)
    check_manifest(manifest, path / MANIFEST)
    return PreparedDataset(path, manifest)


def write_dataset(
    out: str | os.PathLike,
    classes: list[str],
    splits: dict[str, tuple[np.ndarray, np.ndarray]],
    provenance: dict | None = None,
) -> PreparedDataset:
    """Write in-memory uint8 images ``[N, 3, R, R]`` + labels per split as a prepared dataset (the same
    format ``gfp prepare`` writes), for data that never were files: generator samples, crops."""
    with claim_dataset_folder(Path(out)):
        return _write_arrays(Path(out), classes, splits, provenance)


def _write_arrays(out: Path, classes, splits, provenance) -> PreparedDataset:
    resolution = None
    counts, digests = {}, {}
    for name in SPLITS:
        images, labels = splits.get(name, (None, None))
        if images is None:
            images, labels = (
                np.zeros((0, 3, resolution or 1, resolution or 1), np.uint8),
                np.zeros(0, np.int64),
            )
        images, labels = np.ascontiguousarray(images, dtype=np.uint8), np.asarray(labels, dtype=np.int64)
        resolution = resolution or images.shape[-1]
        if images.ndim != 4 or images.shape[1:] != (3, resolution, resolution) or len(images) != len(labels):
            raise GfpError(f"split {name!r}: expected uint8 [N, 3, {resolution}, {resolution}] and N labels")
        for suffix, arr in (("images", images), ("labels", labels)):
            with atomic_path(out / f"{name}_{suffix}.npy") as tmp, open(tmp, "wb") as fh:
                np.save(fh, arr)
        counts[name] = {c: int((labels == i).sum()) for i, c in enumerate(classes)}
        digests[name] = hashlib.sha256(images.tobytes() + labels.tobytes()).hexdigest()
    settings = dataset_settings(classes, resolution, "crop", None, None)
    manifest = build_manifest(settings, counts, digests, "in-memory arrays", provenance=provenance or {})
    write_json(out / MANIFEST, manifest)
    return PreparedDataset(out, manifest)
