"""Atomic file writes: write to a temporary name in the same folder, fsync, then rename into place, so an
interrupted process never leaves a half-written file that looks whole.

A write that fails for want of space (or any other ``OSError``: a quota, a read-only disk) removes its
temporary and is one :class:`~gfcore.errors.GfpError` line naming the file; the file it would have
replaced is untouched. Memory-mapped outputs (:func:`open_memmap_for_writing`) get their blocks allocated
before any page is written: a full disk is then an ``OSError`` at once, not a ``SIGBUS`` in the middle.

Temporary names are hidden and recognisable (``.NAME.XXXXXXXX.tmp``), so the next run in the same folder
can remove those a killed process left behind (:func:`remove_stale_temps`), and nothing else. Files get
the user's usual permissions (``0o666`` minus the umask), not the ``0o600`` of ``mkstemp`` or of a library
that writes a temporary of its own and renames it over ours (as safetensors' ``save_file`` does): the mode
is set on the finished file, just before the rename.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from contextlib import contextmanager
from pathlib import Path

from gfcore.errors import GfpError


def write_error(path, exc: OSError) -> GfpError:
    """``cannot write PATH: No space left on device``: an OS error of a write, as one line."""
    return GfpError(f"cannot write {path}: {exc.strerror or exc}")


def default_file_mode() -> int:
    """``0o666 & ~umask``: the mode ``open()`` gives a new file (read from /proc, so no umask race).

    Read afresh for every write, not cached: it costs microseconds beside the write's fsync, and a
    process (a test, a program embedding gfcore) may change its umask between writes."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    # not on Linux (or a kernel before 4.7): read it the only portable way and put it back at once; a
    # thread creating a file in between gets 0o022, the usual umask, rather than 0 (world-writable)
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def temp_name_pattern(name: str) -> re.Pattern:
    """The names :func:`atomic_path` gives temporaries of ``name`` (mkstemp's 8 random characters)."""
    return re.compile(rf"\.{re.escape(name)}\.[A-Za-z0-9_]{{8}}\.tmp")


def remove_stale_temps(folder: str | os.PathLike, names) -> list[Path]:
    """Remove the temporaries of ``names`` that an interrupted process left in ``folder``; returns them.

    Only gfp's own temporary names of the given files are touched. Call it only while no other gfp
    process can be writing those files (under a lock, or in a folder this process owns)."""
    folder = Path(folder)
    patterns = [temp_name_pattern(n) for n in names]
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if entry.is_file(follow_symlinks=False) and any(p.fullmatch(entry.name) for p in patterns):
            Path(entry.path).unlink(missing_ok=True)
            removed.append(Path(entry.path))
    return removed


@contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path beside ``path``; on success it replaces ``path``, on error it is removed."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise write_error(path, exc) from None
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as fh:
            # after the writer, not on mkstemp's file: a writer may have replaced that file with its own
            if hasattr(os, "fchmod"):
                os.fchmod(fh.fileno(), default_file_mode())
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise write_error(path, exc) from None
        raise


def open_memmap_for_writing(path, dtype, shape):
    """``numpy.lib.format.open_memmap(path, "w+", ...)`` with every block of the file allocated first.

    A memory map writes through page faults: on a full disk the kernel can only answer one with SIGBUS,
    which kills the process with no message. ``posix_fallocate`` asks for the space up front, so a disk
    without room is an ``OSError`` (one line, through :func:`atomic_path` or :func:`write_error`)."""
    import numpy as np

    array = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape)
    if hasattr(os, "posix_fallocate") and array.nbytes:
        try:
            with open(path, "rb+") as fh:
                os.posix_fallocate(fh.fileno(), 0, os.fstat(fh.fileno()).st_size)
        except BaseException:
            del array
            raise
    return array


def write_bytes(path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path, obj) -> None:
    """Strict JSON (NaN and infinities written as null), atomically."""
    from gfcore.storage.jsonio import json_safe

    write_text(path, json.dumps(json_safe(obj), indent=2, allow_nan=False) + "\n")
