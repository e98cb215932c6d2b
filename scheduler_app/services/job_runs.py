"""Starting runs and recording runs that never started: the one path every trigger takes, and run history."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django_apscheduler.models import DjangoJobExecution

from scheduler_app import registry, runner
from scheduler_app.models import JobDefinition, JobRun

logger = logging.getLogger("scheduler_app")


def job_run(*, job_id: str, trigger: str, user=None, team=None, params: dict | None = None,
            wait_seconds: float | None = None, scheduled_for: datetime | None = None, background: bool = False,
            progress: Callable[[str, int, int | None], None] | None = None, overlap: str | None = None) -> JobRun:
    """Run a job behind its execution lock and return its JobRun: the one way every trigger starts a job.

    `overlap` (skip, wait, queue_one, replace) is what this trigger does while the job's key is held; by default
    the definition's `overlap_policy`. An explicit `wait_seconds` > 0 means wait with that budget.

    Raises JobNotFound, InvalidJobParams or InvalidOverlap for bad input, and RunNotRecorded when the database
    cannot take the run row. Every other outcome, refusals included, is the run's status (SKIPPED with skip_reason
    lock_held / lock_unavailable / queue_full when it did not start; `selectors.run_refusal` says why). With
    `background` the lock is taken here and the body runs in a thread of its own (the run comes back RUNNING, or
    QUEUED when it queued); otherwise it runs to its end (a queued run too), and the run carries `job_value` and
    `job_exception` for a direct call.
    """
    return runner.run_job(registry.get(job_id), trigger=trigger, user=user, team=team, params=params,
                          wait_seconds=wait_seconds, scheduled_for=scheduled_for, background=background,
                          progress=progress, overlap=overlap)


def job_runs_cancel_active(*, reason: str = "shutdown") -> int:
    """A process that is stopping asks its runs to end (CANCELLED at their next ctx.check()) and release."""
    return runner.runs_cancel_active(reason=reason)


def job_run_record_not_started(*, job_id: str, scheduled_for: datetime | None, status: str, skip_reason: str = "",
                               error: str = "") -> JobRun:
    """A JobRun row for a scheduled fire that never reached the lock: MISSED (misfire, coalesced) or SKIPPED (max
    instances, or a late duplicate of a slot that ran). Several schedulers see the same missed slot, so an existing
    MISSED row for it is returned instead of a second one. The check and the insert are one transaction that
    recorders of the same job take in turn: the definition's row lock on PostgreSQL, SQLite's IMMEDIATE
    transactions (its write lock) there."""
    def create() -> JobRun:
        run = JobRun.objects.create(job_id=job_id, lock_key=job_id, trigger=JobRun.Trigger.SCHEDULED,
                                    status=status, skip_reason=skip_reason, scheduled_for=scheduled_for,
                                    finished_at=timezone.now(), duration_ms=0, error=error)
        # Logged once the row exists, so the line names its run (`?run_id=N` finds it); a failed insert is logged
        # by the caller instead.
        logger.warning("Scheduled run of job: %s for %s %s: %s", job_id, scheduled_for, status, error,
                       extra={"job_id": job_id, "run_id": run.pk, "trigger": run.trigger})
        return run

    if status != JobRun.Status.MISSED:
        return create()
    with transaction.atomic():
        list(JobDefinition.objects.select_for_update().filter(job_id=job_id).values_list("pk", flat=True))
        existing = JobRun.objects.filter(job_id=job_id, trigger=JobRun.Trigger.SCHEDULED, status=status,
                                         skip_reason=skip_reason, scheduled_for=scheduled_for).first()
        return existing if existing is not None else create()


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
