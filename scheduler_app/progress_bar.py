"""runjob's live progress bar: one bar per task (per board) when attached to a terminal."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn


@contextmanager
def progress_display(*, enabled: bool) -> Iterator:
    """Yield a `progress(task, done, total)` listener that draws the bars, or None when not `enabled`."""
    if not enabled:
        yield None
        return
    tasks: dict[str, int] = {}
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), transient=False) as bar:

        def listener(task: str, done: int, total: int | None) -> None:
            if task not in tasks:
                tasks[task] = bar.add_task(task, total=total)
            bar.update(tasks[task], completed=done, total=total)

        yield listener
