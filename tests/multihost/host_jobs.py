"""The jobs the namespaced hosts run (registered there through EXTRA_JOB_MODULES, here by importing this module).

Each run appends two lines to the file named by MULTIHOST_RECORD, each with one O_APPEND write (lines of several
processes never interleave, and a host whose link is cut still writes its own, the file being local):

    start <host> <pid> <run_id> <trigger> <slot iso or -> <monotonic> <wall>
    end   <host> <pid> <run_id> <trigger> <slot iso or -> <monotonic> <wall> <outcome>

<host> is MULTIHOST_NAME (the namespace). The namespaces share the machine's CLOCK_MONOTONIC, so the monotonic
times of different hosts compare. <outcome> is `ok`, or the reason the run was stopped (`lost_lock`, `shutdown`...).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from scheduler_app.context import JobCancelled, current_job_context
from scheduler_app.job_wrapper import with_execution_lock

RECORD_ENV = "MULTIHOST_RECORD"
HOST_ENV = "MULTIHOST_NAME"
TICK_JOB = "multihost_tick_job"
HOLD_JOB = "multihost_hold_job"
TICK_SECONDS = 0.1  # long enough that two overlapping runs would show in the record


def _append(line: str) -> None:
    fd = os.open(os.environ[RECORD_ENV], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def _recorded(body) -> dict:
    """Run `body(ctx)` between a start and an end line."""
    from scheduler_app.models import JobRun

    ctx = current_job_context()
    slot = JobRun.objects.values_list("scheduled_for", flat=True).get(pk=ctx.run_id)
    head = (f"{os.environ.get(HOST_ENV, '-')} {os.getpid()} {ctx.run_id} {ctx.trigger or '-'} "
            f"{slot.isoformat() if slot else '-'}")
    _append(f"start {head} {time.monotonic():.6f} {time.time():.6f}")
    outcome = "exception"
    try:
        body(ctx)
        outcome = "ok"
    except JobCancelled as exc:
        outcome = exc.reason or "cancelled"
        raise
    finally:
        _append(f"end {head} {time.monotonic():.6f} {time.time():.6f} {outcome}")
    return {"host": os.environ.get(HOST_ENV)}


@with_execution_lock(timeout_minutes=1, job_id=TICK_JOB, name="Multihost tick")
def multihost_tick_job() -> dict:
    return _recorded(lambda ctx: time.sleep(TICK_SECONDS))


@with_execution_lock(timeout_minutes=1, job_id=HOLD_JOB, name="Multihost hold")
def multihost_hold_job(*, seconds: float = 0.0) -> dict:
    """Runs `seconds` (default: four leases), checking its context every 10 ms: a lost lock stops it there. (The
    check interval is how late after its lease end the body can still run: keep it short.)"""
    from django.conf import settings

    def hold(ctx) -> None:
        end = time.monotonic() + (seconds or 4 * settings.LOCK_LEASE_SECONDS)
        while time.monotonic() < end:
            ctx.check()
            time.sleep(0.01)

    return _recorded(hold)


@dataclass(frozen=True)
class Run:
    """One run as its record tells it; `end`/`wall_end`/`outcome` are None while it has no end line."""

    host: str
    pid: int
    run_id: int
    trigger: str
    slot: datetime | None
    start: float
    wall_start: float
    end: float | None = None
    wall_end: float | None = None
    outcome: str | None = None


def record_read(path: Path) -> list[Run]:
    """The runs in the record, in start order."""
    if not path.exists():
        return []
    starts: dict[int, Run] = {}
    for raw in path.read_text().splitlines():
        kind, host, pid, run_id, trigger, slot, mono, wall, *rest = raw.split()
        if kind == "start":
            starts[int(run_id)] = Run(host, int(pid), int(run_id), trigger,
                                      None if slot == "-" else datetime.fromisoformat(slot), float(mono), float(wall))
        else:
            run = starts[int(run_id)]
            starts[int(run_id)] = Run(run.host, run.pid, run.run_id, run.trigger, run.slot, run.start,
                                      run.wall_start, float(mono), float(wall), rest[0])
    return sorted(starts.values(), key=lambda run: run.start)


def overlaps(runs: list[Run]) -> list[tuple[Run, Run]]:
    """Pairs (earlier, later) of runs whose monotonic [start, end] intersect; a run with no end lasts forever."""
    pairs = []
    ordered = sorted(runs, key=lambda run: run.start)
    for i, a in enumerate(ordered):
        for b in ordered[i + 1:]:
            if a.end is not None and b.start >= a.end:
                break
            pairs.append((a, b))
    return pairs
