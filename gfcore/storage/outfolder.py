"""Claiming an ``--out`` folder: never delete or overwrite what gfp did not create, never let two gfp
processes write one folder at once.

A folder may be claimed when it is new, empty, or holds only what an interrupted gfp run of the same kind
left there (recognised by its ``.gfp-incomplete`` marker, which is written first and removed last). While a
claim is held, an exclusive ``flock`` on the folder itself keeps a second writer out, so no lock file is
left behind. If the work fails or is interrupted, only the files of gfp's own names are removed, and the
folder too if this claim created it and it is then empty. A ``kill -9`` leaves the marker, so the next
claim knows the leftovers are gfp's and cleans them up.
"""

from __future__ import annotations

import os
import re
from contextlib import contextmanager
from pathlib import Path

from gfcore.errors import GfpError
from gfcore.storage.atomic import temp_name_pattern, write_text

try:  # POSIX; elsewhere per-run temporary names still keep two writers' files apart
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

MARKER = ".gfp-incomplete"


def is_within(path: Path, folder: Path) -> bool:
    """True when ``path`` is ``folder`` or lies inside it (both resolved, symlinks followed)."""
    path, folder = Path(path).resolve(), Path(folder).resolve()
    return path == folder or folder in path.parents


class OutFolder:
    """The files gfp may own in one kind of output folder: final names, and regular expressions for the
    names of its temporaries (atomic-write temporaries of the final names are always included)."""

    def __init__(
        self, path: Path, names: tuple[str, ...], temp_patterns: tuple[str, ...], done: str, what: str
    ):
        self.path, self.names, self.done, self.what = Path(path), set(names) | {done}, done, what
        self._temps = [temp_name_pattern(n) for n in self.names] + [re.compile(p) for p in temp_patterns]

    def is_own(self, name: str) -> bool:
        return name in self.names or name == MARKER or any(p.fullmatch(name) for p in self._temps)

    def is_temp(self, name: str) -> bool:
        return any(p.fullmatch(name) for p in self._temps)

    def remove_own(self, keep_finals: bool = False) -> None:
        """Remove gfp's own entries (temporaries only with ``keep_finals``); anything else stays."""
        for entry in os.scandir(self.path):
            own = self.is_temp(entry.name) if keep_finals else self.is_own(entry.name)
            if own and entry.is_file(follow_symlinks=False):
                Path(entry.path).unlink(missing_ok=True)


@contextmanager
def claim_out_folder(
    out, names, temp_patterns=(), done="manifest.json", what="gfp prepare", kind="a prepared dataset"
):
    """Yield an :class:`OutFolder` for ``out`` that this process alone writes; see the module docstring.

    ``done`` is the file written last (its presence means the folder holds ``kind``, which is refused);
    ``names`` are the other files the work writes; ``what`` names the writer in messages."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise GfpError(f"{out} exists and is not a folder")
    top_created = next((p for p in reversed([out, *out.parents]) if not p.exists()), None)
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd = os.open(out, os.O_RDONLY)
    except OSError as exc:
        raise GfpError(f"cannot create or open {out}: {exc.strerror or exc}") from None
    folder = OutFolder(out, tuple(names), tuple(temp_patterns), done, what)
    started = locked = False
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise GfpError(
                    f"another {what}{_holder(out)} is writing {out}; wait for it to finish"
                ) from None
        locked = True
        if not (out.is_dir() and os.path.samestat(os.fstat(fd), os.stat(out))):
            raise GfpError(f"another {what} replaced {out} meanwhile; try again")
        entries = os.listdir(out)
        if done in entries:
            raise GfpError(f"{out} already holds {kind}; choose another --out or delete it")
        foreign = sorted(e for e in entries if not folder.is_own(e))
        # gfp's final names count as gfp's only beside its marker; its hidden temporaries always do
        if foreign or (MARKER not in entries and not all(folder.is_temp(e) for e in entries)):
            example = (foreign or sorted(entries))[0]
            raise GfpError(
                f"{out} is not empty and is not {kind} (it holds {example!r}); gfp never deletes "
                "what it did not create: choose a new or empty --out"
            )
        started = True
        folder.remove_own()  # an interrupted run's leftovers: gfp's own names only
        note = f"{what} (pid {os.getpid()}) is writing this folder; if none is running, it was interrupted\n"
        write_text(out / MARKER, note)
        yield folder
        (out / MARKER).unlink(missing_ok=True)
    except BaseException:
        if started:
            _clean_up_after_failure(folder, top_created)
        elif locked and top_created is not None and not any(out.iterdir()):
            _remove_created(out, top_created)  # refused in a folder this call created: leave no trace
        raise
    finally:
        os.close(fd)  # releases the lock


def _holder(out: Path) -> str:
    """`` (pid 1234)``: the holder's pid, from the marker it wrote under its lock ("" before it did)."""
    try:
        found = re.search(r"\(pid (\d+)\)", (out / MARKER).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        found = None
    return f" (pid {found.group(1)})" if found else ""


def _clean_up_after_failure(folder: OutFolder, top_created: Path | None) -> None:
    """Remove this run's own files, and the folders this claim created if they are now empty."""
    try:
        folder.remove_own()
    except OSError:
        pass
    if top_created is not None:
        _remove_created(folder.path, top_created)


def _remove_created(path: Path, top_created: Path) -> None:
    try:
        for p in [path, *path.parents]:
            p.rmdir()  # fails, and stops, at the first folder that is not empty
            if p == top_created:
                break
    except OSError:
        pass


def check_study_folder(out, what: str, read_results, leftovers=(), own=None) -> None:
    """Refuse an ``--out`` a study (``what``: ``"gfp bench"``) may not write into. A study fills its folder
    over hours and is run again to reuse its runs, so it is not claimed (:func:`claim_out_folder` refuses a
    finished folder and removes gfp's files when the work fails); this check keeps the same promise: the
    folder is new, empty, holds only ``leftovers`` (the sub-folders an interrupted study left, its runs),
    or holds an earlier study's ``results.json`` (``read_results(path)`` raises one line when it is not
    one) beside, when ``own`` names them, only the study's own files and ``leftovers``."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise GfpError(f"{out} exists and is not a folder")
    entries = {p.name for p in out.iterdir()} if out.is_dir() else set()
    if (out / "results.json").is_file():
        read_results(out / "results.json")
        if own is None:
            return
        entries -= set(own)
    if entries <= set(leftovers):
        return
    raise GfpError(
        f"{out} is not empty and holds no {what} results; gfp does not write into folders it did not "
        "create: choose another --out"
    )
