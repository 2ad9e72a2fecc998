"""Prepared datasets: folders of images per source -> uint8 arrays per split that training memory-maps.

Layout of a prepared dataset folder::

    manifest.json          class order, resolution, size policy, split counts, seed, source files + hashes
    train_images.npy       uint8 [N, 3, R, R]   (memory-mapped by training)
    train_labels.npy       int64 [N]
    val_images.npy ...     the same for val and test

``manifest.json`` is written last, so a folder without it is an unfinished preparation.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .atomic import atomic_path, write_json
from .errors import GfpError
from .hashing import file_sha256, json_sha256
from .images import SIZE_POLICIES, decode_each, fit_to_size
from .interfaces import Split
from .jsonio import read_document
from .progress import NullReporter, Reporter

MANIFEST = "manifest.json"
FORMAT = "gfp-dataset"
FORMAT_VERSION = 1
SPLITS = ("train", "val", "test")


def parse_split_fractions(text: str) -> tuple[float, float, float]:
    """``"0.8,0.1,0.1"`` -> (0.8, 0.1, 0.1); must be three non-negative numbers summing to 1."""
    try:
        parts = tuple(float(p) for p in text.split(","))
    except ValueError:
        raise GfpError(f"--split {text!r}: expected three numbers like 0.8,0.1,0.1") from None
    if len(parts) != 3 or any(p < 0 for p in parts) or abs(sum(parts) - 1.0) > 1e-6:
        raise GfpError(f"--split {text!r}: expected three non-negative fractions (train,val,test) summing to 1")
    if parts[0] == 0:
        raise GfpError(f"--split {text!r}: the train fraction must be positive")
    return parts  # type: ignore[return-value]


def discover_sources(src: Path, classes: list[str] | None) -> list[tuple[str, list[Path]]]:
    """(class name, image files sorted by name) per source folder, in the class order."""
    if not src.is_dir():
        raise GfpError(f"{src}: not a folder (expected one sub-folder of images per source)")
    folders = {p.name: p for p in src.iterdir() if p.is_dir() and not p.name.startswith(".")}
    if classes is None:
        classes = sorted(folders)  # explicit order: by name, never directory-listing order
    else:
        missing = [c for c in classes if c not in folders]
        if missing:
            raise GfpError(f"--classes names {', '.join(missing)}, not found in {src}; sub-folders: "
                           f"{', '.join(sorted(folders)) or '(none)'}")
        if len(set(classes)) != len(classes):
            raise GfpError("--classes lists a class twice")
    if len(classes) < 2:
        raise GfpError(f"{src}: found {len(classes)} source folder(s); attribution needs at least 2")
    sources = []
    for name in classes:
        files = sorted(f for f in folders[name].rglob("*") if f.is_file() and not f.name.startswith("."))
        if not files:
            raise GfpError(f"source folder {folders[name]} is empty")
        sources.append((name, files))
    return sources


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
    if (out / MANIFEST).exists():
        raise GfpError(f"{out} already holds a prepared dataset; choose another --out or delete it")
    sources = discover_sources(src, classes)
    class_names = [name for name, _ in sources]
    total = sum(len(files) for _, files in sources)

    out.mkdir(parents=True, exist_ok=True)
    staging = out / ".decoded.npy"  # every decodable image once, in source order
    decoded = np.lib.format.open_memmap(staging, mode="w+", dtype=np.uint8, shape=(total, 3, resolution, resolution))
    records: list[dict] = []  # one per kept image, in staging order
    skipped: list[dict] = []
    task = reporter.task("decoding images", total=total)
    def relative(path: Path) -> str:
        return str(path.relative_to(src))

    for label, (name, files) in enumerate(sources):
        for path, rgb in decode_each(files, skipped, reporter, name=relative, on_file=task.advance,
                                     image_names_only=True):
            decoded[len(records)] = fit_to_size(rgb, resolution, size_policy).transpose(2, 0, 1)
            records.append({"path": str(path.relative_to(src)), "class": name, "label": label,
                            "sha256": file_sha256(path), "size": [int(rgb.shape[1]), int(rgb.shape[0])]})
    task.done()
    decoded.flush()

    counts_per_class = [sum(r["label"] == i for r in records) for i in range(len(class_names))]
    empty = [class_names[i] for i, c in enumerate(counts_per_class) if c == 0]
    if empty:
        shutil.rmtree(out, ignore_errors=True)
        raise GfpError(f"no readable images in source folder(s): {', '.join(empty)}")

    # Stratified split: each class is shuffled with the seed and cut by the fractions.
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

    counts = {}
    for name in SPLITS:
        idx = np.sort(np.array(split_indices[name], dtype=np.int64))
        with atomic_path(out / f"{name}_images.npy") as tmp:
            arr = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(len(idx), 3, resolution, resolution))
            for start in range(0, len(idx), 1024):  # chunked copy keeps memory flat
                arr[start : start + 1024] = decoded[idx[start : start + 1024]]
            arr.flush()
            del arr
        labels = np.array([records[i]["label"] for i in idx], dtype=np.int64)
        with atomic_path(out / f"{name}_labels.npy") as tmp, open(tmp, "wb") as fh:
            np.save(fh, labels)  # a file object: np.save would append ".npy" to a path
        counts[name] = {c: int((labels == i).sum()) for i, c in enumerate(class_names)}
    del decoded
    staging.unlink()

    settings = {"classes": class_names, "resolution": resolution, "size_policy": size_policy,
                "split_fractions": list(split), "seed": seed}
    manifest = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        **settings,
        "counts": counts,
        "preprocessing": {"size_policy": size_policy, "color": "RGB 8-bit", "layout": "uint8 NCHW"},
        "source": str(src.resolve()),
        "files": records,
        "skipped": skipped,
        "hash": json_sha256({**settings, "files": [(r["sha256"], r["label"], r["split"]) for r in records]}),
    }
    write_json(out / MANIFEST, manifest)
    return manifest


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
        if name not in SPLITS:
            raise GfpError(f"unknown split {name!r}; use one of {', '.join(SPLITS)}")
        try:
            images = np.load(self.path / f"{name}_images.npy", mmap_mode="r")
            labels = np.load(self.path / f"{name}_labels.npy")
        except (OSError, ValueError) as exc:
            raise GfpError(f"{self.path}: split {name!r} is missing or unreadable ({exc})") from None
        if images.dtype != np.uint8 or images.ndim != 4 or len(images) != len(labels):
            raise GfpError(f"{self.path}: split {name!r} arrays are malformed")
        return Split(images=images, labels=labels.astype(np.int64))


def load_dataset(path: str | os.PathLike) -> PreparedDataset:
    path = Path(path)
    missing = f"{path}: not a prepared dataset (no {MANIFEST}); create one with `gfp prepare`"
    return PreparedDataset(path, read_document(path / MANIFEST, FORMAT, missing))


def write_dataset(out: str | os.PathLike, classes: list[str], splits: dict[str, tuple[np.ndarray, np.ndarray]],
                  provenance: dict | None = None) -> PreparedDataset:
    """Write in-memory uint8 images ``[N, 3, R, R]`` + labels per split as a prepared dataset (the same
    format ``gfp prepare`` writes), for data that never were files: generator samples, crops."""
    out = Path(out)
    if (out / MANIFEST).exists():
        raise GfpError(f"{out} already holds a prepared dataset; choose another --out or delete it")
    out.mkdir(parents=True, exist_ok=True)
    resolution = None
    counts, digests = {}, {}
    import hashlib

    for name in SPLITS:
        images, labels = splits.get(name, (None, None))
        if images is None:
            images, labels = np.zeros((0, 3, resolution or 1, resolution or 1), np.uint8), np.zeros(0, np.int64)
        images, labels = np.ascontiguousarray(images, dtype=np.uint8), np.asarray(labels, dtype=np.int64)
        resolution = resolution or images.shape[-1]
        if images.ndim != 4 or images.shape[1:] != (3, resolution, resolution) or len(images) != len(labels):
            raise GfpError(f"split {name!r}: expected uint8 [N, 3, {resolution}, {resolution}] and N labels")
        for suffix, arr in (("images", images), ("labels", labels)):
            with atomic_path(out / f"{name}_{suffix}.npy") as tmp, open(tmp, "wb") as fh:
                np.save(fh, arr)
        counts[name] = {c: int((labels == i).sum()) for i, c in enumerate(classes)}
        digests[name] = hashlib.sha256(images.tobytes() + labels.tobytes()).hexdigest()
    settings = {"classes": list(classes), "resolution": int(resolution), "size_policy": "crop",
                "split_fractions": None, "seed": None}
    manifest = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        **settings,
        "counts": counts,
        "preprocessing": {"size_policy": "crop", "color": "RGB 8-bit", "layout": "uint8 NCHW"},
        "source": "in-memory arrays",
        "provenance": provenance or {},
        "files": [],
        "skipped": [],
        "array_sha256": digests,
        "hash": json_sha256({**settings, "arrays": digests}),
    }
    write_json(out / MANIFEST, manifest)
    return PreparedDataset(out, manifest)
