"""The run recorder: JobRun rows for every trigger, the database guard against a second run, heartbeats, reaping.

The guard is the partial unique index `one_running_run_per_lock_key`: marking a run RUNNING fails while another
run of the same key is RUNNING. A RUNNING run whose heartbeat is older than 2 x lease is ABANDONED first (its
holder is dead), so a crash never blocks the key for longer than that.
"""

from __future__ import annotations

import json
import logging
from contextlib import nullcontext
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, close_old_connections, connection, transaction
from django.utils import timezone

from scheduler_app.locks import Holder, Lease, renewer
from scheduler_app.locks.db_backend import holder_of_run
from scheduler_app.models import JobRun

logger = logging.getLogger("scheduler_app")


def stale_before() -> datetime:
    return timezone.now() - timedelta(seconds=2 * settings.LOCK_LEASE_SECONDS)


def run_create(*, job_id: str, lock_key: str, trigger: str, user=None, team=None, params: dict | None = None,
               scheduled_for: datetime | None = None, timeout_seconds: float, defer: bool = False,
               reserved_id: int | None = None) -> JobRun:
    """A QUEUED row. A second row for the same scheduled slot is recorded SKIPPED (duplicate_slot) instead.

    `defer` (a fail-fast trigger on PostgreSQL): only the id is taken now, from the table's sequence, so the lock's
    holder value can name the run; the row is INSERTed once, already RUNNING or SKIPPED. One write fewer per run,
    and nothing waits in QUEUED that could be seen anyway.
    """
    fields: dict[str, Any] = dict(job_id=job_id, lock_key=lock_key, trigger=trigger, user=user, team=team,
                                  params=to_json(params or {}), scheduled_for=scheduled_for,
                                  timeout_seconds=timeout_seconds)
    if defer and scheduled_for is None and connection.vendor == "postgresql":
        run = JobRun(**fields)
        run.pk = reserved_id or _next_run_id()
        run.deferred_insert = True
        return run
    if scheduled_for is None:
        return JobRun.objects.create(**fields)
    try:
        with transaction.atomic():
            return JobRun.objects.create(**fields)
    except IntegrityError:
        now = timezone.now()
        return JobRun.objects.create(**fields, status=JobRun.Status.SKIPPED,
                                     skip_reason=JobRun.SkipReason.DUPLICATE_SLOT, finished_at=now,
                                     error="This scheduled slot already has a run (another scheduler fired it).")


def run_mark_running(run: JobRun, lease: Lease) -> JobRun | None:
    """Mark RUNNING under the database guard. Returns None on success, or the live run that blocks it."""
    now = timezone.now()
    fields = dict(status=JobRun.Status.RUNNING, started_at=now, heartbeat_at=now, lock_backend=lease.backend_name,
                  lock_token=lease.holder.token, fencing_token=lease.fence, host=lease.holder.host,
                  pid=lease.holder.pid, lock_wait_ms=round(lease.wait_ms, 3))
    deferred = getattr(run, "deferred_insert", False)
    for attempt in range(2):
        try:
            # A savepoint only inside a caller's transaction; in autocommit the statement is its own transaction
            # and a failed one leaves the connection usable (saves BEGIN/COMMIT round trips per run).
            with transaction.atomic() if transaction.get_connection().in_atomic_block else nullcontext():
                if deferred:
                    JobRun.objects.bulk_create([_copy(run, **fields)])
                else:
                    JobRun.objects.filter(pk=run.pk).update(**fields)
            for name, value in fields.items():
                setattr(run, name, value)
            run.deferred_insert = False
            return None
        except IntegrityError:
            if attempt == 0 and runs_reap_abandoned(lock_key=run.lock_key):
                continue
            blocker = JobRun.objects.filter(lock_key=run.lock_key, status=JobRun.Status.RUNNING).first()
            if blocker is not None:
                return blocker
    return run  # cannot happen in practice; refuse rather than run twice


def run_mark_skipped(run: JobRun, *, reason: str, blocked_by: dict | None, error: str = "") -> JobRun:
    now = timezone.now()
    run.status = JobRun.Status.SKIPPED
    run.skip_reason = reason
    run.blocked_by = blocked_by
    run.error = error
    run.finished_at = now
    run.duration_ms = 0
    if getattr(run, "deferred_insert", False):
        JobRun.objects.bulk_create([run])
        run.deferred_insert = False
    else:
        JobRun.objects.filter(pk=run.pk).update(status=run.status, skip_reason=reason, blocked_by=blocked_by,
                                                error=error, finished_at=now, duration_ms=0)
    return run


def _next_run_id() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id'))", [JobRun._meta.db_table])
        return cursor.fetchone()[0]


def _copy(run: JobRun, **changes) -> JobRun:
    """The row to INSERT for a deferred run: the run as created, with `changes` (the run object itself only
    takes them once the INSERT succeeded, so a refused attempt leaves it QUEUED)."""
    row = JobRun(**{f.attname: getattr(run, f.attname) for f in JobRun._meta.concrete_fields})
    for name, value in changes.items():
        setattr(row, name, value)
    return row


def run_finish(run: JobRun, *, status: str, error: str = "", traceback: str = "", result: Any = None,
               warnings: list[str] | None = None) -> bool:
    """Final status. Only a run that is still ours (RUNNING, or ABANDONED by a reaper while we lived) changes."""
    now = timezone.now()
    duration = (now - run.started_at).total_seconds() * 1000 if run.started_at else None
    values = dict(status=status, finished_at=now, duration_ms=duration, error=error[:10000], traceback=traceback,
                  result=to_json(result), warnings=list(warnings or []))
    updated = JobRun.objects.filter(
        pk=run.pk, status__in=[JobRun.Status.RUNNING, JobRun.Status.ABANDONED]
    ).update(**values)
    if updated:
        for name, value in values.items():
            setattr(run, name, value)
    return bool(updated)


# A trigger waits at most 600 s for its lock (the API's and runjob's cap); a QUEUED row older than that plus
# two leases belongs to a process that died while waiting.
MAX_QUEUED_SECONDS = 600


def runs_reap_abandoned(*, lock_key: str | None = None) -> int:
    """RUNNING runs whose heartbeat is older than 2 x lease become ABANDONED (their holder is gone), and so do
    QUEUED runs whose trigger died while waiting."""
    queued = JobRun.objects.filter(
        status=JobRun.Status.QUEUED,
        created_at__lt=stale_before() - timedelta(seconds=MAX_QUEUED_SECONDS),
    )
    if lock_key is not None:
        queued = queued.filter(lock_key=lock_key)
    queued.update(status=JobRun.Status.ABANDONED, finished_at=timezone.now(),
                  error="Never started: the triggering process stopped while waiting for the lock.")
    runs = JobRun.objects.filter(status=JobRun.Status.RUNNING, heartbeat_at__lt=stale_before())
    if lock_key is not None:
        runs = runs.filter(lock_key=lock_key)
    reaped = list(runs.values_list("pk", "job_id", "host", "pid"))
    if not reaped:
        return 0
    count = JobRun.objects.filter(pk__in=[r[0] for r in reaped], status=JobRun.Status.RUNNING).update(
        status=JobRun.Status.ABANDONED, finished_at=timezone.now(),
        error="Holder stopped heartbeating (process killed or host lost).")
    for pk, job_id, host, pid in reaped:
        logger.warning("Run %s of job: %s abandoned (no heartbeat from %s:%s)", pk, job_id, host, pid)
    return count


def heartbeat(leases: list[Lease]) -> None:
    """Tick hook of the renewal thread: one UPDATE for every run this process holds."""
    run_ids = [lease.holder.run_id for lease in leases if lease.holder.run_id and not lease.released]
    if not run_ids:
        return
    close_old_connections()
    try:
        JobRun.objects.filter(pk__in=run_ids, status=JobRun.Status.RUNNING).update(heartbeat_at=timezone.now())
    except Exception:  # noqa: BLE001
        logger.exception("Failed to write run heartbeat")
    finally:
        close_old_connections()


renewer.add_tick_hook(heartbeat)


def blocker_info(run: JobRun) -> dict:
    holder = holder_of_run(run)
    info = holder.as_dict()
    info["job_run_status"] = run.status
    return info


def holder_dict(holder: Holder | None) -> dict | None:
    return holder.as_dict() if holder else None


def to_json(value: Any) -> Any:
    if value is None:
        return None
    try:
        return json.loads(json.dumps(value, cls=DjangoJSONEncoder))
    except (TypeError, ValueError):
        return {"repr": repr(value)}
