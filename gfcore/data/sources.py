"""Source folders for ``gfp prepare``: one sub-folder of image files per source (class)."""

from __future__ import annotations

import os
from pathlib import Path

from gfcore.errors import GfpError


def _cannot_read(exc: OSError) -> GfpError:
    return GfpError(f"cannot read {exc.filename}: {exc.strerror or exc}")


def list_files(folder: Path) -> list[Path]:
    """Every file under ``folder`` (hidden files and folders left out), sorted; an unreadable folder is an
    error, never silently empty (``Path.rglob`` would skip it)."""
    files = []

    def fail(exc: OSError):
        raise _cannot_read(exc)

    for root, dirs, names in os.walk(folder, onerror=fail):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        files.extend(Path(root) / n for n in names if not n.startswith("."))
    return sorted(f for f in files if f.is_file())


def discover_sources(src: Path, classes: list[str] | None) -> list[tuple[str, list[Path]]]:
    """(class name, image files sorted by name) per source folder, in the class order."""
    if not src.is_dir():
        raise GfpError(f"{src}: not a folder (expected one sub-folder of images per source)")
    try:
        folders = {p.name: p for p in src.iterdir() if p.is_dir() and not p.name.startswith(".")}
    except OSError as exc:
        raise _cannot_read(exc) from None
    if classes is None:
        classes = sorted(folders)  # explicit order: by name, never directory-listing order
    else:
        missing = [c for c in classes if c not in folders]
        if missing:
            raise GfpError(
                f"--classes names {', '.join(missing)}, not found in {src}; sub-folders: "
                f"{', '.join(sorted(folders)) or '(none)'}"
            )
        if len(set(classes)) != len(classes):
            raise GfpError("--classes lists a class twice")
    if len(classes) < 2:
        raise GfpError(f"{src}: found {len(classes)} source folder(s); attribution needs at least 2")
    sources = []
    for name in classes:
        files = list_files(folders[name])
        if not files:
            raise GfpError(f"source folder {folders[name]} is empty")
        sources.append((name, files))
    return sources
