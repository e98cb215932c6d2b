"""The individual health checks. Each returns a small dict and never raises (a check that fails says so)."""

from __future__ import annotations

import time

from django.conf import settings
from django.db import connection
from django.utils import timezone


def _timed(fn):
    started = time.perf_counter()
    result = fn()
    result["latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
    return result


def database_check() -> dict:
    def probe() -> dict:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()
            return {"status": "ok", "vendor": connection.vendor}
        except Exception as exc:  # noqa: BLE001 - any failure means "down", reported, never raised
            try:
                connection.close()  # a broken connection must not be reused by the next request
            except Exception:  # noqa: BLE001
                pass
            return {"status": "down", "error": f"{type(exc).__name__}: {exc}"[:300]}

    return _timed(probe)


def redis_check() -> dict:
    from logs_app.selectors import redis_ping

    def probe() -> dict:
        if redis_ping():
            return {"status": "ok"}
        fallback = settings.LOCK_FALLBACK
        return {
            "status": "down",
            "fallback": fallback,
            "fallback_active": fallback == "database",
            "detail": "locks use the database lease" if fallback == "database"
            else "runs are refused while Redis is down (LOCK_FALLBACK=fail)",
        }

    try:
        return _timed(probe)
    except Exception as exc:  # noqa: BLE001
        return {"status": "down", "error": f"{type(exc).__name__}: {exc}"[:300]}


def scheduler_check() -> dict:
    from scheduler_app.models import SchedulerInstance
    from scheduler_app.selectors import scheduler_instances_alive

    try:
        alive = scheduler_instances_alive()
        last = SchedulerInstance.objects.filter(stopped_at__isnull=True).order_by("-heartbeat_at").first()
    except Exception as exc:  # noqa: BLE001
        return {"status": "unknown", "error": f"{type(exc).__name__}: {exc}"[:300]}
    age = None if last is None else round((timezone.now() - last.heartbeat_at).total_seconds(), 3)
    return {
        "status": "ok" if alive else "down",
        "instances_alive": len(alive),
        "heartbeat_age_seconds": age,
        "stale_after_seconds": settings.SCHEDULER_STALE_SECONDS,
    }


def locks_check(*, redis_ok: bool) -> dict:
    from logs_app.selectors import lock_overview

    try:
        states = lock_overview(redis_ok=redis_ok)
    except Exception as exc:  # noqa: BLE001
        return {"status": "unknown", "error": f"{type(exc).__name__}: {exc}"[:300]}
    stuck = [
        {"key": s.key, "held_seconds": s.extra.get("held_seconds"), "reason": s.extra.get("stale_reason") or
         "held longer than the job's timeout plus the lease", "holder": s.holder.as_dict() if s.holder else None}
        for s in states if s.extra.get("stuck")
    ]
    return {"status": "stuck" if stuck else "ok", "held": len(states), "stuck": stuck}
