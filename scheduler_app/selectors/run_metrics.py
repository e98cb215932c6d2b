"""The run figures behind /metrics: counters and histograms over the run history, in one grouped query."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime

from django.db.models import Count, Q, Sum

from scheduler_app.models import JobRun

# Seconds. Run durations span sub-second to the longest timeout; lock waits are mostly ~0 or up to `wait` (600 s).
DURATION_BUCKETS = (0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, math.inf)


WAIT_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, math.inf)

# Start minus slot of scheduled runs. 60.0 is SCHEDULER_MISFIRE_GRACE_SECONDS' default: the JobsiteJobLate rule
# reads that bucket, so keep it (and add the grace there if you change the setting).
LATENESS_BUCKETS = (0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, math.inf)


MetricKey = tuple[str, tuple[str, ...]]  # (metric, label values)


def _le(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else repr(bound)


def run_metric_aggregates(*, created_from: datetime | None = None, created_before: datetime | None = None,
                          finished_only: bool = False) -> dict[MetricKey, float]:
    """Counters and histogram figures over JobRun rows, in ONE grouped query. Keys:

    ("runs", (job, status)), ("lock_acquisitions", (job, result)),
    ("run_duration", (job, status, le)) / ("run_duration_sum"|"_count", (job, status)),
    ("lock_held", (job, backend, le)) / sum / count, ("lock_wait", (job, le)) / sum / count,
    ("skips", (job, reason, trigger)), ("misses", (job, reason)), ("scheduled_slots", (job,)),
    ("start_lateness", (job, le)) / sum / count.
    Histogram buckets are cumulative (each run counts in every bucket at or above its value).
    """
    qs = JobRun.objects.all()
    if created_from is not None:
        qs = qs.filter(created_at__gte=created_from)
    if created_before is not None:
        qs = qs.filter(created_at__lt=created_before)
    if finished_only:
        qs = qs.filter(status__in=JobRun.FINISHED)
    started = Q(started_at__isnull=False, duration_ms__isnull=False) & ~Q(status=JobRun.Status.SKIPPED)
    waited = Q(lock_wait_ms__isnull=False, started_at__isnull=False)
    late = Q(start_lateness_ms__isnull=False, started_at__isnull=False)
    aggregates = {"n": Count("id"), "d_sum": Sum("duration_ms", filter=started), "d_n": Count("id", filter=started),
                  "w_sum": Sum("lock_wait_ms", filter=waited), "w_n": Count("id", filter=waited),
                  "l_sum": Sum("start_lateness_ms", filter=late), "l_n": Count("id", filter=late)}
    for i, bound in enumerate(DURATION_BUCKETS[:-1]):
        aggregates[f"d{i}"] = Count("id", filter=started & Q(duration_ms__lte=bound * 1000))
    for i, bound in enumerate(WAIT_BUCKETS[:-1]):
        aggregates[f"w{i}"] = Count("id", filter=waited & Q(lock_wait_ms__lte=bound * 1000))
    for i, bound in enumerate(LATENESS_BUCKETS[:-1]):
        aggregates[f"l{i}"] = Count("id", filter=late & Q(start_lateness_ms__lte=bound * 1000))
    rows = qs.order_by().values("job_id", "status", "skip_reason", "lock_backend", "trigger").annotate(**aggregates)

    out: dict[MetricKey, float] = defaultdict(float)
    for row in rows:
        job, status, backend = row["job_id"], row["status"], row["lock_backend"] or ""
        out[("runs", (job, status))] += row["n"]
        _count_slot_outcomes(out, row)
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
        if row["l_n"]:
            for i, bound in enumerate(LATENESS_BUCKETS):
                out[("start_lateness", (job, _le(bound)))] += row["l_n"] if math.isinf(bound) else row[f"l{i}"]
            out[("start_lateness_sum", (job,))] += (row["l_sum"] or 0) / 1000
            out[("start_lateness_count", (job,))] += row["l_n"]
    return dict(out)


def _count_slot_outcomes(out: dict[MetricKey, float], row: dict) -> None:
    """Skips (by reason and trigger), misses (by reason) and the schedule's slots. A duplicate_slot skip is a
    second fire of a slot that already has its run, so it is a skip but not another slot."""
    job, status, reason, n = row["job_id"], row["status"], row["skip_reason"] or "none", row["n"]
    if status == JobRun.Status.SKIPPED:
        out[("skips", (job, reason, row["trigger"]))] += n
    elif status == JobRun.Status.MISSED:
        out[("misses", (job, reason))] += n
    if row["trigger"] == JobRun.Trigger.SCHEDULED and reason != JobRun.SkipReason.DUPLICATE_SLOT:
        out[("scheduled_slots", (job,))] += n


def _lock_result(*, status: str, skip_reason: str, backend: str) -> str | None:
    """Which lock outcome a run records: acquired (Redis), fallback (database lease), blocked, error."""
    if backend == "redis":
        return "acquired"
    if backend == "database":
        return "fallback"
    if skip_reason in ("lock_held", "queue_full"):  # queue_full: the lock refused it and the queue was taken
        return "blocked"
    if skip_reason == "lock_unavailable":
        return "error"
    return None
