"""GET /api/v1/logs/ (filters, pagination, auth) and DELETE /api/v1/logs/clear."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from logs_app.models import LogEntry
from scheduler_app import locks
from scheduler_app.models import JobRun

pytestmark = pytest.mark.django_db


def entry(message: str, *, level: str = "INFO", levelno: int = 20, job_id: str = "", run_id=None,
          age: timedelta = timedelta(0), logger: str = "scheduler_app") -> LogEntry:
    return LogEntry.objects.create(timestamp=timezone.now() - age, level=level, levelno=levelno, logger=logger,
                                   message=message, job_id=job_id, run_id=run_id)


@pytest.fixture
def entries(db_handler):
    return [
        entry("Acquiring lock for job: scrape_jobs_task", job_id="scrape_jobs_task", run_id=5),
        entry("Failed to acquire lock for job: scrape_jobs_task (already running)", level="WARNING", levelno=30,
              job_id="scrape_jobs_task", run_id=6),
        entry("Job execution blocked by existing lock", level="ERROR", levelno=40, job_id="scrape_jobs_task",
              run_id=6),
        entry("Deleted 3 log entries", job_id="cleanup_old_logs_task", run_id=7, logger="logs_app",
              age=timedelta(days=2)),
    ]


def messages(response) -> list[str]:
    return [row["message"] for row in response.json()["results"]]


@pytest.mark.parametrize("method,url", [("get", "/api/v1/logs/"), ("delete", "/api/v1/logs/clear")])
def test_auth_401_without_token_403_for_non_staff(method, url, member_api):
    assert getattr(APIClient(), method)(url).status_code == 401
    assert getattr(member_api, method)(url).status_code == 403


def test_list_is_newest_first_and_paginated(admin_api, entries):
    response = admin_api.get("/api/v1/logs/", {"page_size": 2})
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 4 and body["next"] and len(body["results"]) == 2
    assert body["results"][0]["message"] == "Job execution blocked by existing lock"
    assert set(body["results"][0]) == {"id", "timestamp", "level", "logger", "message", "job_id", "run_id",
                                       "team_id", "extra"}


@pytest.mark.parametrize("params,expected", [
    ({"level": "warning"}, ["Failed to acquire lock for job: scrape_jobs_task (already running)"]),
    ({"min_level": "WARNING"}, ["Job execution blocked by existing lock",
                                "Failed to acquire lock for job: scrape_jobs_task (already running)"]),
    ({"job_id": "cleanup_old_logs_task"}, ["Deleted 3 log entries"]),
    ({"run_id": 6}, ["Job execution blocked by existing lock",
                     "Failed to acquire lock for job: scrape_jobs_task (already running)"]),
    ({"search": "ACQUIRING"}, ["Acquiring lock for job: scrape_jobs_task"]),
    ({"job_id": "scrape_jobs_task", "level": "ERROR", "search": "blocked"},
     ["Job execution blocked by existing lock"]),
])
def test_filters(admin_api, entries, params, expected):
    response = admin_api.get("/api/v1/logs/", params)
    assert response.status_code == 200, response.content
    assert messages(response) == expected


def test_team_filter_and_unknown_team_is_400(admin_api, entries):
    from scraping_app.models import Team

    team = Team.objects.create(name="Ops")
    LogEntry.objects.filter(message__startswith="Deleted").update(team_id=team.pk)
    response = admin_api.get("/api/v1/logs/", {"team_id": team.pk})
    assert response.status_code == 200 and messages(response) == ["Deleted 3 log entries"]
    assert admin_api.get("/api/v1/logs/", {"team_id": team.pk + 1000}).status_code == 400
    assert admin_api.get("/api/v1/logs/", {"team_id": "x"}).status_code == 400


def test_since_after_until_matches_nothing(admin_api, entries):
    """Two valid datetimes: an empty window, not an error (the OpenAPI document cannot say 'since <= until')."""
    response = admin_api.get("/api/v1/logs/", {"since": "2026-02-02T00:00:00Z", "until": "2026-02-01T00:00:00Z"})
    assert response.status_code == 200 and response.json()["count"] == 0


def test_since_filter(admin_api, entries):
    since = (timezone.now() - timedelta(days=1)).isoformat()
    response = admin_api.get("/api/v1/logs/", {"since": since})
    assert response.status_code == 200
    assert "Deleted 3 log entries" not in messages(response) and len(messages(response)) == 3


@pytest.mark.parametrize("params", [
    {"level": "LOUD"}, {"min_level": "7"}, {"run_id": "abc"}, {"run_id": "0"}, {"since": "yesterday"},
    {"job_id": "Not A Job!"}, {"search": "x" * 201}, {"run_id": str(2**63)}, {"bogus": "1"},
])
def test_bad_filter_values_are_400(admin_api, params):
    response = admin_api.get("/api/v1/logs/", params)
    assert response.status_code == 400
    assert set(response.json()) & (set(params) | {"until", "non_field_errors"})


# -- logs/clear ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["-1", "abc", "1.5", "99999999"])
def test_clear_rejects_bad_days(admin_api, fake_redis, value):
    response = admin_api.delete(f"/api/v1/logs/clear?older_than_days={value}")
    assert response.status_code == 400
    assert "older_than_days" in response.json()
    assert not JobRun.objects.filter(job_id="cleanup_old_logs_task").exists()


def test_clear_uses_retention_by_default(admin_api, fake_redis, settings):
    settings.LOG_RETENTION_DAYS = 30
    entry("old", age=timedelta(days=31))
    entry("older", age=timedelta(days=400))
    entry("recent", age=timedelta(days=29))
    response = admin_api.delete("/api/v1/logs/clear")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["deleted"] == 2 and body["status"] == "SUCCEEDED" and body["older_than_days"] == 30
    run = JobRun.objects.get(pk=body["run_id"])
    assert (run.job_id, run.trigger, run.lock_backend) == ("cleanup_old_logs_task", "api", "redis")
    assert list(LogEntry.objects.filter(message__in=["old", "older", "recent"]).values_list(
        "message", flat=True)) == ["recent"]


def test_clear_zero_days_clears_everything(admin_api, fake_redis, entries):
    response = admin_api.delete("/api/v1/logs/clear?older_than_days=0")
    assert response.status_code == 200
    # The four entries and the run's own lines logged before its cutoff ("Acquiring lock ...") all went.
    assert response.json()["deleted"] >= 4
    assert not LogEntry.objects.filter(pk__in=[e.pk for e in entries]).exists()
    assert not LogEntry.objects.filter(message__startswith="Acquiring lock").exists()


def test_clear_is_409_while_the_cleanup_lock_is_held(admin_api, fake_redis, entries):
    with locks.execution_lock("cleanup_old_logs_task", ttl_seconds=60):
        response = admin_api.delete("/api/v1/logs/clear?older_than_days=0")
    assert response.status_code == 409
    assert response.json()["detail"] == "Job is already running"
    assert LogEntry.objects.count() == 4


def test_clear_runs_while_another_job_holds_its_own_lock(admin_api, fake_redis, entries):
    """Seed guide Test 5: a scrape holds job_lock:scrape_jobs_task; the clean-up uses its own lock and runs."""
    with locks.execution_lock("scrape_jobs_task", ttl_seconds=60):
        response = admin_api.delete("/api/v1/logs/clear?older_than_days=0")
        assert fake_redis.exists("job_lock:scrape_jobs_task")
    assert response.status_code == 200 and response.json()["status"] == "SUCCEEDED"
    assert not LogEntry.objects.filter(pk__in=[e.pk for e in entries]).exists()


def test_clear_is_503_when_the_lock_service_is_down_and_fallback_is_fail(admin_api, dead_redis, settings, entries):
    settings.LOCK_FALLBACK = "fail"
    response = admin_api.delete("/api/v1/logs/clear")
    assert response.status_code == 503
    assert response.json()["detail"] == "Lock service unavailable"
    assert LogEntry.objects.count() == 4


def test_clear_with_redis_down_falls_back_to_the_database_lease(admin_api, dead_redis, fast_lease, entries):
    response = admin_api.delete("/api/v1/logs/clear?older_than_days=0")
    assert response.status_code == 200
    assert JobRun.objects.get(pk=response.json()["run_id"]).lock_backend == "database"
