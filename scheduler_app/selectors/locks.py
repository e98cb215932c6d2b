"""Held locks with their stale and stuck flags, and whether the lock service answers."""

from __future__ import annotations

import threading
import time

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from scheduler_app import locks
from scheduler_app.locks import LockState, topology
from scheduler_app.models import DatabaseLock, JobDefinition, JobRun


def lock_states(*, include_redis: bool = True) -> list[LockState]:
    """Every held lock with `stale`, `stale_reason`, `stuck` and the holder's run status in `extra`.

    Stale: the holder's run has finished or been abandoned, or the key has no TTL. A live holder is never stale.
    Stuck (alerts, /healthz): held longer than the job's timeout plus the lease.
    `include_redis=False` lists the database leases only (a caller that already knows Redis is down).
    """
    if include_redis:
        states, _redis_ok = locks.list_locks()
    else:
        states = locks.database_backend().list()
    run_ids = [s.holder.run_id for s in states if s.holder and s.holder.run_id]
    holder_runs = {pk: (status, beat) for pk, status, beat in
                   JobRun.objects.filter(pk__in=run_ids).values_list("pk", "status", "heartbeat_at")}
    timeouts = dict(JobDefinition.objects.values_list("job_id", "timeout_minutes"))
    now = time.time()
    for state in states:
        holder = state.holder
        status, beat = holder_runs.get(holder.run_id, (None, None)) if holder and holder.run_id else (None, None)
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
            # the holder run's heartbeat age while it runs: a live holder's is under lease/3, a dead one's grows
            holder_heartbeat_age_seconds=None if beat is None or status != JobRun.Status.RUNNING
            else round((timezone.now() - beat).total_seconds(), 1),
            stuck=bool(reason) or (held is not None and held > limit),
        )
    return states


def database_lock_leftover_q() -> Q:
    """A database lease row nobody holds: released (no token), never set, or expired (left after an outage)."""
    return Q(token="") | Q(expires_at__isnull=True) | Q(expires_at__lt=timezone.now())


def database_locks_leftover(*, keys: list[str] | None = None):
    rows = DatabaseLock.objects.filter(database_lock_leftover_q())
    return rows if keys is None else rows.filter(key__in=keys)


def lock_state_dicts() -> list[dict]:
    return [{**state.as_dict(), **state.extra} for state in lock_states()]


def lock_service_ping(*, timeout: float = 1.0) -> bool:
    """PING the lock's Redis, answering within `timeout`: with Redis down, redis-py's default retries take
    seconds per call, longer than a probe or a scrape should wait. (The ping thread finishes on its own.)"""
    return lock_service_report(timeout=timeout)["ok"]


def lock_service_report(*, timeout: float = 1.0) -> dict:
    """{"ok", "mode", "where"} for the health check, and in quorum mode each master's answer ("masters")."""
    answer: dict = {"ok": False}

    def ping() -> None:
        try:
            backend = locks.redis_backend()
            if hasattr(backend, "masters_status"):
                answer["masters"] = backend.masters_status()
            answer["ok"] = locks.redis_available()
        except Exception:  # noqa: BLE001 - any failure means "not answering"
            answer["ok"] = False

    thread = threading.Thread(target=ping, name="redis-ping", daemon=True)
    thread.start()
    thread.join(timeout)
    return {"ok": answer["ok"], "mode": topology.redis_mode(), "where": topology.describe(),
            **({"masters": answer["masters"]} if "masters" in answer else {})}
