"""Log writes: retention clean-up (the body of cleanup_old_logs_task) and flushing the database handler."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from logs_app import selectors
from logs_app.handler import database_handlers
from logs_app.models import LogEntry, MetricTotal
from scheduler_app import selectors as scheduler_selectors
from scheduler_app.context import current_job_context
from scheduler_app.job_wrapper import InvalidJobParams

logger = logging.getLogger("logs_app")

MAX_BATCH_SIZE = 10_000
RETENTION_DAYS_MAX = 36_500  # a century: further back than any datetime arithmetic needs


def cleanup_params_validate(params: dict) -> dict:
    """cleanup_old_logs_task's parameters from any trigger (API, admin, runjob's strings, the schedule): only
    `older_than_days`, a whole number from 0 to RETENTION_DAYS_MAX. Raises InvalidJobParams."""
    unknown = sorted(set(params) - {"older_than_days"})
    if unknown:
        raise InvalidJobParams(f"Unknown parameter(s): {', '.join(unknown)}", {k: "unknown parameter" for k in unknown})
    value = params.get("older_than_days")
    if value is None:
        return {}
    text = value if isinstance(value, str) else None
    if isinstance(value, bool) or not (isinstance(value, int) or (text and text.isascii() and text.isdigit())):
        raise InvalidJobParams(f"older_than_days: expected a whole number, got {value!r}",
                               {"older_than_days": "expected a whole number"})
    days = int(value) if len(str(value)) <= 6 else RETENTION_DAYS_MAX + 1
    if not 0 <= days <= RETENTION_DAYS_MAX:
        raise InvalidJobParams(f"older_than_days: must be from 0 to {RETENTION_DAYS_MAX}",
                               {"older_than_days": f"must be from 0 to {RETENTION_DAYS_MAX}"})
    return {"older_than_days": days}


def log_entries_flush() -> int:
    """Write this process's buffered log records now (tests, and before a clean-up takes its cutoff)."""
    written = 0
    for handler in database_handlers():
        if handler.background:
            handler.flush()
        else:
            written += handler.write_pending()
    return written


def log_entries_delete_before(*, cutoff, batch_size: int = MAX_BATCH_SIZE) -> tuple[int, int]:
    """Delete LogEntry rows older than `cutoff`, at most `batch_size` rows per transaction.

    Keyset batches over the primary key: find the next `batch_size` old ids after the last batch, then delete that
    id range in one statement. Ids grow with time, so this walks the index once instead of re-scanning the
    rows (or, on PostgreSQL, the dead index entries) that earlier batches deleted.
    Inside a job, the job's context is checked between batches, so a timeout stops the clean-up at a batch border.
    Returns (rows deleted, batches).
    """
    batch_size = max(1, min(batch_size, MAX_BATCH_SIZE))
    ctx = current_job_context()
    old = LogEntry.objects.filter(timestamp__lt=cutoff).order_by("pk")
    deleted = batches = 0
    last_id = None
    while True:
        if ctx is not None:
            ctx.check()
        page = old if last_id is None else old.filter(pk__gt=last_id)
        ids = list(page.values_list("pk", flat=True)[:batch_size])
        if not ids:
            break
        with transaction.atomic():
            count, _ = old.filter(pk__gte=ids[0], pk__lte=ids[-1]).delete()
        deleted += count
        batches += 1
        last_id = ids[-1]
        if len(ids) < batch_size:
            break
    return deleted, batches


def log_entries_cleanup(*, older_than_days: int | None = None, batch_size: int | None = None,
                        run_history_delete: Callable[..., int] | None = None) -> dict:
    """Retention: log entries older than `older_than_days` (default LOG_RETENTION_DAYS; 0 clears everything),
    then, given `run_history_delete(cutoff=, batch_size=)` (the scheduler's, passed in by the job), finished runs
    older than RUN_RETENTION_DAYS, after their figures are retired into the metric totals. Batches of at most
    10k rows."""
    days = settings.LOG_RETENTION_DAYS if older_than_days is None else older_than_days
    if days < 0:
        raise ValueError("older_than_days must be 0 or more")
    batch = min(batch_size or settings.LOG_CLEANUP_BATCH_SIZE, MAX_BATCH_SIZE)
    log_entries_flush()  # so that "0 days" also clears what this process has buffered
    now = timezone.now()
    deleted, batches = log_entries_delete_before(cutoff=now - timedelta(days=days), batch_size=batch)
    logger.info("Deleted %d log entries older than %d days in %d batches", deleted, days, batches)

    result = {"deleted": deleted, "batches": batches, "older_than_days": days, "runs_deleted": None}
    if run_history_delete is None:
        return result
    ctx = current_job_context()
    if ctx is not None:
        ctx.check()
    run_cutoff = now - timedelta(days=settings.RUN_RETENTION_DAYS)
    # Counters at /metrics must not go down when history goes: retire the old runs' figures first.
    run_metrics_retire(cutoff=run_cutoff)
    result["runs_deleted"] = run_history_delete(cutoff=run_cutoff, batch_size=batch)
    logger.info("Deleted %d runs older than %d days", result["runs_deleted"], settings.RUN_RETENTION_DAYS)
    return result


def run_metrics_retire(*, cutoff: datetime) -> int:
    """Move the metric figures of finished runs created before `cutoff` into MetricTotal and advance the
    watermark, in one transaction. Idempotent: a run is counted live or retired, never both, whenever (or
    whether) the history delete that follows succeeds. Returns how many runs were retired."""
    with transaction.atomic():
        mark, _ = MetricTotal.objects.select_for_update().get_or_create(name=selectors.WATERMARK, job_id="",
                                                                        label="", defaults={"value": 0})
        start = datetime.fromtimestamp(mark.value, tz=UTC) if mark.value else None
        if start is not None and cutoff <= start:
            return 0
        figures = scheduler_selectors.run_metric_aggregates(created_from=start, created_before=cutoff,
                                                            finished_only=True)
        for (name, labels), value in figures.items():
            row, _ = MetricTotal.objects.select_for_update().get_or_create(
                name=name, job_id=labels[0], label="|".join(labels[1:]), defaults={"value": 0})
            MetricTotal.objects.filter(pk=row.pk).update(value=F("value") + value)
        MetricTotal.objects.filter(pk=mark.pk).update(value=cutoff.timestamp())
    return int(sum(v for (name, _), v in figures.items() if name == "runs"))
