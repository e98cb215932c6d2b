"""Runs one trigger of one job: record, lock, guard, run, enforce the timeout, finish, release.

Every path in (scheduler, API, admin, runjob, a direct call) comes through `execute()`, so every run is locked,
recorded and logged the same way.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import traceback as tb
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import close_old_connections, connection
from django.db.models.expressions import RawSQL

from scheduler_app import locks, runs, signals
from scheduler_app.context import JobCancelled, JobContext, job_context_active
from scheduler_app.locks import Lease, LockNotAcquired, LockServiceUnavailable
from scheduler_app.models import JobDefinition, JobRun
from scheduler_app.registry import JobSpec

logger = logging.getLogger("scheduler_app")


@dataclass
class Outcome:
    run: JobRun
    value: Any = None
    exception: BaseException | None = None


def lock_key_for(*, job_id: str, scope: str, team) -> str:
    if scope == JobDefinition.LockScope.TEAM and team is not None:
        return f"{job_id}:team:{team.pk}"
    return job_id


@dataclass(frozen=True)
class Policy:
    """What a run needs of its job's definition (read on every run: an edit applies to the next run)."""

    lock_scope: str
    wait_seconds: float
    timeout_minutes: float
    reserved_run_id: int | None = None  # PostgreSQL: the run's id, taken from the sequence in the same query


def definition_for(spec: JobSpec) -> Policy:
    # Plain values, no ORDER BY: this read is on every run's path. On PostgreSQL the same round trip reserves the
    # run's id, so a fail-fast run is written once (runs.run_create(defer=True)).
    fields = ["lock_scope", "wait_seconds", "timeout_minutes"]
    rows = JobDefinition.objects.filter(job_id=spec.job_id)
    if connection.vendor == "postgresql":
        rows = rows.annotate(reserved_run_id=RawSQL("nextval(pg_get_serial_sequence(%s, 'id'))",
                                                    [JobRun._meta.db_table]))
        fields.append("reserved_run_id")
    row = next(iter(rows.values_list(*fields)[:1]), None)
    if row is None:
        from scheduler_app.services import job_definitions_sync

        job_definitions_sync()
        row = rows.values_list(*fields).get()
    return Policy(*row)


class Execution:
    """One run between its lock acquisition and its end. `finish` is idempotent and thread-safe: the job's own
    thread and the watchdog (timeout, lost lock) race to it, and the first one wins."""

    def __init__(self, *, spec: JobSpec, run: JobRun, lease: Lease, ctx: JobContext, timeout_minutes: float):
        self.spec = spec
        self.run = run
        self.lease = lease
        self.ctx = ctx
        self.timeout_minutes = timeout_minutes
        self._finish_mutex = threading.Lock()
        self.finished = False
        self.started = time.monotonic()
        lease.on_deadline.append(lambda _lease: self._expire())
        lease.on_lost.append(lambda _lease: self._lose())

    def _expire(self) -> None:
        self.ctx.cancel("timeout")
        close_old_connections()
        try:
            minutes = f"{self.timeout_minutes:g}"
            self.finish(JobRun.Status.TIMED_OUT, error=f"Job exceeded timeout of {minutes} minutes",
                        warning=f"Job exceeded timeout of {minutes} minutes")
        finally:
            close_old_connections()

    def _lose(self) -> None:
        self.ctx.cancel("lost_lock")
        close_old_connections()
        try:
            self.finish(JobRun.Status.LOST_LOCK, error="Lock lost: another holder took it (lease expired).")
        finally:
            close_old_connections()

    def finish(self, status: str, *, error: str = "", traceback: str = "", result: Any = None,
               warning: str | None = None) -> bool:
        # Held for the whole finish: a second caller returns only once the first has recorded and released.
        with self._finish_mutex:
            if self.finished:
                return False
            self.finished = True
            self._finish(status, error=error, traceback=traceback, result=result, warning=warning)
            return True

    def _finish(self, status: str, *, error: str, traceback: str, result: Any, warning: str | None) -> None:
        log_extra = _log_extra(self.run)
        if warning:
            logger.warning(warning, extra=log_extra)
        warnings = list(self.ctx.warnings)
        if status in (JobRun.Status.SUCCEEDED, JobRun.Status.PARTIAL, JobRun.Status.FAILED) and self.lease.lost:
            status, error = JobRun.Status.LOST_LOCK, error or "Lock lost while running."
        # The row is finished before the lock is released, so a woken waiter passes the database guard.
        recorded = runs.run_finish(self.run, status=status, error=error, traceback=traceback, result=result,
                                   warnings=warnings)
        logger.info("Releasing lock for job: %s", self.lease.key, extra=log_extra)
        released = self.lease.release()
        if released is False and not self.lease.lost and status != JobRun.Status.TIMED_OUT:
            current = locks.current_fencing_token(self.lease.key)
            if current is not None and current != self.lease.fence:
                # A late finisher: the lease lapsed and a newer holder took the key. Nothing of theirs is touched.
                logger.error("Lock for job: %s was no longer ours at release (late finisher)", self.lease.key,
                             extra=log_extra)
                JobRun.objects.filter(pk=self.run.pk).update(
                    status=JobRun.Status.LOST_LOCK, error="Lock lost: lease lapsed before the job finished.")
                self.run.status = JobRun.Status.LOST_LOCK
        if not recorded:
            self.run.refresh_from_db()
        signals.run_finished.send(sender=JobRun, run=self.run, held_seconds=time.monotonic() - self.started)

    def body(self, kwargs: dict) -> Outcome:
        """Run the job in this thread; the watchdog stops it at its deadline."""
        self.started = time.monotonic()
        with job_context_active(self.ctx):
            try:
                if self.spec.is_async:
                    value = asyncio.run(self._run_async(kwargs))
                else:
                    value = self.spec.func(**kwargs)
                self.ctx.check()
            except JobCancelled as exc:
                # Timed out or lost: the watchdog already finished the run; make sure it did.
                status = JobRun.Status.TIMED_OUT if exc.reason == "timeout" else JobRun.Status.LOST_LOCK
                self.finish(status, error=str(exc))
                return Outcome(self.run, exception=exc)
            except BaseException as exc:  # noqa: BLE001 - the run row must record every failure
                logger.exception("Job %s failed", self.spec.job_id)
                self.finish(JobRun.Status.FAILED, error=f"{type(exc).__name__}: {exc}", traceback=tb.format_exc())
                return Outcome(self.run, exception=exc)
        status = JobRun.Status.PARTIAL if self.ctx.partial else JobRun.Status.SUCCEEDED
        self.finish(status, result=value)
        return Outcome(self.run, value=value)

    async def _run_async(self, kwargs: dict) -> Any:
        task = asyncio.ensure_future(self.spec.func(**kwargs))
        loop = asyncio.get_running_loop()
        self.ctx.on_cancel(lambda: loop.call_soon_threadsafe(task.cancel))
        try:
            return await task
        except asyncio.CancelledError:
            raise JobCancelled(self.ctx.cancel_reason or "cancelled") from None


def start(spec: JobSpec, *, trigger: str, user=None, team=None, params: dict | None = None,
          wait_seconds: float | None = None, scheduled_for: datetime | None = None,
          progress: Callable[[str, int, int | None], None] | None = None) -> tuple[JobRun, Execution | None, dict]:
    """Record and lock. Returns (run, execution, kwargs); execution is None when the run did not start."""
    kwargs = spec.bind_params(params)
    if spec.accepts_team:
        kwargs["team"] = team
    definition = definition_for(spec)
    key = lock_key_for(job_id=spec.job_id, scope=definition.lock_scope, team=team)
    wait = definition.wait_seconds if wait_seconds is None else wait_seconds
    ttl_seconds = definition.timeout_minutes * 60
    run = runs.run_create(job_id=spec.job_id, lock_key=key, trigger=trigger, user=user, team=team, params=params,
                          scheduled_for=scheduled_for, timeout_seconds=ttl_seconds, defer=wait <= 0,
                          reserved_id=definition.reserved_run_id)
    if run.status == JobRun.Status.SKIPPED:
        signals.lock_attempted.send(sender=JobRun, job_id=spec.job_id, result="blocked", wait_seconds=0.0)
        return run, None, kwargs
    logger.info("Acquiring lock for job: %s", key, extra=_log_extra(run))
    t0 = time.monotonic()
    try:
        lease = locks.acquire(key, ttl_seconds=ttl_seconds, wait_seconds=wait, run_id=run.pk)
    except LockNotAcquired as refused:
        _refused(run, key, refused.as_dict())
        signals.lock_attempted.send(sender=JobRun, job_id=spec.job_id, result="blocked",
                                    wait_seconds=time.monotonic() - t0)
        return run, None, kwargs
    except LockServiceUnavailable as exc:
        runs.run_mark_skipped(run, reason=JobRun.SkipReason.LOCK_UNAVAILABLE, blocked_by=None, error=str(exc))
        signals.lock_attempted.send(sender=JobRun, job_id=spec.job_id, result="error",
                                    wait_seconds=time.monotonic() - t0)
        return run, None, kwargs
    try:
        blocker = runs.run_mark_running(run, lease)
    except BaseException:
        # E.g. the database went away between lock and start: never keep a lock nobody will run under.
        lease.release()
        raise
    if blocker is not None:
        lease.release()
        _refused(run, key, {"holder": runs.blocker_info(blocker), "ttl_seconds": None})
        signals.lock_attempted.send(sender=JobRun, job_id=spec.job_id, result="blocked",
                                    wait_seconds=time.monotonic() - t0)
        return run, None, kwargs
    logger.info("Lock acquired for job: %s", key, extra=_log_extra(run))
    signals.lock_attempted.send(sender=JobRun, job_id=spec.job_id,
                                result="acquired" if lease.backend_name == "redis" else "fallback",
                                wait_seconds=lease.wait_ms / 1000)
    ctx = JobContext(run_id=run.pk, job_id=spec.job_id, lock_key=key, fencing_token=lease.fence,
                     fence_check=lambda: _fence_current(run, lease), team=team, user=user, trigger=trigger)
    ctx.progress_listener = progress
    return run, Execution(spec=spec, run=run, lease=lease, ctx=ctx, timeout_minutes=definition.timeout_minutes), kwargs


def _refused(run: JobRun, key: str, blocked_by: dict) -> None:
    logger.warning("Failed to acquire lock for job: %s (already running)", key, extra=_log_extra(run))
    logger.error("Job execution blocked by existing lock", extra=_log_extra(run))
    runs.run_mark_skipped(run, reason=JobRun.SkipReason.LOCK_HELD, blocked_by=blocked_by,
                          error="Job is already running")


def _log_extra(run: JobRun) -> dict:
    """Run context for lines logged outside the job's own context (before it starts, or by the watchdog)."""
    return {"job_id": run.job_id, "run_id": run.pk, "team_id": run.team_id}


def _fence_current(run: JobRun, lease: Lease) -> bool:
    """Still the lock's current holder? The newest fence must be ours; with Redis down, our row must be live."""
    if lease.lost or lease.released:
        return False
    try:
        current = lease.backend.current_fence(lease.key)
    except locks.base.BackendUnavailable:
        current = None
    if current is None:
        # Redis unreachable, or restarted empty and not yet restored by renewal: our live row decides.
        return JobRun.objects.filter(pk=run.pk, status=JobRun.Status.RUNNING).exists()
    return current == lease.fence


def execute(spec: JobSpec, **options) -> Outcome:
    """Start and run to the end in the calling thread."""
    run, execution, kwargs = start(spec, **options)
    if execution is None:
        return Outcome(run)
    return execution.body(kwargs)


def execute_in_background(spec: JobSpec, **options) -> JobRun:
    """Lock in the caller's thread (so a refusal is known at once), then run the body in a thread of its own."""
    run, execution, kwargs = start(spec, **options)
    if execution is None:
        return run

    def target() -> None:
        close_old_connections()
        try:
            execution.body(kwargs)
        finally:
            close_old_connections()

    threading.Thread(target=target, name=f"job-{spec.job_id}-{run.pk}", daemon=True).start()
    return run
