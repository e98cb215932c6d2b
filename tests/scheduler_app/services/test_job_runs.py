"""Records of scheduled fires that never started, and the run-history clean-up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_apscheduler.models import DjangoJob, DjangoJobExecution

from scheduler_app.models import JobRun
from scheduler_app.services import job_run_record_not_started, run_history_delete_before

SLOT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def test_missed_slot_is_recorded_as_a_finished_scheduled_run(db, caplog):
    run = job_run_record_not_started(job_id="quick_job", scheduled_for=SLOT, status="MISSED", skip_reason="misfire",
                                     error="slot missed by 40 s")
    run.refresh_from_db()
    assert (run.job_id, run.lock_key, run.trigger, run.status, run.skip_reason) == (
        "quick_job", "quick_job", "scheduled", "MISSED", "misfire")
    assert run.scheduled_for == SLOT and run.error == "slot missed by 40 s"
    assert run.finished_at is not None and run.duration_ms == 0 and run.started_at is None
    assert "Scheduled run of job: quick_job" in caplog.text


def test_the_same_missed_slot_is_recorded_once(db):
    first = job_run_record_not_started(job_id="quick_job", scheduled_for=SLOT, status="MISSED",
                                       skip_reason="coalesced", error="3 slots")
    second = job_run_record_not_started(job_id="quick_job", scheduled_for=SLOT, status="MISSED",
                                        skip_reason="coalesced", error="3 slots (another scheduler)")
    assert second.pk == first.pk
    assert JobRun.objects.filter(status="MISSED").count() == 1


def test_a_different_slot_job_or_reason_is_a_row_of_its_own(db):
    job_run_record_not_started(job_id="quick_job", scheduled_for=SLOT, status="MISSED", skip_reason="misfire")
    job_run_record_not_started(job_id="quick_job", scheduled_for=SLOT + timedelta(minutes=30), status="MISSED",
                               skip_reason="misfire")
    job_run_record_not_started(job_id="hold_job", scheduled_for=SLOT, status="MISSED", skip_reason="misfire")
    job_run_record_not_started(job_id="quick_job", scheduled_for=SLOT, status="MISSED", skip_reason="coalesced")
    assert JobRun.objects.filter(status="MISSED").count() == 4


def test_skipped_rows_are_not_deduplicated(db):
    for _ in range(2):
        job_run_record_not_started(job_id="quick_job", scheduled_for=SLOT, status="SKIPPED",
                                   skip_reason="max_instances", error="max instances")
    rows = JobRun.objects.filter(status="SKIPPED", skip_reason="max_instances")
    assert rows.count() == 2
    assert {row.trigger for row in rows} == {"scheduled"}


def _finished_run(status: str, age_days: float) -> JobRun:
    run = JobRun.objects.create(job_id="quick_job", lock_key=f"quick_job:{status}:{age_days}:{JobRun.objects.count()}",
                                trigger="api", status=status)
    JobRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(days=age_days))
    return run


def test_history_delete_removes_only_old_finished_runs(db):
    old = [_finished_run(status, 10) for status in ("SUCCEEDED", "FAILED", "SKIPPED", "MISSED", "ABANDONED")]
    old_running = _finished_run("RUNNING", 10)
    old_queued = _finished_run("QUEUED", 10)
    recent = _finished_run("SUCCEEDED", 1)
    deleted = run_history_delete_before(cutoff=timezone.now() - timedelta(days=5))
    assert deleted == len(old)
    assert set(JobRun.objects.values_list("pk", flat=True)) == {old_running.pk, old_queued.pk, recent.pk}


def test_history_delete_works_in_batches(db):
    for _ in range(7):
        _finished_run("SUCCEEDED", 10)
    with CaptureQueriesContext(connection) as queries:
        deleted = run_history_delete_before(cutoff=timezone.now() - timedelta(days=5), batch_size=3)
    assert deleted == 7
    assert not JobRun.objects.exists()
    deletes = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("DELETE") and "jobrun" in q["sql"]]
    assert len(deletes) == 3  # 3 + 3 + 1


def test_history_delete_also_drops_old_apscheduler_executions_but_counts_runs_only(db):
    job = DjangoJob.objects.create(id="quick_job", next_run_time=None, job_state=b"")
    now = timezone.now()
    old = DjangoJobExecution.objects.create(job=job, status="Executed", run_time=now - timedelta(days=10))
    new = DjangoJobExecution.objects.create(job=job, status="Executed", run_time=now)
    assert run_history_delete_before(cutoff=now - timedelta(days=5)) == 0
    assert list(DjangoJobExecution.objects.values_list("pk", flat=True)) == [new.pk]
    assert not DjangoJobExecution.objects.filter(pk=old.pk).exists()


def test_nothing_to_delete(db):
    assert run_history_delete_before(cutoff=timezone.now()) == 0


@pytest.mark.parametrize("batch_size", [1, 10_000])
def test_a_cutoff_in_the_past_keeps_everything(db, batch_size):
    _finished_run("SUCCEEDED", 1)
    assert run_history_delete_before(cutoff=timezone.now() - timedelta(days=30), batch_size=batch_size) == 0
    assert JobRun.objects.count() == 1
