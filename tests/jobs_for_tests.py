"""Jobs used by the tests (registered through EXTRA_JOB_MODULES in subprocesses, imported by conftest here)."""

from __future__ import annotations

import asyncio
import os
import time

from django.contrib.auth.models import Group

from scheduler_app.context import current_job_context
from scheduler_app.job_wrapper import with_execution_lock


@with_execution_lock(timeout_minutes=1, name="Quick")
def quick_job() -> dict:
    return {"ok": True}


@with_execution_lock(timeout_minutes=1, name="Hold")
def hold_job(*, seconds: float = 0.0) -> dict:
    """Works in small units and checks its context between them (cooperative cancellation)."""
    ctx = current_job_context()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        ctx.check()
        time.sleep(min(0.02, max(0.0, end - time.monotonic())))
    return {"held": seconds}


@with_execution_lock(timeout_minutes=1, name="Blocking")
def blocking_job(*, seconds: float = 0.0) -> dict:
    """Blocks without checking (a stuck HTTP call): the watchdog must still time it out and free the lock."""
    time.sleep(seconds)
    return {"slept": seconds}


@with_execution_lock(timeout_minutes=1, name="Writer")
def writer_job(*, seconds: float = 0.0, marker: str = "written") -> dict:
    """Sleeps, then writes through ctx.atomic(): the write must not commit if the run timed out or lost its lock."""
    time.sleep(seconds)
    with current_job_context().atomic():
        Group.objects.create(name=marker)
    return {"marker": marker}


@with_execution_lock(timeout_minutes=1, name="Failing")
def failing_job() -> None:
    raise RuntimeError("Test error")


@with_execution_lock(timeout_minutes=1, name="Async")
async def async_job(*, seconds: float = 0.0) -> dict:
    await asyncio.sleep(seconds)
    return {"async": True}


@with_execution_lock(timeout_minutes=1, name="Team scoped", scope="team")
def team_job(*, seconds: float = 0.0, team=None) -> dict:
    time.sleep(seconds)
    return {"team": team.pk if team else None}


@with_execution_lock(timeout_minutes=1, name="Partial")
def partial_job() -> dict:
    current_job_context().mark_partial("board x failed")
    return {"partial": True}


@with_execution_lock(timeout_minutes=5, name="Patient")
def patient_job(*, seconds: float = 120.0) -> dict:
    """Runs long, checking its context often: what a deploy's SIGTERM must stop cleanly."""
    ctx = current_job_context()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        ctx.check()
        time.sleep(0.05)
    return {"waited": seconds}


@with_execution_lock(timeout_minutes=5, name="Progress")
def progress_job(*, steps: int = 3, release_file: str = "") -> dict:
    """Reports each step through ctx.progress(), then waits (checking its context) until `release_file` exists."""
    ctx = current_job_context()
    for step in range(1, steps + 1):
        ctx.progress("boards", step, steps)
    while release_file and not os.path.exists(release_file):
        ctx.check()
        time.sleep(0.02)
    return {"steps": steps}
