"""Progress bars for the CLI: a rich display on stderr, only on a terminal, and only once an
operation has run for a second (a quick command prints nothing extra). It listens to the
library's progress events (:mod:`lake.progress`), one bar per operation and dataset."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from .output import err

if TYPE_CHECKING:
    from rich.progress import Progress as Bars
    from rich.progress import TaskID

    from lake.progress import Progress

DELAY = 1.0  # seconds an operation runs before its bar appears


class Display:
    """Receives :class:`lake.progress.Progress` events; draws once :data:`DELAY` has passed."""

    def __init__(self) -> None:
        self._start = time.monotonic()
        self._bars: Bars | None = None
        self._tasks: dict[tuple[str, str], TaskID] = {}

    @staticmethod
    def wanted() -> bool:
        return err.is_terminal

    def __call__(self, event: Progress) -> None:
        if self._bars is None:
            if time.monotonic() - self._start < DELAY:
                return
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._bars = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[unit]}"),
                TimeElapsedColumn(),
                console=err,
                transient=True,
            )
            self._bars.start()
        key = (event.operation, event.detail)
        task = self._tasks.get(key)
        label = f"{event.operation} {event.detail}".strip()
        if task is None:
            task = self._tasks[key] = self._bars.add_task(label, total=event.total, unit=event.unit)
        self._bars.update(task, completed=event.done, total=event.total, unit=event.unit)

    def stop(self) -> None:
        if self._bars is not None:
            self._bars.stop()
            self._bars = None
