"""Log reads: the log list, and the run counters for /metrics (retired totals plus the live run history)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

from django.db import connection, transaction
from django.db.models import QuerySet

from logs_app.models import LogEntry, MetricTotal
from scheduler_app import selectors as scheduler_selectors
from scheduler_app.selectors import MetricKey


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
WATERMARK = "retired_before"  # MetricTotal.name of the row that holds the retirement boundary (epoch seconds)


def _from_epoch(value: float | None) -> datetime | None:
    return datetime.fromtimestamp(value, tz=UTC) if value else None


def run_metric_totals() -> dict[MetricKey, float]:
    """Everything ever recorded: the retired totals plus live rows created since the watermark.

    Both reads come from one snapshot (REPEATABLE READ on PostgreSQL), so a clean-up that retires and deletes
    runs between them cannot make a counter dip."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return _run_metric_totals()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        return _run_metric_totals()


def _run_metric_totals() -> dict[MetricKey, float]:
    totals: dict[MetricKey, float] = defaultdict(float)
    watermark = None
    for name, job_id, label, value in MetricTotal.objects.values_list("name", "job_id", "label", "value"):
        if name == WATERMARK:
            watermark = _from_epoch(value)
        else:
            totals[(name, (job_id, *label.split("|")) if label else (job_id,))] += value
    for key, value in scheduler_selectors.run_metric_aggregates(created_from=watermark).items():
        totals[key] += value
    return dict(totals)
