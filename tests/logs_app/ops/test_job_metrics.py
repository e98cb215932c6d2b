"""/metrics per job: skips and misses by reason, schedule slots, start lateness, runs in flight, failures since the
last success, the last success, and the stuck limit. Label values stay bounded (no run or team ids)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from logs_app.services import log_entries_cleanup
from scheduler_app import locks
from scheduler_app.models import JobRun, SchedulerInstance
from scheduler_app.services import job_run, job_run_record_not_started, run_history_delete_before
from tests.logs_app.ops.test_metrics import scrape, value

pytestmark = pytest.mark.django_db


def _run(job_id: str, status: str, *, trigger: str = "api", minutes_ago: float = 0, **fields) -> JobRun:
    at = timezone.now() - timedelta(minutes=minutes_ago)
    return JobRun.objects.create(job_id=job_id, lock_key=job_id, trigger=trigger, status=status, started_at=at,
                                 finished_at=at, duration_ms=1, **fields)


def test_skips_by_reason_and_trigger_misses_and_slots(fake_redis):
    slot = timezone.now().replace(microsecond=0)
    assert job_run(job_id="quick_job", trigger="scheduled", scheduled_for=slot).status == JobRun.Status.SUCCEEDED
    with locks.execution_lock("quick_job", ttl_seconds=60):
        job_run(job_id="quick_job", trigger="scheduled", scheduled_for=slot + timedelta(minutes=1))
        job_run(job_id="quick_job", trigger="api")
    # A second scheduler's fire of the slot that ran: a skip, not another slot.
    job_run_record_not_started(job_id="quick_job", scheduled_for=slot, status=JobRun.Status.SKIPPED,
                               skip_reason=JobRun.SkipReason.DUPLICATE_SLOT)
    job_run_record_not_started(job_id="quick_job", scheduled_for=slot - timedelta(minutes=1),
                               status=JobRun.Status.MISSED, skip_reason=JobRun.SkipReason.MISFIRE)
    samples = scrape()
    assert value(samples, "jobsite_skips_total", job_id="quick_job", reason="lock_held", trigger="scheduled") == 1
    assert value(samples, "jobsite_skips_total", job_id="quick_job", reason="lock_held", trigger="api") == 1
    assert value(samples, "jobsite_skips_total", job_id="quick_job", reason="duplicate_slot",
                 trigger="scheduled") == 1
    assert value(samples, "jobsite_misses_total", job_id="quick_job", reason="misfire") == 1
    # the slot that ran, the refused slot and the missed slot; not the duplicate, not the API trigger
    assert value(samples, "jobsite_scheduled_slots_total", job_id="quick_job") == 3


def test_start_lateness_of_scheduled_runs(fake_redis):
    now = timezone.now()
    late = job_run(job_id="quick_job", trigger="scheduled", scheduled_for=now - timedelta(seconds=90))
    on_time = job_run(job_id="quick_job", trigger="scheduled", scheduled_for=now)
    manual = job_run(job_id="quick_job", trigger="api")
    assert 90_000 <= late.start_lateness_ms < 120_000
    assert 0 <= on_time.start_lateness_ms < 30_000
    assert manual.start_lateness_ms is None
    assert JobRun.objects.get(pk=late.pk).start_lateness_ms == late.start_lateness_ms
    samples = scrape()
    bucket = "jobsite_run_start_lateness_seconds_bucket"
    assert value(samples, "jobsite_run_start_lateness_seconds_count", job_id="quick_job") == 2
    assert value(samples, bucket, job_id="quick_job", le="60.0") == 1  # the JobsiteJobLate rule's bucket
    assert value(samples, bucket, job_id="quick_job", le="120.0") == 2
    assert value(samples, bucket, job_id="quick_job", le="+Inf") == 2
    assert value(samples, "jobsite_run_start_lateness_seconds_sum", job_id="quick_job") == pytest.approx(
        (late.start_lateness_ms + on_time.start_lateness_ms) / 1000)


def test_consecutive_failures_count_since_the_last_success(fake_redis):
    _run("failing_job", "FAILED", minutes_ago=10)
    _run("failing_job", "SUCCEEDED", minutes_ago=9)
    _run("failing_job", "FAILED", minutes_ago=8)
    _run("failing_job", "TIMED_OUT", minutes_ago=7)
    _run("failing_job", "CANCELLED", minutes_ago=6)  # neither ends a streak nor extends it
    _run("failing_job", "SKIPPED", minutes_ago=5)
    assert job_run(job_id="failing_job", trigger="cli").status == JobRun.Status.FAILED
    samples = scrape()
    assert value(samples, "jobsite_job_consecutive_failures", job_id="failing_job") == 3
    # every defined job has its series, at 0 when nothing failed
    assert ("jobsite_job_consecutive_failures", (("job_id", "quick_job"),)) in samples
    assert value(samples, "jobsite_job_consecutive_failures", job_id="quick_job") == 0

    _run("failing_job", "PARTIAL", minutes_ago=-1)  # a partial run did its work: the streak ends
    assert value(scrape(), "jobsite_job_consecutive_failures", job_id="failing_job") == 0


def test_a_job_that_never_succeeded_counts_all_its_failures(fake_redis):
    for minutes in (3, 2, 1):
        _run("failing_job", "LOST_LOCK" if minutes == 2 else "FAILED", minutes_ago=minutes)
    samples = scrape()
    assert value(samples, "jobsite_job_consecutive_failures", job_id="failing_job") == 3
    assert ("jobsite_job_last_success_timestamp_seconds", (("job_id", "failing_job"),)) not in samples


def test_last_success_timestamp(fake_redis):
    run = job_run(job_id="quick_job", trigger="cli")
    _run("quick_job", "FAILED", minutes_ago=-1)
    assert value(scrape(), "jobsite_job_last_success_timestamp_seconds", job_id="quick_job") == pytest.approx(
        JobRun.objects.get(pk=run.pk).finished_at.timestamp())


def test_runs_in_flight_count_live_runs_only(fake_redis, settings):
    now = timezone.now()
    JobRun.objects.create(job_id="hold_job", lock_key="hold_job:team:1", trigger="api", status="RUNNING",
                          started_at=now, heartbeat_at=now)
    JobRun.objects.create(job_id="hold_job", lock_key="hold_job:team:2", trigger="api", status="RUNNING",
                          started_at=now, heartbeat_at=now)
    JobRun.objects.create(job_id="hold_job", lock_key="hold_job:team:3", trigger="api", status="RUNNING",
                          started_at=now, heartbeat_at=now - timedelta(seconds=settings.LOCK_LEASE_SECONDS + 5))
    samples = scrape()
    assert value(samples, "jobsite_runs_in_flight", job_id="hold_job") == 2  # the third one is dead
    assert value(samples, "jobsite_runs_in_flight", job_id="quick_job") == 0


def test_held_locks_by_job_without_team_ids_and_their_stuck_limit(fake_redis, settings):
    now = timezone.now()
    first = JobRun.objects.create(job_id="team_job", lock_key="team_job:team:7", trigger="api", status="RUNNING",
                                  started_at=now, heartbeat_at=now)
    second = JobRun.objects.create(job_id="team_job", lock_key="team_job:team:8", trigger="api", status="RUNNING",
                                   started_at=now, heartbeat_at=now)
    older = locks.acquire("team_job:team:7", ttl_seconds=60, run_id=first.pk)
    newer = locks.acquire("team_job:team:8", ttl_seconds=60, run_id=second.pk)
    try:
        samples = scrape()
    finally:
        newer.release()
        older.release()
    held = {labels: v for (name, labels), v in samples.items() if name == "jobsite_lock_current_held_seconds"}
    assert list(held) == [(("backend", "redis"), ("job_id", "team_job"))]  # one series, no team id
    assert held[(("backend", "redis"), ("job_id", "team_job"))] >= 0
    for (name, labels), _v in samples.items():
        assert not any(label in ("key", "run_id", "team_id") for label, _ in labels), name
    assert value(samples, "jobsite_lock_stuck_after_seconds", job_id="team_job") == 60 + settings.LOCK_LEASE_SECONDS


def test_scheduler_last_heartbeat(fake_redis):
    assert value(scrape(), "jobsite_scheduler_last_heartbeat_timestamp_seconds") == 0  # none ever ran
    now = timezone.now()
    SchedulerInstance.objects.create(host="a", pid=1, started_at=now, heartbeat_at=now - timedelta(seconds=40))
    SchedulerInstance.objects.create(host="b", pid=2, started_at=now, heartbeat_at=now, stopped_at=now)
    assert value(scrape(), "jobsite_scheduler_last_heartbeat_timestamp_seconds") == pytest.approx(
        (now - timedelta(seconds=40)).timestamp())  # the stopped one no longer beats


def test_new_counters_survive_retention(fake_redis, settings):
    settings.RUN_RETENTION_DAYS = 90
    old = [_run("quick_job", "SKIPPED", trigger="scheduled", skip_reason="lock_held"),
           _run("quick_job", "MISSED", trigger="scheduled", skip_reason="misfire"),
           _run("quick_job", "SUCCEEDED", trigger="scheduled", start_lateness_ms=1500)]
    JobRun.objects.filter(pk__in=[r.pk for r in old]).update(created_at=timezone.now() - timedelta(days=100))
    before = scrape()
    assert log_entries_cleanup(run_history_delete=run_history_delete_before)["runs_deleted"] == 3
    after = scrape()
    for name, labels in [("jobsite_skips_total", dict(reason="lock_held", trigger="scheduled")),
                         ("jobsite_misses_total", dict(reason="misfire")),
                         ("jobsite_scheduled_slots_total", {}),
                         ("jobsite_run_start_lateness_seconds_count", {}),
                         ("jobsite_run_start_lateness_seconds_bucket", dict(le="2.0"))]:
        assert value(before, name, job_id="quick_job", **labels) >= 1, name
        assert value(after, name, job_id="quick_job", **labels) == value(before, name, job_id="quick_job",
                                                                          **labels), name
