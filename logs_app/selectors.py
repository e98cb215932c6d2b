"""Log and operations reads: the log list, run metrics (for /metrics) and the health report (/healthz, CLI)."""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count, Q, QuerySet, Sum

from logs_app.models import LogEntry, MetricTotal

# Seconds. Run durations span sub-second to the longest timeout; lock waits are mostly ~0 or up to `wait` (600 s).
DURATION_BUCKETS = (0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, math.inf)
WAIT_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, math.inf)
WATERMARK = "retired_before"  # MetricTotal.name of the row that holds the retirement boundary (epoch seconds)


def log_entry_list(*, level: str | None = None, min_level: int | None = None, job_id: str | None = None,
                   run_id: int | None = None, team_id: int | None = None, since: datetime | None = None,
                   until: datetime | None = None, search: str | None = None) -> QuerySet[LogEntry]:
    qs = LogEntry.objects.all()
    if level:
        qs = qs.filter(level=level)
    if min_level is not None:
        qs = qs.filter(levelno__gte=min_level)
    if job_id:
        qs = qs.filter(job_id=job_id)
    if run_id is not None:
        qs = qs.filter(run_id=run_id)
    if team_id is not None:
        qs = qs.filter(team_id=team_id)
    if since is not None:
        qs = qs.filter(timestamp__gte=since)
    if until is not None:
        qs = qs.filter(timestamp__lt=until)
    if search:
        qs = qs.filter(message__icontains=search)
    return qs


# -- run metrics ----------------------------------------------------------------------------------------------------
Key = tuple[str, tuple[str, ...]]  # (metric, label values)


def _le(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else repr(bound)


def run_metric_aggregates(*, created_from: datetime | None = None, created_before: datetime | None = None,
                          finished_only: bool = False) -> dict[Key, float]:
    """Counters and histogram figures over JobRun rows, in ONE grouped query. Keys:

    ("runs", (job, status)), ("lock_acquisitions", (job, result)),
    ("run_duration", (job, status, le)) / ("run_duration_sum"|"_count", (job, status)),
    ("lock_held", (job, backend, le)) / sum / count, ("lock_wait", (job, le)) / sum / count.
    Histogram buckets are cumulative (each run counts in every bucket at or above its value).
    """
    from scheduler_app.models import JobRun

    qs = JobRun.objects.all()
    if created_from is not None:
        qs = qs.filter(created_at__gte=created_from)
    if created_before is not None:
        qs = qs.filter(created_at__lt=created_before)
    if finished_only:
        qs = qs.filter(status__in=JobRun.FINISHED)
    started = Q(started_at__isnull=False, duration_ms__isnull=False) & ~Q(status=JobRun.Status.SKIPPED)
    waited = Q(lock_wait_ms__isnull=False, started_at__isnull=False)
    aggregates = {"n": Count("id"), "d_sum": Sum("duration_ms", filter=started), "d_n": Count("id", filter=started),
                  "w_sum": Sum("lock_wait_ms", filter=waited), "w_n": Count("id", filter=waited)}
    for i, bound in enumerate(DURATION_BUCKETS[:-1]):
        aggregates[f"d{i}"] = Count("id", filter=started & Q(duration_ms__lte=bound * 1000))
    for i, bound in enumerate(WAIT_BUCKETS[:-1]):
        aggregates[f"w{i}"] = Count("id", filter=waited & Q(lock_wait_ms__lte=bound * 1000))
    rows = qs.order_by().values("job_id", "status", "skip_reason", "lock_backend").annotate(**aggregates)

    out: dict[Key, float] = defaultdict(float)
    for row in rows:
        job, status, backend = row["job_id"], row["status"], row["lock_backend"] or ""
        out[("runs", (job, status))] += row["n"]
        result = _lock_result(status=status, skip_reason=row["skip_reason"], backend=backend)
        if result:
            out[("lock_acquisitions", (job, result))] += row["n"]
        if row["d_n"]:
            for i, bound in enumerate(DURATION_BUCKETS):
                count = row["d_n"] if math.isinf(bound) else row[f"d{i}"]
                out[("run_duration", (job, status, _le(bound)))] += count
                out[("lock_held", (job, backend, _le(bound)))] += count
            seconds = (row["d_sum"] or 0) / 1000
            out[("run_duration_sum", (job, status))] += seconds
            out[("run_duration_count", (job, status))] += row["d_n"]
            out[("lock_held_sum", (job, backend))] += seconds
            out[("lock_held_count", (job, backend))] += row["d_n"]
        if row["w_n"]:
            for i, bound in enumerate(WAIT_BUCKETS):
                out[("lock_wait", (job, _le(bound)))] += row["w_n"] if math.isinf(bound) else row[f"w{i}"]
            out[("lock_wait_sum", (job,))] += (row["w_sum"] or 0) / 1000
            out[("lock_wait_count", (job,))] += row["w_n"]
    return dict(out)


def _lock_result(*, status: str, skip_reason: str, backend: str) -> str | None:
    """Which lock outcome a run records: acquired (Redis), fallback (database lease), blocked, error."""
    if backend == "redis":
        return "acquired"
    if backend == "database":
        return "fallback"
    if skip_reason == "lock_held":
        return "blocked"
    if skip_reason == "lock_unavailable":
        return "error"
    return None


def _from_epoch(value: float | None) -> datetime | None:
    from datetime import UTC

    return datetime.fromtimestamp(value, tz=UTC) if value else None


def run_metric_totals() -> dict[Key, float]:
    """Everything ever recorded: the retired totals plus live rows created since the watermark.

    Both reads come from one snapshot (REPEATABLE READ on PostgreSQL), so a clean-up that retires and deletes
    runs between them cannot make a counter dip."""
    from django.db import connection, transaction

    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return _run_metric_totals()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        return _run_metric_totals()


def _run_metric_totals() -> dict[Key, float]:
    totals: dict[Key, float] = defaultdict(float)
    watermark = None
    for name, job_id, label, value in MetricTotal.objects.values_list("name", "job_id", "label", "value"):
        if name == WATERMARK:
            watermark = _from_epoch(value)
        else:
            totals[(name, (job_id, *label.split("|")) if label else (job_id,))] += value
    for key, value in run_metric_aggregates(created_from=watermark).items():
        totals[key] += value
    return dict(totals)


# -- locks and Redis, bounded in time -------------------------------------------------------------------------------
REDIS_PING_TIMEOUT_SECONDS = 1.0


def redis_ping(*, timeout: float = REDIS_PING_TIMEOUT_SECONDS) -> bool:
    """PING the lock's Redis, answering within `timeout`: with Redis down, redis-py's default retries take
    seconds per call, longer than a probe or a scrape should wait. (The ping thread finishes on its own.)"""
    from scheduler_app import locks

    answer: dict[str, bool] = {}

    def ping() -> None:
        try:
            answer["ok"] = locks.redis_available()
        except Exception:  # noqa: BLE001
            answer["ok"] = False

    thread = threading.Thread(target=ping, name="redis-ping", daemon=True)
    thread.start()
    thread.join(timeout)
    return answer.get("ok", False)


def lock_overview(*, redis_ok: bool) -> list:
    """Held locks with `stuck` in `extra` (the scheduler's rule). With Redis down only database leases can be
    held, so Redis is not asked again."""
    from scheduler_app.selectors import lock_states

    return lock_states(include_redis=redis_ok)


# -- health ---------------------------------------------------------------------------------------------------------
@dataclass
class HealthReport:
    checks: dict = field(default_factory=dict)

    @property
    def database_ok(self) -> bool:
        return self.checks.get("database", {}).get("status") == "ok"

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


def health_report() -> HealthReport:
    """The one health check behind both /healthz and `manage.py healthcheck`."""
    from logs_app import health

    report = HealthReport()
    report.checks["database"] = health.database_check()
    report.checks["redis"] = health.redis_check()
    if report.database_ok:
        report.checks["scheduler"] = health.scheduler_check()
        report.checks["locks"] = health.locks_check(redis_ok=report.checks["redis"]["status"] == "ok")
    else:
        report.checks["scheduler"] = {"status": "unknown", "detail": "database unavailable"}
        report.checks["locks"] = {"status": "unknown", "detail": "database unavailable"}
    return report
