"""scheduler_status and friends: the status page's shape, next_run from the job store or the trigger, liveness."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django_apscheduler.models import DjangoJob

from scheduler_app import locks
from scheduler_app.models import JobDefinition, JobRun, SchedulerInstance
from scheduler_app.scheduler import triggers
from scheduler_app.selectors import (
    job_runs_recent_per_job,
    scheduler_dashboard,
    scheduler_heartbeat_age,
    scheduler_instances_alive,
    scheduler_status,
)

STORE_NEXT = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)


def _instance(*, age_seconds: float = 0, stopped: bool = False, pid: int = 4242) -> SchedulerInstance:
    now = timezone.now()
    return SchedulerInstance.objects.create(host="h", pid=pid, started_at=now - timedelta(hours=1),
                                            heartbeat_at=now - timedelta(seconds=age_seconds),
                                            stopped_at=now if stopped else None)


def _jobs(status: dict) -> dict:
    return {job["id"]: job for job in status["jobs"]}


@pytest.fixture
def status_db(db, fake_redis):
    DjangoJob.objects.all().delete()
    return db


def test_shape(status_db):
    status = scheduler_status()
    assert set(status) == {"running", "redis", "schedulers", "jobs"}
    assert status["running"] is False and status["schedulers"] == []
    assert status["redis"] is True
    ids = [job["id"] for job in status["jobs"]]
    assert ids == sorted(JobDefinition.objects.values_list("job_id", flat=True))
    job = _jobs(status)["scrape_jobs_task"]
    assert set(job) == {"id", "name", "next_run", "trigger", "schedule", "enabled", "running", "lock", "running_run",
                        "last_run", "timeout_minutes", "lock_scope", "wait_seconds", "overlap_policy",
                        # the console's additions
                        "schedule_words", "cron", "state", "heartbeat_age_seconds", "last_success", "last_failure",
                        "failures_24h", "skips_24h", "timeout_advice",
                        "time_zone",  # the cron schedule's zone (the job's own, or TIME_ZONE)
                        # pause and resume
                        "paused", "paused_by", "paused_at", "pause_reason", "pause_text"}
    assert job["name"] == "Job Scraping"
    assert job["running"] is False and job["lock"] is None and job["running_run"] is None
    assert job["last_run"] is None
    assert job["state"] == {"kind": "idle"} and job["heartbeat_age_seconds"] is None
    assert job["last_success"] is None and job["last_failure"] is None
    assert job["failures_24h"] == job["skips_24h"] == 0
    assert job["schedule_words"] == "every 30 min" and job["cron"] == "*/30 * * * *"


def test_next_run_is_computed_from_the_trigger_without_a_live_scheduler(status_db):
    definition = JobDefinition.objects.get(job_id="scrape_jobs_task")
    DjangoJob.objects.create(id="scrape_jobs_task", next_run_time=STORE_NEXT, job_state=b"")
    _instance(age_seconds=3600)  # its heartbeat is long stale: not running
    before = timezone.now()
    job = _jobs(scheduler_status())["scrape_jobs_task"]
    next_run = parse_datetime(job["next_run"])
    assert next_run.utcoffset() is not None  # ISO 8601 with an offset
    expected = triggers.next_fire_time(triggers.trigger_build(definition), now=before)
    assert next_run in {expected, triggers.next_fire_time(triggers.trigger_build(definition), now=timezone.now())}
    assert next_run != STORE_NEXT


def test_next_run_comes_from_the_job_store_while_a_scheduler_runs(status_db):
    DjangoJob.objects.create(id="scrape_jobs_task", next_run_time=STORE_NEXT, job_state=b"")
    _instance()
    status = scheduler_status()
    assert status["running"] is True
    assert [s["pid"] for s in status["schedulers"]] == [4242]
    job = _jobs(status)["scrape_jobs_task"]
    assert parse_datetime(job["next_run"]) == STORE_NEXT
    # a job without a store entry is still computed from its trigger
    assert _jobs(status)["check_follow_ups_task"]["next_run"] is not None


def test_a_disabled_or_unscheduled_job_has_no_next_run(status_db):
    JobDefinition.objects.filter(job_id="scrape_jobs_task").update(enabled=False)
    JobDefinition.objects.filter(job_id="quick_job").update(cron="", trigger_type="cron")
    jobs = _jobs(scheduler_status())
    assert jobs["scrape_jobs_task"]["next_run"] is None and jobs["scrape_jobs_task"]["enabled"] is False
    assert jobs["quick_job"]["next_run"] is None and jobs["quick_job"]["schedule"] == "on demand"


def test_a_job_in_its_own_time_zone_shows_it_and_its_next_run_follows_it(status_db, settings):
    settings.TIME_ZONE = "UTC"
    JobDefinition.objects.filter(job_id="check_follow_ups_task").update(cron="0 9 * * *", time_zone="Europe/Berlin")
    before = timezone.now()
    job = _jobs(scheduler_status())["check_follow_ups_task"]
    assert job["time_zone"] == "Europe/Berlin" and job["schedule_words"] == "daily at 09:00 Europe/Berlin"
    assert _jobs(scheduler_status())["scrape_jobs_task"]["time_zone"] == "UTC"  # blank: TIME_ZONE
    # 09:00 on the Berlin wall clock, whatever the date (no transition falls at 09:00)
    berlin = ZoneInfo("Europe/Berlin")
    local = before.astimezone(berlin)
    day = local.date() if local.time() < time(9) else local.date() + timedelta(days=1)
    assert parse_datetime(job["next_run"]) == datetime.combine(day, time(9), tzinfo=berlin)


def test_running_from_a_fresh_run_or_a_held_lock(status_db):
    now = timezone.now()
    live = JobRun.objects.create(job_id="hold_job", lock_key="hold_job", trigger="api", status="RUNNING",
                                 started_at=now, heartbeat_at=now)
    JobRun.objects.create(job_id="quick_job", lock_key="quick_job", trigger="api", status="RUNNING",
                          started_at=now - timedelta(hours=1), heartbeat_at=now - timedelta(hours=1))
    lease = locks.acquire("failing_job", ttl_seconds=60)
    try:
        jobs = _jobs(scheduler_status())
    finally:
        lease.release()
    assert jobs["hold_job"]["running"] is True and jobs["hold_job"]["running_run"]["id"] == live.pk
    assert jobs["hold_job"]["lock"] is None
    assert jobs["hold_job"]["last_run"]["id"] == live.pk
    assert jobs["quick_job"]["running"] is False  # its heartbeat is stale and no key is held
    assert jobs["quick_job"]["last_run"]["status"] == "RUNNING"
    assert jobs["failing_job"]["running"] is True and jobs["failing_job"]["running_run"] is None
    assert jobs["failing_job"]["lock"]["key"] == "failing_job"
    assert jobs["failing_job"]["lock"]["backend"] == "redis"


def test_last_run_is_the_newest(status_db):
    for status in ("FAILED", "SUCCEEDED"):
        JobRun.objects.create(job_id="quick_job", lock_key="quick_job", trigger="api", status=status,
                              started_at=timezone.now(), finished_at=timezone.now(), duration_ms=5)
    last = _jobs(scheduler_status())["quick_job"]["last_run"]
    assert last["status"] == "SUCCEEDED" and last["duration_ms"] == 5
    assert parse_datetime(last["started_at"]).utcoffset() is not None


def test_scheduler_instances_alive_and_heartbeat_age(db, settings):
    settings.SCHEDULER_STALE_SECONDS = 15
    assert scheduler_instances_alive() == [] and scheduler_heartbeat_age() is None
    fresh = _instance(age_seconds=1, pid=1)
    _instance(age_seconds=60, pid=2)
    _instance(age_seconds=0, stopped=True, pid=3)
    assert scheduler_instances_alive() == [fresh]
    assert 1 <= scheduler_heartbeat_age() < 15


def test_job_runs_recent_per_job_keeps_the_last_n_oldest_first(db):
    ids = [JobRun.objects.create(job_id="quick_job", lock_key="quick_job", trigger="api", status="SUCCEEDED").pk
           for _ in range(5)]
    other = JobRun.objects.create(job_id="hold_job", lock_key="hold_job", trigger="api", status="FAILED").pk
    recent = job_runs_recent_per_job(limit=3)
    assert [run["id"] for run in recent["quick_job"]] == ids[-3:]
    assert [run["id"] for run in recent["hold_job"]] == [other]
    assert recent["quick_job"][0]["created_at"].utcoffset() is not None
    assert "failing_job" not in recent


def test_scheduler_dashboard_has_the_status_and_stale_locks(lock_redis, stale_and_live_locks):
    dashboard = scheduler_dashboard()
    assert set(dashboard) == {"status", "instances", "fresh_seconds", "locks", "stale_locks", "definition_ids",
                              "timeline"}
    assert [lock["key"] for lock in dashboard["stale_locks"]] == ["quick_job"]
    assert {lock["key"] for lock in dashboard["locks"]} == {"quick_job", "hold_job"}
