"""scheduler_status shows a paused schedule: paused, who, since when, why, "paused by X since T: reason", and no
next run (from the store or the trigger), at the same fixed number of queries."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from django_apscheduler.models import DjangoJob

from scheduler_app import services
from scheduler_app.models import JobDefinition, SchedulerInstance
from scheduler_app.selectors import pause_text, scheduler_status


@pytest.fixture
def status_db(db, fake_redis):
    services.job_definitions_sync()
    return db


def _jobs() -> dict:
    return {job["id"]: job for job in scheduler_status()["jobs"]}


def _pause(job_id: str, *, at: datetime, by: str = "ops", reason: str = "board down") -> None:
    JobDefinition.objects.filter(job_id=job_id).update(paused_at=at, paused_by=by, pause_reason=reason)


def test_a_paused_job_shows_who_since_when_why_and_no_next_run(status_db, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    at = datetime(2026, 12, 1, 22, 30, 15, 123456, tzinfo=ZoneInfo("UTC"))
    _pause("scrape_jobs_task", at=at)
    jobs = _jobs()
    paused, other = jobs["scrape_jobs_task"], jobs["check_follow_ups_task"]
    assert paused["paused"] is True and paused["next_run"] is None
    assert (paused["paused_by"], paused["pause_reason"]) == ("ops", "board down")
    assert paused["paused_at"] == "2026-12-01T23:30:15.123456+01:00"
    assert paused["pause_text"] == "paused by ops since 2026-12-01T23:30:15+01:00: board down"
    assert other["paused"] is False and other["next_run"] is not None
    assert (other["paused_by"], other["paused_at"], other["pause_reason"], other["pause_text"]) == (None,) * 4


def test_no_next_run_from_a_live_schedulers_store_either(status_db):
    now = timezone.now()
    SchedulerInstance.objects.create(host="h", pid=1, started_at=now, heartbeat_at=now)
    for job_id in ("scrape_jobs_task", "check_follow_ups_task"):
        DjangoJob.objects.create(id=job_id, next_run_time=now + timedelta(minutes=5), job_state=b"")
    _pause("scrape_jobs_task", at=now)
    jobs = _jobs()
    assert jobs["scrape_jobs_task"]["next_run"] is None
    assert jobs["check_follow_ups_task"]["next_run"] is not None  # the store's, for a running schedule


def test_pause_text():
    assert pause_text(paused_by="", paused_at=None, reason="") == ""
    at = datetime(2026, 6, 1, 12, 0, tzinfo=ZoneInfo("UTC"))
    assert pause_text(paused_by="", paused_at=at, reason="why") == "paused by an operator since " \
        "2026-06-01T12:00:00+00:00: why"


def test_the_pause_costs_no_query(status_db, django_assert_max_num_queries):
    with django_assert_max_num_queries(4) as running:
        scheduler_status()
    for job_id in JobDefinition.objects.values_list("job_id", flat=True):
        _pause(job_id, at=timezone.now())
    with django_assert_max_num_queries(4) as paused:
        jobs = scheduler_status()["jobs"]
    assert len(running.captured_queries) == len(paused.captured_queries)
    assert jobs and all(job["paused"] and job["next_run"] is None for job in jobs)
