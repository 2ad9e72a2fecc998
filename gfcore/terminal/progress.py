"""Progress reporting on stderr (rich), so stdout stays clean for results and ``--json``."""

from __future__ import annotations

import sys
from contextlib import contextmanager

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

stderr_console = Console(stderr=True)


class Task:
    def __init__(self, progress: Progress | None, task_id):
        self._progress, self._id = progress, task_id

    def advance(self, n: float = 1) -> None:
        if self._progress is not None:
            self._progress.advance(self._id, n)

    def update(self, **fields) -> None:
        """Set ``description=``, ``total=``, ``completed=`` or extra columns (``status=``)."""
        if self._progress is not None:
            known = {k: fields.pop(k) for k in ("description", "total", "completed") if k in fields}
            self._progress.update(self._id, **known, **fields)

    def done(self) -> None:
        if self._progress is not None:
            task = next((t for t in self._progress.tasks if t.id == self._id), None)
            if task is not None and task.total is not None:
                self._progress.update(self._id, completed=task.total)


class Reporter:
    """What library code sees: tasks with bars and log lines printed above them."""

    def __init__(self, progress: Progress | None = None, console: Console | None = None):
        self._progress = progress
        self.console = console or stderr_console

    def task(self, description: str, total: float | None = None) -> Task:
        if self._progress is None:
            return Task(None, None)
        return Task(self._progress, self._progress.add_task(description, total=total, status=""))

    def log(self, message: str) -> None:
        """A line on stderr above any bars (warnings, summaries)."""
        self.console.print(message, highlight=False, markup=False, soft_wrap=True)

    def warn(self, message: str) -> None:
        self.console.print(f"[yellow]warning:[/yellow] {escape(message)}", highlight=False, soft_wrap=True)


class NullReporter(Reporter):
    """Reports nothing but warnings (library use, tests)."""

    def __init__(self):
        super().__init__(None, Console(file=sys.stderr, quiet=False))

    def log(self, message: str) -> None:
        pass


@contextmanager
def progress_reporter(enabled: bool = True):
    """A :class:`Reporter` with a live rich progress display on stderr for the duration of the block."""
    if not enabled:
        yield Reporter(None)
        return
    progress = Progress(
        SpinnerColumn(),
        # markup=False: a description or status holds file and class names, printed literally ("[red]")
        TextColumn("{task.description}", style="progress.description", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[status]}", markup=False),
        console=stderr_console,
    )
    with progress:
        yield Reporter(progress, progress.console)
