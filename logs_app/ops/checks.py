"""The health checks behind /healthz and `manage.py healthcheck`: one class per check, one method each.

Each check returns a small dict with a `status` and never raises: a check that cannot tell says so. The database
is what serving needs, so only its failure makes the report unhealthy; the others make it "degraded".
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection

from scheduler_app import selectors as scheduler_selectors


def _error(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


class HealthCheck:
    """One check. `name` is its key in the report; `needs_database` checks are skipped while the database is
    down (they would only repeat that)."""

    name = ""
    needs_database = True

    def run(self, report: HealthReport) -> dict:
        raise NotImplementedError


class DatabaseCheck(HealthCheck):
    name = "database"
    needs_database = False

    def run(self, report: HealthReport) -> dict:
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
            return {"status": "down", "error": _error(exc)}


class RedisCheck(HealthCheck):
    name = "redis"
    needs_database = False

    def run(self, report: HealthReport) -> dict:
        service = scheduler_selectors.lock_service_report()
        topology = {"mode": service["mode"], "where": service["where"],
                    **({"masters": service["masters"]} if "masters" in service else {})}
        if service["ok"]:
            return {"status": "ok", **topology}
        fallback = settings.LOCK_FALLBACK
        return {
            "status": "down",
            **topology,
            "fallback": fallback,
            "fallback_active": fallback == "database",
            "detail": "locks use the database lease" if fallback == "database"
            else "runs are refused while Redis is down (LOCK_FALLBACK=fail)",
        }


class SchedulerCheck(HealthCheck):
    name = "scheduler"

    def run(self, report: HealthReport) -> dict:
        try:
            alive = scheduler_selectors.scheduler_instances_alive()
            age = scheduler_selectors.scheduler_heartbeat_age()
        except Exception as exc:  # noqa: BLE001
            return {"status": "unknown", "error": _error(exc)}
        return {
            "status": "ok" if alive else "down",
            "instances_alive": len(alive),
            "heartbeat_age_seconds": age,
            "stale_after_seconds": settings.SCHEDULER_STALE_SECONDS,
        }


class LocksCheck(HealthCheck):
    """Stuck locks: held longer than the job's timeout plus the lease, or whose holder's run has ended."""

    name = "locks"

    def run(self, report: HealthReport) -> dict:
        try:
            # With Redis down only database leases can be held, so Redis is not asked again.
            states = scheduler_selectors.lock_states(include_redis=report.redis_ok)
        except Exception as exc:  # noqa: BLE001
            return {"status": "unknown", "error": _error(exc)}
        stuck = [
            {"key": s.key, "held_seconds": s.extra.get("held_seconds"), "reason": s.extra.get("stale_reason") or
             "held longer than the job's timeout plus the lease", "holder": s.holder.as_dict() if s.holder else None}
            for s in states if s.extra.get("stuck")
        ]
        return {"status": "stuck" if stuck else "ok", "held": len(states), "stuck": stuck}


CHECKS: tuple[HealthCheck, ...] = (DatabaseCheck(), RedisCheck(), SchedulerCheck(), LocksCheck())


@dataclass
class HealthReport:
    checks: dict = field(default_factory=dict)

    @property
    def database_ok(self) -> bool:
        return self.checks.get("database", {}).get("status") == "ok"

    @property
    def redis_ok(self) -> bool:
        return self.checks.get("redis", {}).get("status") == "ok"

    @property
    def healthy(self) -> bool:
        """Serving needs the database; Redis has a fallback and the scheduler is a separate process."""
        return self.database_ok

    @property
    def status(self) -> str:
        if not self.database_ok:
            return "down"
        degraded = any(check.get("status") not in ("ok", None) for check in self.checks.values())
        return "degraded" if degraded else "ok"

    def as_dict(self) -> dict:
        return {"status": self.status, **self.checks}


def health_report(checks: tuple[HealthCheck, ...] = CHECKS) -> HealthReport:
    """Run every check in order, each timed (`latency_ms`), into one report."""
    report = HealthReport()
    for check in checks:
        if check.needs_database and not report.database_ok:
            report.checks[check.name] = {"status": "unknown", "detail": "database unavailable"}
            continue
        started = time.perf_counter()
        try:
            result = check.run(report)
        except Exception as exc:  # noqa: BLE001 - a check never breaks the report
            result = {"status": "unknown", "error": _error(exc)}
        result["latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
        report.checks[check.name] = result
    return report
