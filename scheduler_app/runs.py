"""Run records: every JobRun write of a trigger's life, as `run_<action>` functions.

The guard is the partial unique index `one_running_run_per_lock_key`: a run becomes RUNNING only while no other
run of its key is RUNNING. The fence is the run's id: a run is its key's current holder exactly while its row is
RUNNING, so a newer holder must first end the old row (`run_start` takes over a dead one), and `run_fence_confirm`
checks, inside the writer's own transaction, that the row is still RUNNING and holds it so until COMMIT.

Every write here that a trigger needs raises RunNotRecorded when the database cannot take it, so the trigger ends
with a clear error instead of a traceback.
"""

from __future__ import annotations

import json
import logging
from contextlib import nullcontext
from datetime import datetime, timedelta
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from scheduler_app import locks, overlap
from scheduler_app.db_work import thread_db_work
from scheduler_app.locks import Lease
from scheduler_app.models import JITTER_SECONDS_MAX, JobRun
from scheduler_app.run_progress import progress_changed, progress_final
from scheduler_app.selectors import lease_ago

logger = logging.getLogger("scheduler_app")

RUNS = JobRun._meta.db_table
# A trigger waits at most 600 s for its lock (the API's and runjob's cap); a QUEUED row older than that plus a
# lease belongs to a process that died while waiting.
MAX_QUEUED_SECONDS = 600


class RunEndedBeforeStart(Exception):
    """The run's row left QUEUED while its trigger waited for the lock (an operator cancelled it)."""


class RunNotRecorded(Exception):
    """The run row could not be written (the database is down, or SQLite's write lock outlasted the busy
    timeout). Nothing ran."""

    def __init__(self, job_id: str, run_id: int | None, cause: Exception, *, what: str = "database unavailable"):
        self.job_id = job_id
        run = f"Run {run_id} of job {job_id}" if run_id else f"Run of job {job_id}"
        first_line = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
        super().__init__(f"{run} not recorded: {what} ({first_line})")


def run_create(*, job_id: str, lock_key: str, trigger: str, user=None, team=None, params: dict | None = None,
               scheduled_for: datetime | None = None, timeout_seconds: float) -> JobRun:
    """A QUEUED row. A second row for the same scheduled slot is recorded SKIPPED (duplicate_slot) instead."""
    fields: dict[str, Any] = dict(job_id=job_id, lock_key=lock_key, trigger=trigger, user=user, team=team,
                                  params=_json_column_value(params or {}), scheduled_for=scheduled_for,
                                  timeout_seconds=timeout_seconds)
    try:
        if scheduled_for is None:
            return JobRun.objects.create(**fields)
        try:
            with transaction.atomic():
                return JobRun.objects.create(**fields)
        except IntegrityError:
            return JobRun.objects.create(**fields, status=JobRun.Status.SKIPPED,
                                         skip_reason=JobRun.SkipReason.DUPLICATE_SLOT, finished_at=timezone.now(),
                                         error="This scheduled slot already has a run (another scheduler fired it).")
    except DatabaseError as exc:
        raise RunNotRecorded(job_id, None, exc) from exc


def run_start(run: JobRun, lease: Lease, *, contended: bool = False) -> JobRun | None:
    """Mark RUNNING under the database guard, with a fencing token drawn now. Returns None on success, or the live
    run that blocks it.

    A blocking run that is dead (heartbeat older than one lease; its key is gone, since this trigger holds the
    lock now) is ended ABANDONED and the start goes on: a crash blocks its key for at most one lease.

    `contended`: a live run of the key refused an earlier attempt of this trigger. That run may be ending right
    now, and the start's write then waits for its commit (the one-RUNNING-per-key index); its `finished_at` was
    taken before that commit, so the start is stamped again once the write is through, and never reads as
    beginning before the run it waited for ended. (One statement more, on contended starts only.)
    """
    now = timezone.now()
    fields = dict(status=JobRun.Status.RUNNING, started_at=now, heartbeat_at=now, lock_backend=lease.backend_name,
                  lock_token=lease.holder.token, host=lease.holder.host, pid=lease.holder.pid,
                  lock_wait_ms=round(lease.wait_ms, 3), **_lateness(run, now))
    try:
        for attempt in range(3):
            try:
                fence = _start_fenced(run, fields)
                if contended or attempt:
                    through = timezone.now()
                    fields.update(started_at=through, heartbeat_at=through, **_lateness(run, through))
                    JobRun.objects.filter(pk=run.pk).update(started_at=through, heartbeat_at=through,
                                                            **_lateness(run, through))
                for name, value in fields.items():
                    setattr(run, name, value)
                run.fencing_token = fence
                return None
            except RunEndedBeforeStart:
                run.refresh_from_db()
                raise
            except IntegrityError:
                if attempt == 0 and _runs_abandon_dead(lock_key=run.lock_key, by_run=run.pk):
                    continue
                blocker = JobRun.objects.filter(lock_key=run.lock_key, status=JobRun.Status.RUNNING).first()
                if blocker is not None:
                    return blocker
                # The blocker finished between the two statements: try again.
    except DatabaseError as exc:
        raise RunNotRecorded(run.job_id, run.pk, exc) from exc
    # Three starts refused and each blocker gone by the time it was read: the key is churning. Refuse this trigger
    # (SKIPPED, lock held) rather than loop; the caller names the blocker, or this run when none is left to name.
    return JobRun.objects.filter(lock_key=run.lock_key, status=JobRun.Status.RUNNING).first() or run


def _lateness(run: JobRun, started_at) -> dict:
    """A scheduled run's start minus its slot, for the lateness histogram and alert; nothing for other triggers."""
    if run.scheduled_for is None:
        return {}
    return {"start_lateness_ms": round((started_at - run.scheduled_for).total_seconds() * 1000, 3)}


def _start_fenced(run: JobRun, fields: dict) -> int:
    """Write the RUNNING row and return its fencing token: the next number of the runs' id sequence, drawn in the
    same statement (PostgreSQL) or the same transaction (SQLite). Starts of one key are serialised by the unique
    index, so each holder's token is greater than every earlier holder's, whatever happens to Redis, and a number
    is never issued twice (the sequence survives deleted history)."""
    in_transaction = transaction.get_connection().in_atomic_block
    if connection.vendor == "postgresql":
        # A savepoint only inside a caller's transaction; in autocommit the statement is its own transaction and a
        # failed one leaves the connection usable (no BEGIN/COMMIT round trips on the hot path).
        with transaction.atomic() if in_transaction else nullcontext():
            return _update_returning_fence(run.pk, fields, "nextval(pg_get_serial_sequence(%s, 'id'))", [RUNS])
    with transaction.atomic():  # SQLite: bump the AUTOINCREMENT counter and start, as one write
        with connection.cursor() as cursor:
            cursor.execute("UPDATE sqlite_sequence SET seq = seq + 1 WHERE name = %s RETURNING seq", [RUNS])
            fence = cursor.fetchone()[0]
        return _update_returning_fence(run.pk, fields, "%s", [fence])


def _update_returning_fence(run_id: int, fields: dict, fence_sql: str, fence_params: list) -> int:
    names = list(fields)
    assignments = ", ".join(f"{connection.ops.quote_name(name)} = %s" for name in names)
    values = [_db_time(fields[name]) if isinstance(fields[name], datetime) else fields[name] for name in names]
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {RUNS} SET {assignments}, fencing_token = {fence_sql} WHERE id = %s AND status = %s "
                       "RETURNING fencing_token", [*values, *fence_params, run_id, JobRun.Status.QUEUED])
        row = cursor.fetchone()
    if row is None:  # inside the start's transaction on SQLite: its sequence bump is rolled back too
        raise RunEndedBeforeStart(run_id)
    return row[0]


def run_skip(run: JobRun, *, reason: str, blocked_by: dict | None, error: str = "") -> JobRun:
    """SKIPPED: the trigger did not start (lock held, or the lock service unavailable). Final."""
    now = timezone.now()
    run.status = JobRun.Status.SKIPPED
    run.skip_reason = reason
    run.blocked_by = blocked_by
    run.error = error
    run.finished_at = now
    run.duration_ms = 0
    try:
        JobRun.objects.filter(pk=run.pk, status=JobRun.Status.QUEUED).update(
            status=run.status, skip_reason=reason, blocked_by=blocked_by, error=error, finished_at=now,
            duration_ms=0)
    except DatabaseError as exc:
        raise RunNotRecorded(run.job_id, run.pk, exc) from exc
    return run


def run_finish(run: JobRun, *, status: str, error: str = "", traceback: str = "", result: Any = None,
               warnings: list[str] | None = None, skip_reason: str = "") -> bool:
    """Final status, compare-and-set from RUNNING: a run that was taken over (ABANDONED) or already ended keeps
    what it has (terminal is final). On False `run` is refreshed to what the database holds. `skip_reason` says
    why a CANCELLED run stopped when that is not an operator (replaced)."""
    now = timezone.now()
    duration = (now - run.started_at).total_seconds() * 1000 if run.started_at else None
    values = dict(status=status, finished_at=now, duration_ms=duration, error=error[:10000], traceback=traceback,
                  result=_json_column_value(result), warnings=list(warnings or []))
    if skip_reason:
        values["skip_reason"] = skip_reason
    progress = progress_final(run.pk)
    if progress is not None:
        values["progress"] = progress
    updated = JobRun.objects.filter(pk=run.pk, status=JobRun.Status.RUNNING).update(**values)
    if updated:
        for name, value in values.items():
            setattr(run, name, value)
    else:
        run.refresh_from_db()
    return bool(updated)


def run_fence_confirm(*, run_id: int) -> bool:
    """Inside the writer's open transaction: is this run still its key's holder? On PostgreSQL the row is locked
    FOR UPDATE until COMMIT, so a take-over (which must end this row first) waits for the writer or skips it. On
    SQLite the transaction already holds the database's write lock (IMMEDIATE), which serialises the same way."""
    lock = " FOR UPDATE" if connection.vendor == "postgresql" else ""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT status FROM {RUNS} WHERE id = %s{lock}", [run_id])
        row = cursor.fetchone()
    return row is not None and row[0] == JobRun.Status.RUNNING


def run_fence_current(*, lock_key: str) -> int | None:
    """The fencing token of the key's current holder (its RUNNING run), or None when no run holds it."""
    return (JobRun.objects.filter(lock_key=lock_key, status=JobRun.Status.RUNNING)
            .values_list("fencing_token", flat=True).first())


def runs_confirm(run_ids: list[int]) -> dict[int, bool] | None:
    """The renewal thread's database renewal: one UPDATE writes the heartbeat of every run this process holds and
    tells which are still RUNNING, and which an operator asked to cancel (those are handed to the cancel listener).
    Runs whose `ctx.progress()` changed get it written too, one statement each. None when the database cannot be
    reached."""
    placeholders = ", ".join(["%s"] * len(run_ids))
    try:
        with thread_db_work(), connection.cursor() as cursor:
            cursor.execute(f"UPDATE {RUNS} SET heartbeat_at = %s WHERE id IN ({placeholders}) AND status = %s "
                           "RETURNING id, cancel_requested_by, cancel_requested_at",
                           [_db_time(timezone.now()), *run_ids, JobRun.Status.RUNNING])
            rows = cursor.fetchall()
            alive = {row[0] for row in rows}
            for run_id, progress in progress_changed(sorted(alive)).items():
                cursor.execute(f"UPDATE {RUNS} SET progress = %s WHERE id = %s",
                               [connection.ops.adapt_json_value(progress, None), run_id])
    except DatabaseError as exc:
        logger.error("Failed to write run heartbeat (%s); the lock's own renewal carries on", exc)
        return None
    for run_id, by, requested_at in rows:
        if requested_at is not None and _cancel_listener is not None:
            _cancel_listener(run_id, by)
    return {run_id: run_id in alive for run_id in run_ids}


# Set by the runner: asks this process's run to stop at its next ctx.check() (an operator's cancel request, seen
# by the heartbeat of the process that holds the run).
_cancel_listener = None


def run_cancel_listener_set(listener) -> None:
    global _cancel_listener  # noqa: PLW0603 - one listener per process, set once at import
    _cancel_listener = listener


locks.renewer.set_run_confirmer(runs_confirm)


def _runs_abandon_dead(*, lock_key: str, by_run: int | None = None) -> int:
    """End the key's RUNNING run if its heartbeat is older than one lease. One statement; on PostgreSQL a row that a
    live transaction holds (a fenced write in flight) is skipped, never waited for."""
    skip_locked = " FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""
    error = "Holder stopped heartbeating (process killed, paused or host lost)" + (
        f"; taken over by run {by_run}." if by_run else ".")
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {RUNS} SET status = %s, finished_at = %s, error = %s WHERE id IN ("
            f"SELECT id FROM {RUNS} WHERE lock_key = %s AND status = %s AND heartbeat_at < %s{skip_locked}) "
            "RETURNING id, job_id, host, pid",
            [JobRun.Status.ABANDONED, _db_time(timezone.now()), error, lock_key, JobRun.Status.RUNNING,
             _db_time(lease_ago())])
        ended = cursor.fetchall()
    for pk, job_id, host, pid in ended:
        logger.warning("Run %s of job: %s abandoned (no heartbeat from %s:%s)%s", pk, job_id, host, pid,
                       f"; run {by_run} takes over" if by_run else "", extra={"job_id": job_id, "run_id": pk})
    return len(ended)


def runs_reap_abandoned(*, lock_key: str | None = None) -> int:
    """RUNNING runs that are dead (heartbeat older than one lease and, if Redis answers, their key no longer
    theirs) become ABANDONED, and so do QUEUED runs whose trigger died while waiting."""
    # A queue_one run waits as long as its holder runs, and is started (not ended) once its waiter is gone. A
    # scheduled row may wait its jitter first (up to JITTER_SECONDS_MAX) before it waits for the lock.
    cutoff = lease_ago() - timedelta(seconds=MAX_QUEUED_SECONDS)
    queued = JobRun.objects.filter(Q(scheduled_for__isnull=True) | Q(created_at__lt=cutoff - timedelta(
        seconds=JITTER_SECONDS_MAX)), overlap.not_queue_one(), status=JobRun.Status.QUEUED, created_at__lt=cutoff)
    if lock_key is not None:
        queued = queued.filter(lock_key=lock_key)
    queued.update(status=JobRun.Status.ABANDONED, finished_at=timezone.now(),
                  error="Never started: the triggering process stopped while waiting for the lock (or its jitter).")
    silent = JobRun.objects.filter(status=JobRun.Status.RUNNING, heartbeat_at__lt=lease_ago())
    if lock_key is not None:
        silent = silent.filter(lock_key=lock_key)
    reaped = 0
    for pk, key in silent.values_list("pk", "lock_key"):
        state = locks.inspect(key)
        if state is not None and state.holder is not None and state.holder.run_id == pk:
            continue  # its key is still renewed: alive, only its database heartbeat is failing
        reaped += _runs_abandon_dead(lock_key=key)
    return reaped


def _db_time(moment: datetime):
    """A datetime as the ORM would store it (raw SQL gets no field adaptation; SQLite stores naive UTC text)."""
    return connection.ops.adapt_datetimefield_value(moment)


def _json_column_value(value: Any) -> Any:
    """A value a JSON column can store: what DjangoJSONEncoder makes of it (dates, decimals, UUIDs), or its repr
    when it has no JSON form (a job may return anything)."""
    if value is None:
        return None
    try:
        return json.loads(json.dumps(value, cls=DjangoJSONEncoder))
    except (TypeError, ValueError):
        return {"repr": repr(value)}
