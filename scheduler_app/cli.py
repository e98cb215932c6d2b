"""Helpers shared by the scheduler's management commands (parsing and display only)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.core.management.base import CommandError


def resolve_team(team_id: int | None):
    if team_id is None:
        return None
    from scraping_app.selectors import team_get

    team = team_get(team_id=team_id)
    if team is None:
        raise CommandError(f"Unknown team: {team_id}", returncode=2)
    return team


@contextmanager
def progress_display(*, enabled: bool) -> Iterator:
    """A live progress bar per task (per board) when attached to a terminal; nothing otherwise."""
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    tasks: dict[str, int] = {}
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), transient=False) as bar:

        def listener(task: str, done: int, total: int | None) -> None:
            if task not in tasks:
                tasks[task] = bar.add_task(task, total=total)
            bar.update(tasks[task], completed=done, total=total)

        yield listener
