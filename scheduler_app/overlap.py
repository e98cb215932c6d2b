"""Overlap policies: what a trigger does when its job's key is held (skip, wait, queue_one, replace).

The decisions and the queue's row writes live here; the runner calls them when the lock refuses a trigger.

- skip: SKIPPED lock_held at once (fail fast).
- wait: wait up to the budget for the release signal, then SKIPPED lock_held.
- queue_one: the trigger's QUEUED row is marked queued-behind the holder (`blocked_by`: {"overlap": "queue_one",
  "queued_behind": M, "waiter": {host, pid}}); at most one such row per key, else SKIPPED queue_full. Its waiter
  waits for the release signal and starts it, heartbeating the row (`heartbeat_at`) meanwhile. A row whose waiter
  died is started by whichever holder of the key finishes next, or by the scheduler's reaper: the row, not the
  waiting thread, is the queue, so it survives a kill -9. `runs.run_start` moves only QUEUED rows, so exactly one
  of them starts it.
- replace: the holder is asked to stop (its cancel flag, which its heartbeat carries to any process); it ends
  CANCELLED with skip_reason replaced at its next ctx.check(), and the trigger waits for its release.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import Q
from django.utils import timezone

from scheduler_app.locks.base import HOST
from scheduler_app.models import JobDefinition, JobRun

logger = logging.getLogger("scheduler_app")

Overlap = JobDefinition.OverlapPolicy
POLICIES = tuple(Overlap.values)
QUEUE_MARK = "queue_one"
# cancel_requested_by of a run that a replace trigger asked to stop; its reason and error say "replaced by run #N".
_REPLACE_BY = "run #{run_id} (replace)"
_REPLACE_BY_PATTERN = re.compile(r"^run #(\d+) \(replace\)$")


class InvalidOverlap(ValueError):
    def __init__(self, value: str):
        super().__init__(f"Unknown overlap policy {value!r}: choose one of {', '.join(POLICIES)}")


@dataclass(frozen=True)
class Choice:
    """A trigger's overlap policy and, for wait, its budget in seconds."""

    policy: str
    wait_seconds: float = 0.0


def overlap_choose(*, definition_policy: str, definition_wait: float, overlap: str | None,
                   wait_seconds: float | None) -> Choice:
    """The trigger's policy: its own `overlap`, else an explicit wait_seconds > 0 (wait, that budget), else the
    definition's. "wait" without a budget uses the definition's wait_seconds; a wait of 0 behaves as skip. An
    explicit wait_seconds of 0 keeps the old meaning (fail fast) for a definition whose policy is wait."""
    if overlap is not None and overlap not in POLICIES:
        raise InvalidOverlap(overlap)
    if overlap is None:
        if wait_seconds is not None and wait_seconds > 0:
            return Choice(Overlap.WAIT, wait_seconds)
        overlap = definition_policy
        if overlap == Overlap.WAIT and wait_seconds is not None:
            return Choice(Overlap.SKIP)
    if overlap == Overlap.WAIT:
        budget = wait_seconds if wait_seconds else definition_wait
        return Choice(Overlap.WAIT, budget) if budget > 0 else Choice(Overlap.SKIP)
    return Choice(overlap)


def runs_detached(*, trigger: str, policy: str) -> bool:
    """A scheduled fire of a queue_one or replace job runs in the background: the scheduler's own one-fire-per-job
    guard (max instances) would otherwise refuse the next slot before the policy could queue or replace."""
    return trigger == JobRun.Trigger.SCHEDULED and policy in (Overlap.QUEUE_ONE, Overlap.REPLACE)


# --- queue_one ---------------------------------------------------------------------------------------------------

def _queued(*, job_id: str, lock_key: str):
    # job_id first: the (job_id, status) index finds the job's QUEUED rows (this runs at every run's end)
    return JobRun.objects.filter(job_id=job_id, status=JobRun.Status.QUEUED, lock_key=lock_key,
                                 blocked_by__overlap=QUEUE_MARK)


def queue_claim(run: JobRun, *, holder_run_id: int | None) -> JobRun | None:
    """Mark `run` as the key's one queued run, behind `holder_run_id`. Returns the run already queued instead (the
    queue is full), or None once `run` is queued. Claims of one job take turns: the definition's row lock on
    PostgreSQL, SQLite's IMMEDIATE transaction there."""
    mark = {"overlap": QUEUE_MARK, "queued_behind": holder_run_id, "waiter": {"host": HOST, "pid": os.getpid()}}
    with transaction.atomic():
        list(JobDefinition.objects.select_for_update().filter(job_id=run.job_id).values_list("pk", flat=True))
        other = _queued(job_id=run.job_id, lock_key=run.lock_key).exclude(pk=run.pk).order_by("pk").first()
        if other is not None:
            return other
        JobRun.objects.filter(pk=run.pk, status=JobRun.Status.QUEUED).update(
            blocked_by=mark, heartbeat_at=timezone.now(), host=HOST, pid=os.getpid())
    run.blocked_by = mark
    return None


def queue_full_details(*, queued: JobRun, blocked_by: dict | None) -> tuple[dict, str]:
    """The blocked_by and error of a trigger refused because `queued` already waits."""
    behind = (queued.blocked_by or {}).get("queued_behind")
    details = {**(blocked_by or {}), "queued_run_id": queued.pk, "queued_behind": behind}
    return details, f"A run is already queued: run #{queued.pk} (behind run #{behind})"


def queue_waiter_beat(run: JobRun) -> bool:
    """The waiter's heartbeat on its queued row; False once the row has left QUEUED (started elsewhere, or
    cancelled)."""
    return bool(JobRun.objects.filter(pk=run.pk, status=JobRun.Status.QUEUED).update(heartbeat_at=timezone.now()))


def waiter_alive(run: JobRun) -> bool:
    """Is the process that queued `run` still waiting for it? Dead when it is gone from this host, or its heartbeat
    on the row is older than one lease."""
    waiter = (run.blocked_by or {}).get("waiter") or {}
    if waiter.get("host") == HOST and waiter.get("pid"):
        try:
            os.kill(int(waiter["pid"]), 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass  # another user's process: it exists
    fresh = timezone.now() - timedelta(seconds=settings.LOCK_LEASE_SECONDS)
    return run.heartbeat_at is not None and run.heartbeat_at >= fresh


def queued_orphan(*, job_id: str, lock_key: str) -> JobRun | None:
    """The key's queued run if the process that queued it is gone (so someone else must start it)."""
    run = _queued(job_id=job_id, lock_key=lock_key).select_related("team", "user").order_by("pk").first()
    return run if run is not None and not waiter_alive(run) else None


def queued_orphans() -> list[JobRun]:
    """Every queued run whose waiter is gone and whose key has no RUNNING run: for the reaper to start."""
    rows = JobRun.objects.filter(status=JobRun.Status.QUEUED, blocked_by__overlap=QUEUE_MARK).select_related(
        "team", "user").order_by("pk")
    running = set(JobRun.objects.filter(status=JobRun.Status.RUNNING).values_list("lock_key", flat=True))
    return [run for run in rows if run.lock_key not in running and not waiter_alive(run)]


def not_queue_one() -> Q:
    """QUEUED rows that are no queue_one queue (the reaper ends those when their trigger died waiting)."""
    return Q(blocked_by__isnull=True) | ~Q(blocked_by__has_key="queued_behind")


# --- replace -----------------------------------------------------------------------------------------------------

def replace_request(*, holder_run_id: int, by_run: int) -> bool:
    """Ask the key's holder to stop for `by_run` (its heartbeat carries the flag to its process), and end a run
    queued behind it: the newest trigger wins. True when the holder was still RUNNING."""
    now = timezone.now()
    by = replace_by(by_run)
    asked = JobRun.objects.filter(pk=holder_run_id, status=JobRun.Status.RUNNING).update(
        cancel_requested_at=now, cancel_requested_by=by)
    logger.warning("Run %s replaces run %s: asked it to stop at its next ctx.check()", by_run, holder_run_id,
                   extra={"run_id": by_run})
    return bool(asked)


def queued_replace(*, job_id: str, lock_key: str, by_run: int) -> int:
    """A replace trigger ends the run queued on its key (it would otherwise start after the replacement)."""
    return _queued(job_id=job_id, lock_key=lock_key).update(
        status=JobRun.Status.CANCELLED, skip_reason=JobRun.SkipReason.REPLACED, finished_at=timezone.now(),
        duration_ms=0, error=replaced_reason(by_run))


def replace_by(run_id: int) -> str:
    """The cancel_requested_by a replace trigger writes on the run it replaces."""
    return _REPLACE_BY.format(run_id=run_id)


def replaced_reason(run_id: int) -> str:
    return f"replaced by run #{run_id}"


def cancel_reason(by: str) -> str:
    """The reason a cancelled run gets: "replaced by run #N" for a replace trigger, else who cancelled it."""
    match = _REPLACE_BY_PATTERN.match(by or "")
    if match:
        return replaced_reason(int(match.group(1)))
    return f"cancelled by {by}" if by else "cancelled by an operator"


def cancel_outcome(reason: str | None) -> tuple[str, str] | None:
    """(skip_reason, error) of a run cancelled by a replace trigger; None for any other cancellation."""
    if reason and reason.startswith("replaced by run #"):
        return JobRun.SkipReason.REPLACED, reason
    return None


def replace_budget(holder: JobRun | None, *, timeout_seconds: float) -> float:
    """How long a replace trigger waits for the holder's release: what is left of the holder's timeout (it cannot
    hold longer), plus one lease for a dead holder to be taken over."""
    lease = settings.LOCK_LEASE_SECONDS
    if holder is None or holder.started_at is None:
        return timeout_seconds + lease
    limit = holder.timeout_seconds or timeout_seconds
    return max(0.0, limit - (timezone.now() - holder.started_at).total_seconds()) + lease


def holder_run(*, lock_key: str, run_id: int | None) -> JobRun | None:
    try:
        rows = JobRun.objects.filter(lock_key=lock_key, status=JobRun.Status.RUNNING)
        return (rows.filter(pk=run_id).first() if run_id else None) or rows.first()
    except DatabaseError:
        return None
