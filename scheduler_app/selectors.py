"""Scheduler reads. The API, the admin and the CLI show the same facts from these functions."""

from __future__ import annotations

import time

from django.conf import settings

from scheduler_app import locks
from scheduler_app.locks import LockState
from scheduler_app.models import JobDefinition, JobRun


def lock_states() -> list[LockState]:
    """Every held lock with `stale`, `stale_reason`, `stuck` and the holder's run status in `extra`.

    Stale: the holder's run has finished or been abandoned, or the key has no TTL. A live holder is never stale.
    Stuck (alerts, /healthz): held longer than the job's timeout plus the lease.
    """
    states, _redis_ok = locks.list_locks()
    run_ids = [s.holder.run_id for s in states if s.holder and s.holder.run_id]
    run_status = dict(JobRun.objects.filter(pk__in=run_ids).values_list("pk", "status"))
    timeouts = dict(JobDefinition.objects.values_list("job_id", "timeout_minutes"))
    now = time.time()
    for state in states:
        holder = state.holder
        status = run_status.get(holder.run_id) if holder and holder.run_id else None
        reason = ""
        if state.ttl_seconds is None:
            reason = "no TTL"
        elif status is not None and status != JobRun.Status.RUNNING and status != JobRun.Status.QUEUED:
            reason = f"holder's run is {status}"
        held = now - holder.acquired_at if holder and holder.acquired_at else None
        limit = timeouts.get(state.job_id, 0) * 60 + settings.LOCK_LEASE_SECONDS
        state.extra.update(
            run_status=status,
            stale=bool(reason),
            stale_reason=reason,
            held_seconds=None if held is None else round(held, 3),
            stuck=bool(reason) or (held is not None and held > limit),
        )
    return states


def lock_state_dicts() -> list[dict]:
    return [{**state.as_dict(), **state.extra} for state in lock_states()]


def lock_state(key: str) -> LockState | None:
    return locks.inspect(key)


def scheduler_instances_alive() -> list:
    """Scheduler processes whose heartbeat is fresh (under SCHEDULER_STALE_SECONDS old)."""
    from datetime import timedelta

    from django.utils import timezone

    from scheduler_app.models import SchedulerInstance

    fresh_after = timezone.now() - timedelta(seconds=settings.SCHEDULER_STALE_SECONDS)
    return list(SchedulerInstance.objects.filter(heartbeat_at__gte=fresh_after, stopped_at__isnull=True))
