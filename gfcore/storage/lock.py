"""One writer per folder: an exclusive ``flock`` on a hidden lock file that names its holder.

A run folder is written for hours (``gfp train``, ``--resume``, ``gfp calibrate``); two processes writing
one would interleave checkpoints and run.json. :func:`folder_lock` takes the lock *before* the folder is
checked, so the check and the write cannot race. The lock file holds the holder's pid and command, so the
second writer's one line says who holds it. ``flock`` is released by the kernel when the holder dies, even
by ``kill -9``: a lock file left behind holds no lock, and the next writer simply takes it.

The holder removes the file while it still holds the lock; a waiter that had opened it before then finds
that its file is no longer the one at the path, and tries again (so two processes never each hold a lock on
a different file). Locks are re-entrant within a process (a locked training calibrates its run), per folder.
"""

from __future__ import annotations

import errno
import os
from contextlib import contextmanager
from pathlib import Path

from gfcore.errors import GfpError

try:  # POSIX; elsewhere there is no lock (gfp is tested on Linux and macOS)
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

LOCK_NAME = ".gfp-lock"
_held: dict[str, int] = {}  # resolved folder -> how many nested holds this process has on it


def holder_of(folder: str | os.PathLike) -> str:
    """``"pid 1234 (gfp train)"``: who the lock file says holds the lock, or ``"another gfp process"``."""
    try:
        pid, _, what = (Path(folder) / LOCK_NAME).read_text(encoding="utf-8").partition("\n")
        if pid.strip().isdigit():
            return f"pid {pid.strip()}" + (f" ({what.strip()})" if what.strip() else "")
    except (OSError, UnicodeDecodeError):
        pass
    return "another gfp process"  # between its lock and its write of the file


def _open_locked(path: Path) -> int:
    """An fd of ``path/LOCK_NAME``, exclusively locked and still the file at that name."""
    lock = path / LOCK_NAME
    for _ in range(100):  # each retry means a holder just removed the file: it cannot last
        # O_NOFOLLOW: a symlink planted at the lock's name is refused, never followed
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
        try:
            if fcntl is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    raise GfpError(
                        f"{path} is being written by {holder_of(path)}; wait for it to finish, or choose "
                        f"another folder"
                    ) from None
            try:
                if os.path.samestat(os.fstat(fd), os.stat(lock, follow_symlinks=False)):
                    return fd
            except FileNotFoundError:
                pass
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
    raise GfpError(f"could not lock {path}: its lock file keeps changing; try again")


@contextmanager
def folder_lock(folder: str | os.PathLike, what: str):
    """Hold the write lock of ``folder`` (created when missing) for this process; ``what`` names the
    holder in the other writer's message (``"gfp train"``). A folder this call created and that is empty
    again at the end is removed."""
    path = Path(folder)
    if path.exists() and not path.is_dir():
        raise GfpError(f"{path} exists and is not a folder")
    key = str(path.resolve())
    if _held.get(key):
        _held[key] += 1
        try:
            yield
        finally:
            _held[key] -= 1
        return
    top_created = next((p for p in reversed([path, *path.parents]) if not p.exists()), None)
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd = _open_locked(path)
    except (OSError, GfpError) as exc:
        if top_created is not None:
            _remove_empty(path, top_created)  # a refused start leaves no folder behind
        if isinstance(exc, GfpError):
            raise
        if exc.errno == errno.ELOOP:
            raise GfpError(f"{path / LOCK_NAME} is a symbolic link; gfp does not follow it") from None
        raise GfpError(f"cannot lock {path}: {exc.strerror or exc}") from None
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n{what}\n".encode())
    except OSError:
        pass  # the lock holds without its note; the other writer then says "another gfp process"
    _held[key] = 1
    try:
        yield
    finally:
        del _held[key]
        try:
            os.unlink(path / LOCK_NAME)  # while still locked: see the module docstring
        except OSError:
            pass
        os.close(fd)  # releases the lock
        if top_created is not None:
            _remove_empty(path, top_created)


def _remove_empty(path: Path, top: Path) -> None:
    """Remove ``path`` and its parents up to ``top`` while they are empty (what a refused start created)."""
    try:
        for p in [path, *path.parents]:
            p.rmdir()  # fails, and stops, at the first folder that is not empty
            if p == top:
                break
    except OSError:
        pass
