"""Retention: log entries and run history deleted in batches (at most 10k rows a transaction)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from logs_app import services
from logs_app.models import LogEntry
from scheduler_app.context import JobCancelled, JobContext, job_context_active
from scheduler_app.models import JobRun
from scheduler_app.services import job_run

pytestmark = pytest.mark.django_db


def make_entries(n: int, *, age: timedelta) -> None:
    ts = timezone.now() - age
    LogEntry.objects.bulk_create([LogEntry(timestamp=ts, level="INFO", levelno=20, logger="t", message=f"m{i}")
                                  for i in range(n)], batch_size=2000)


def deletes(queries) -> list[str]:
    return [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith("DELETE")]


def test_deletes_in_batches_one_statement_each(db):
    make_entries(25, age=timedelta(days=40))
    make_entries(5, age=timedelta(days=1))
    with CaptureQueriesContext(connection) as queries:
        deleted, batches = services.log_entries_delete_before(cutoff=timezone.now() - timedelta(days=30),
                                                              batch_size=10)
    assert (deleted, batches) == (25, 3)
    assert len(deletes(queries)) == 3
    # every batch in its own transaction (a savepoint inside the test's transaction)
    assert sum("SAVEPOINT" in q["sql"] and "RELEASE" not in q["sql"] and "ROLLBACK" not in q["sql"]
               for q in queries) == 3
    assert LogEntry.objects.count() == 5


def test_batch_size_is_capped_at_ten_thousand(db):
    make_entries(10_001, age=timedelta(days=40))
    with CaptureQueriesContext(connection) as queries:
        deleted, batches = services.log_entries_delete_before(cutoff=timezone.now(), batch_size=50_000)
    assert (deleted, batches) == (10_001, 2)
    assert len(deletes(queries)) == 2


def test_a_cancelled_run_stops_at_a_batch_border(db):
    make_entries(30, age=timedelta(days=40))
    ctx = JobContext(run_id=1, job_id="cleanup_old_logs_task", lock_key="cleanup_old_logs_task", fencing_token=1,
                     fence_check=lambda: True)
    checks = []
    original_check = ctx.check

    def check():
        checks.append(1)
        if len(checks) == 3:
            ctx.cancel("timeout")
        original_check()

    ctx.check = check
    with job_context_active(ctx), pytest.raises(JobCancelled):
        services.log_entries_delete_before(cutoff=timezone.now(), batch_size=10)
    assert LogEntry.objects.count() == 10  # two batches went, the third never started


def test_cleanup_job_deletes_old_logs_and_old_run_history_in_batches(fake_redis, settings):
    settings.LOG_RETENTION_DAYS = 30
    settings.RUN_RETENTION_DAYS = 90
    settings.LOG_CLEANUP_BATCH_SIZE = 7
    make_entries(20, age=timedelta(days=31))
    make_entries(3, age=timedelta(days=3))
    old_runs = [JobRun.objects.create(job_id="scrape_jobs_task", lock_key="scrape_jobs_task", trigger="scheduled",
                                      status=JobRun.Status.SUCCEEDED) for _ in range(3)]
    JobRun.objects.filter(pk__in=[r.pk for r in old_runs]).update(created_at=timezone.now() - timedelta(days=91))
    recent = JobRun.objects.create(job_id="scrape_jobs_task", lock_key="scrape_jobs_task", trigger="api",
                                   status=JobRun.Status.SUCCEEDED)
    from django_apscheduler.models import DjangoJob, DjangoJobExecution

    store_job = DjangoJob.objects.create(id="scrape_jobs_task", next_run_time=None, job_state=b"")
    for days in (91, 95, 2):
        DjangoJobExecution.objects.create(job=store_job, status=DjangoJobExecution.SUCCESS,
                                          run_time=timezone.now() - timedelta(days=days))

    run = job_run(job_id="cleanup_old_logs_task", trigger=JobRun.Trigger.CLI)

    assert run.status == JobRun.Status.SUCCEEDED, run.error
    assert run.result == {"deleted": 20, "batches": 3, "older_than_days": 30, "runs_deleted": 3}
    assert LogEntry.objects.filter(logger="t").count() == 3
    assert set(JobRun.objects.values_list("pk", flat=True)) == {recent.pk, run.pk}
    assert DjangoJobExecution.objects.count() == 1  # the 2-day-old execution stays


def test_negative_days_is_refused_by_the_service(db):
    with pytest.raises(ValueError):
        services.log_entries_cleanup(older_than_days=-1)
