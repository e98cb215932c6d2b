"""Scheduler writes. `job_run` is the ONE path that the API, admin, CLI and scheduler call."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django_apscheduler.models import DjangoJobExecution

from scheduler_app import locks, registry, runner, runs, selectors
from scheduler_app.definitions import job_definitions_sync
from scheduler_app.locks import LockState
from scheduler_app.models import JobDefinition, JobRun, SchedulerInstance
from scheduler_app.registry import InvalidJobParams, JobNotFound
from scheduler_app.runs import RunNotRecorded
from scheduler_app.scheduler import control

# The names other apps use: job_run, its errors, and the trigger names it takes.
__all__ = ["InvalidJobParams", "JobNotFound", "RunNotRecorded", "Trigger", "job_definitions_sync", "job_run"]

Trigger = JobRun.Trigger

logger = logging.getLogger("scheduler_app")


def job_run(*, job_id: str, trigger: str, user=None, team=None, params: dict | None = None,
            wait_seconds: float | None = None, scheduled_for: datetime | None = None, background: bool = False,
            progress: Callable[[str, int, int | None], None] | None = None) -> JobRun:
    """Run a job behind its execution lock and return its JobRun: the one way every trigger starts a job.

    Raises JobNotFound or InvalidJobParams for bad input, and RunNotRecorded when the database cannot take the run
    row. Every other outcome, refusals included, is the run's status (SKIPPED with skip_reason lock_held /
    lock_unavailable when it did not start; `selectors.run_refusal` says why). With `background` the lock is taken
    here and the body runs in a thread of its own (the run comes back RUNNING); otherwise it runs to its end, and
    the run carries `job_value` and `job_exception` for a direct call.
    """
    return runner.run_job(registry.get(job_id), trigger=trigger, user=user, team=team, params=params,
                          wait_seconds=wait_seconds, scheduled_for=scheduled_for, background=background,
                          progress=progress)


def job_runs_cancel_active(*, reason: str = "shutdown") -> int:
    """A process that is stopping asks its runs to end (CANCELLED at their next ctx.check()) and release."""
    return runner.runs_cancel_active(reason=reason)


def lock_force_release(*, key: str) -> bool:
    """Delete a lock whoever holds it (an operator's decision). Logged."""
    released = locks.force_release(key)
    if released:
        logger.warning("Lock for job: %s force-released by an operator", key)
    return released


def job_locks_force_release(*, job_id: str) -> list[str]:
    """Force-release every lock of a job: its own key and, for a team-scoped job, each team's key. Logged."""
    states, _redis_ok = locks.list_locks()
    keys = sorted({state.key for state in states if state.job_id == job_id} | {job_id})
    return [key for key in keys if lock_force_release(key=key)]


def locks_clear_stale() -> list[LockState]:
    """Reap dead runs, then delete the locks that are stale (holder's run finished/abandoned, or no TTL).

    Deletion is compare-and-delete on the stale holder's token, so a lock that changed hands meanwhile stays.
    A live holder's lock is never stale and never removed.
    """
    runs.runs_reap_abandoned()
    cleared = []
    for state in selectors.lock_states():
        if not state.extra.get("stale"):
            continue
        if locks.release_if_unchanged(state):
            logger.warning("Stale lock for job: %s cleared (%s)", state.key, state.extra.get("stale_reason"))
            cleared.append(state)
    return cleared


def reaper_run() -> dict:
    """What the scheduler runs every minute: abandoned runs, then stale locks."""
    abandoned = runs.runs_reap_abandoned()
    cleared = locks_clear_stale()
    return {"abandoned": abandoned, "locks_cleared": [state.key for state in cleared]}


def run_history_delete_before(*, cutoff: datetime, batch_size: int = 10_000) -> int:
    """Delete finished JobRun rows (and django-apscheduler executions) older than `cutoff`, in batches of at
    most `batch_size` rows per transaction. Returns how many JobRun rows went."""
    deleted = 0
    for model, field, extra in (
        (JobRun, "created_at", {"status__in": JobRun.FINISHED}),
        (DjangoJobExecution, "run_time", {}),
    ):
        while True:
            ids = list(model.objects.filter(**{f"{field}__lt": cutoff}, **extra)
                       .values_list("pk", flat=True)[:batch_size])
            if not ids:
                break
            with transaction.atomic():
                count, _ = model.objects.filter(pk__in=ids).delete()
            if model is JobRun:
                deleted += count
    return deleted


# --- The scheduler process (issue #3) ---------------------------------------------------------------------------------

def scheduler_reload_request() -> dict:
    """Ask every scheduler to re-read the job definitions. Running jobs are not interrupted.

    The database version (the definitions' newest `updated_at`) is bumped first, so a scheduler that misses the
    Redis message still reloads at its next heartbeat.
    """
    now = timezone.now()
    touched = JobDefinition.objects.update(updated_at=now)
    receivers = control.reload_publish()
    logger.info("Scheduler reload requested (%s definitions, %s live listeners)", touched, receivers)
    return {"requested_at": now, "definitions": touched, "redis_receivers": receivers}


def job_run_record_not_started(*, job_id: str, scheduled_for: datetime | None, status: str, skip_reason: str = "",
                               error: str = "") -> JobRun:
    """A JobRun row for a scheduled fire that never reached the lock: MISSED (misfire, coalesced) or SKIPPED (max
    instances, or a late duplicate of a slot that ran). Several schedulers see the same missed slot, so an existing
    MISSED row for it is returned instead of a second one. The check and the insert are one transaction that
    recorders of the same job take in turn: the definition's row lock on PostgreSQL, SQLite's IMMEDIATE
    transactions (its write lock) there."""
    def create() -> JobRun:
        logger.warning("Scheduled run of job: %s for %s %s: %s", job_id, scheduled_for, status, error)
        return JobRun.objects.create(job_id=job_id, lock_key=job_id, trigger=JobRun.Trigger.SCHEDULED,
                                     status=status, skip_reason=skip_reason, scheduled_for=scheduled_for,
                                     finished_at=timezone.now(), duration_ms=0, error=error)

    if status != JobRun.Status.MISSED:
        return create()
    with transaction.atomic():
        list(JobDefinition.objects.select_for_update().filter(job_id=job_id).values_list("pk", flat=True))
        existing = JobRun.objects.filter(job_id=job_id, trigger=JobRun.Trigger.SCHEDULED, status=status,
                                         skip_reason=skip_reason, scheduled_for=scheduled_for).first()
        return existing if existing is not None else create()


def scheduler_instance_start(*, host: str, pid: int):
    now = timezone.now()
    return SchedulerInstance.objects.create(host=host, pid=pid, started_at=now, heartbeat_at=now)


def scheduler_instance_beat(*, instance_id: int) -> None:
    SchedulerInstance.objects.filter(pk=instance_id).update(heartbeat_at=timezone.now())


def scheduler_instance_stop(*, instance_id: int) -> None:
    SchedulerInstance.objects.filter(pk=instance_id).update(stopped_at=timezone.now())


def job_definition_update(*, definition: JobDefinition, data: dict) -> JobDefinition:
    """Edit a job's schedule and policy (validated like the admin form), then ask every scheduler to reload."""
    for name, value in data.items():
        setattr(definition, name, value)
    definition.full_clean()
    definition.save()
    scheduler_reload_request()
    return definition
