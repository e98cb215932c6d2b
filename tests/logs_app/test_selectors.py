"""Log reads: log_entry_list's filters, and run_metric_totals (retired totals plus the live history)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from logs_app.models import LogEntry, MetricTotal
from logs_app.selectors import WATERMARK, log_entry_list, run_metric_totals
from scheduler_app.models import JobRun

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _entry(level="INFO", minutes=0, **fields) -> LogEntry:
    return LogEntry.objects.create(timestamp=T0 + timedelta(minutes=minutes), level=level,
                                   levelno=logging.getLevelName(level), logger="scheduler_app",
                                   message=fields.pop("message", "hello"), **fields)


@pytest.fixture
def entries(db):
    return {
        "info": _entry("INFO", 0, job_id="quick_job", run_id=1, team_id=1, message="Lock acquired for job"),
        "warning": _entry("WARNING", 10, job_id="quick_job", run_id=2, message="Job exceeded timeout"),
        "error": _entry("ERROR", 20, job_id="hold_job", run_id=3, team_id=2, message="Failed to acquire"),
        "debug": _entry("DEBUG", 30, message="noise"),
    }


def _names(queryset, entries) -> set[str]:
    ids = set(queryset.values_list("pk", flat=True))
    return {name for name, entry in entries.items() if entry.pk in ids}


def test_no_filter_lists_everything_newest_first(entries):
    assert [e.pk for e in log_entry_list()] == [entries[n].pk for n in ("debug", "error", "warning", "info")]


@pytest.mark.parametrize("kwargs, expected", [
    ({"level": "WARNING"}, {"warning"}),
    ({"min_level": logging.WARNING}, {"warning", "error"}),
    ({"min_level": 0}, {"info", "warning", "error", "debug"}),
    ({"job_id": "quick_job"}, {"info", "warning"}),
    ({"run_id": 3}, {"error"}),
    ({"team_id": 1}, {"info"}),
    ({"since": T0 + timedelta(minutes=10)}, {"warning", "error", "debug"}),  # since is inclusive
    ({"until": T0 + timedelta(minutes=10)}, {"info"}),  # until is exclusive
    ({"search": "ACQUIRE"}, {"info", "error"}),  # case-insensitive
    ({"job_id": "quick_job", "min_level": logging.WARNING}, {"warning"}),
    ({"level": "", "job_id": "", "search": ""}, {"info", "warning", "error", "debug"}),  # blanks do not filter
    ({"run_id": 99}, set()),
])
def test_filters(entries, kwargs, expected):
    assert _names(log_entry_list(**kwargs), entries) == expected


def _run(status="SUCCEEDED", **fields) -> JobRun:
    return JobRun.objects.create(job_id="quick_job", lock_key="quick_job", trigger="api", status=status,
                                 started_at=timezone.now(), **fields)


def test_totals_are_the_live_history_without_retired_rows(db):
    _run(duration_ms=10)
    _run("FAILED", duration_ms=10)
    totals = run_metric_totals()
    assert totals[("runs", ("quick_job", "SUCCEEDED"))] == 1
    assert totals[("runs", ("quick_job", "FAILED"))] == 1


def test_retired_totals_are_added_to_the_live_ones(db):
    MetricTotal.objects.create(name="runs", job_id="quick_job", label="SUCCEEDED", value=40)
    MetricTotal.objects.create(name="lock_wait_count", job_id="quick_job", label="", value=7)
    _run(duration_ms=10, lock_wait_ms=1)
    totals = run_metric_totals()
    assert totals[("runs", ("quick_job", "SUCCEEDED"))] == 41
    assert totals[("lock_wait_count", ("quick_job",))] == 8


def test_a_multi_part_label_is_split(db):
    MetricTotal.objects.create(name="run_duration", job_id="quick_job", label="SUCCEEDED|0.5", value=3)
    assert run_metric_totals() == {("run_duration", ("quick_job", "SUCCEEDED", "0.5")): 3}


def test_the_watermark_keeps_retired_runs_from_counting_twice(db):
    old = _run(duration_ms=10)
    JobRun.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=30))
    _run(duration_ms=10)
    watermark = timezone.now() - timedelta(days=1)
    MetricTotal.objects.create(name=WATERMARK, value=watermark.timestamp())
    MetricTotal.objects.create(name="runs", job_id="quick_job", label="SUCCEEDED", value=1)  # the old run, retired
    totals = run_metric_totals()
    assert totals[("runs", ("quick_job", "SUCCEEDED"))] == 2
    assert not [key for key in totals if key[0] == WATERMARK]


def test_no_history_no_totals(db):
    assert run_metric_totals() == {}


@pytest.mark.django_db(transaction=True)
def test_on_postgresql_both_reads_share_one_repeatable_read_snapshot():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: set DATABASE_URL=postgres://...")
    with CaptureQueriesContext(connection) as queries:
        run_metric_totals()
    sql = [q["sql"] for q in queries.captured_queries]
    assert "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY" in sql
    assert sql.index("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY") < len(sql) - 2
