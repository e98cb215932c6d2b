"""Jitter: a scheduled fire of a job with `jitter_seconds` N starts at a random instant of [slot, slot + N], so
many jobs on one minute do not hit the boards at once. The slot (scheduled_for) stays the scheduled time; the
run's start_lateness_ms includes the jitter.

The runner calls `run_jitter_wait` once the run's row is recorded (QUEUED, with its scheduled_for: the per-slot
guard holds the slot while it waits) and before it takes the lock. The wait happens in the fire's pool worker,
which it occupies, and it ends early when the scheduler stops: the row then ends MISSED and the slot is handed back
to the job store, so that the next scheduler to claim it fires it (or records it missed, by its catch-up policy and
grace time) instead of the slot being lost or left QUEUED.

Only scheduled fires through the executor jitter (`fire_context` sets the job's jitter for the fire's thread);
API, admin, CLI and direct triggers never wait.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.db import DatabaseError, transaction
from django.utils import timezone

from scheduler_app.models import JobRun
from scheduler_app.scheduler import jobstore

logger = logging.getLogger("scheduler_app")

_fire = threading.local()  # this pool thread's fire: its job's jitter, and the scheduler's stop event


@contextmanager
def fire_context(*, seconds: int, stopping: threading.Event) -> Iterator[None]:
    _fire.seconds, _fire.stopping = seconds, stopping
    try:
        yield
    finally:
        _fire.seconds, _fire.stopping = 0, None


def run_jitter_wait(run: JobRun) -> bool:
    """Wait for the run's jittered start. False when the scheduler stopped meanwhile (the row is ended): the
    trigger must not start."""
    seconds = getattr(_fire, "seconds", 0)
    if not seconds or run.trigger != JobRun.Trigger.SCHEDULED or run.scheduled_for is None:
        return True
    jitter = random.uniform(0, seconds)
    start = run.scheduled_for + timedelta(seconds=jitter)
    wait = (start - timezone.now()).total_seconds()
    extra = {"job_id": run.job_id, "run_id": run.pk, "trigger": run.trigger, "team_id": run.team_id}
    logger.info("Jitter for job: %s: starts %.3f s after its slot %s (waits %.3f s)", run.job_id, jitter,
                run.scheduled_for.isoformat(), max(0.0, wait), extra=extra)
    if wait <= 0 or not _fire.stopping.wait(wait):
        return True
    _slot_hand_back(run, jitter=jitter, extra=extra)
    return False


def _slot_hand_back(run: JobRun, *, jitter: float, extra: dict) -> None:
    """The scheduler stopped during the wait: end the row MISSED (it no longer holds the slot) and move the job
    store's next run time back to the slot, if no scheduler has moved it since."""
    # One transaction: no other scheduler sees the slot handed back while this row still holds it.
    try:
        with transaction.atomic():
            rows = JobRun.objects.filter(pk=run.pk, status=JobRun.Status.QUEUED)
            ended = rows.update(status=JobRun.Status.MISSED, skip_reason=JobRun.SkipReason.MISFIRE,
                                finished_at=timezone.now(), duration_ms=0)
            if not ended:
                return  # it left QUEUED meanwhile (an operator cancelled it): that row stands
            handed = jobstore.slot_hand_back(job_id=run.job_id, slot=run.scheduled_for)
            where = ("handed back to the job store: the next scheduler fires it" if handed else
                     "not handed back: the job store has moved on since (an edited schedule, or a later slot)")
            error = (f"The scheduler stopped during this fire's jitter delay ({jitter:.3f} s after the slot); it "
                     f"never started. The slot was {where}.")
            JobRun.objects.filter(pk=run.pk).update(error=error)
    except DatabaseError:
        # The row stays QUEUED; the reaper ends it ABANDONED (never started) later.
        logger.exception("Could not record the stop during the jitter delay of run %s of job: %s", run.pk,
                         run.job_id, extra=extra)
        return
    if ended:
        run.status, run.skip_reason, run.error = JobRun.Status.MISSED, JobRun.SkipReason.MISFIRE, error
        logger.warning("Scheduled run %s of job: %s did not start: %s", run.pk, run.job_id, error, extra=extra)
