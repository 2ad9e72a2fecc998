"""Only regular files are read as data. A FIFO, a device (``/dev/zero``) or a socket put where gfp expects a
file would block the read forever or never end it, so each is refused in one line instead.

:func:`open_regular` opens without blocking (``O_NONBLOCK``: opening a FIFO for reading otherwise waits for
a writer) and checks the opened file itself, so nothing can be swapped in between the check and the read.
:func:`check_regular` is for readers that need a path (memory maps): a ``stat``, which never blocks.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from gfcore.errors import GfpError


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "not a regular file"


def not_regular(path: str | os.PathLike, mode: int) -> GfpError:
    return GfpError(f"{path}: {_kind(mode)}, not a regular file; gfp reads data only from regular files")


def check_regular(*paths: str | os.PathLike) -> None:
    """Raise one line when one of ``paths`` exists and is not a regular file (symbolic links are followed)."""
    for path in paths:
        try:
            mode = os.stat(path).st_mode
        except OSError:
            continue  # missing or unreadable: the reader says so in its own words
        if not stat.S_ISREG(mode):
            raise not_regular(path, mode)


def open_regular(path: str | os.PathLike):
    """``open(path, "rb")`` for a regular file only; anything else is a :class:`GfpError` (an
    :class:`OSError` such as a missing file passes through, for the caller's message)."""
    fd = os.open(Path(path), os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise not_regular(path, mode)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular_bytes(path: str | os.PathLike) -> bytes:
    with open_regular(path) as fh:
        return fh.read()
