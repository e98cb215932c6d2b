"""The scheduler API: every endpoint, every status code, the auth matrix and bad input (400, never 500)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import redis
from django.utils import timezone
from rest_framework.test import APIClient

from scheduler_app import locks
from scheduler_app.models import JobDefinition, JobRun, SchedulerInstance
from tests.conftest import bearer, wait_finished

ADMIN_ENDPOINTS = [
    ("get", "/api/v1/scheduler/status"),
    ("post", "/api/v1/scheduler/restart"),
    ("post", "/api/v1/scheduler/job"),
    ("get", "/api/v1/scheduler/locks"),
    ("delete", "/api/v1/scheduler/locks/quick_job"),
    ("post", "/api/v1/scheduler/locks/cleanup"),
]
READ_ENDPOINTS = [("get", "/api/v1/scheduler/runs")]


@pytest.mark.django_db
@pytest.mark.parametrize("method,url", ADMIN_ENDPOINTS + READ_ENDPOINTS)
def test_no_token_is_401(method, url):
    response = getattr(APIClient(), method)(url)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.django_db
@pytest.mark.parametrize("method,url", ADMIN_ENDPOINTS)
def test_non_staff_is_403_on_admin_endpoints(member_api, method, url):
    assert getattr(member_api, method)(url, {"job_id": "quick_job"}, format="json").status_code == 403


@pytest.mark.django_db
def test_bad_token_is_401():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    assert client.get("/api/v1/scheduler/status").status_code == 401


# --- status ------------------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_status_shape_without_scheduler(staff_api, fake_redis):
    body = staff_api.get("/api/v1/scheduler/status").json()
    assert body["running"] is False
    jobs = {job["id"]: job for job in body["jobs"]}
    scrape = jobs["scrape_jobs_task"]
    assert scrape["name"] == "Job Scraping"
    assert scrape["trigger"] == "cron"
    assert scrape["running"] is False and scrape["lock"] is None and scrape["last_run"] is None
    # computed from the trigger: the next half hour, ISO 8601 with an offset
    next_run = datetime.fromisoformat(scrape["next_run"])
    assert next_run.utcoffset() is not None
    assert next_run.minute in (0, 30) and next_run > timezone.now()
    assert next_run - timezone.now() <= timedelta(minutes=30)
    assert jobs["check_follow_ups_task"]["next_run"].endswith("T09:00:00+00:00")
    assert jobs["quick_job"]["next_run"] is None  # no schedule: on demand only


@pytest.mark.django_db
def test_status_running_from_heartbeat_and_job_store(staff_api, fake_redis):
    from django_apscheduler.models import DjangoJob

    now = timezone.now()
    SchedulerInstance.objects.create(host="h", pid=1, started_at=now, heartbeat_at=now)
    stored = now + timedelta(minutes=7)
    DjangoJob.objects.create(id="scrape_jobs_task", next_run_time=stored, job_state=b"")
    body = staff_api.get("/api/v1/scheduler/status").json()
    assert body["running"] is True and body["schedulers"][0]["host"] == "h"
    scrape = next(job for job in body["jobs"] if job["id"] == "scrape_jobs_task")
    assert datetime.fromisoformat(scrape["next_run"]) == stored


@pytest.mark.django_db
def test_status_stale_heartbeat_is_not_running(staff_api, fake_redis, settings):
    old = timezone.now() - timedelta(seconds=settings.SCHEDULER_STALE_SECONDS + 1)
    SchedulerInstance.objects.create(host="h", pid=1, started_at=old, heartbeat_at=old)
    assert staff_api.get("/api/v1/scheduler/status").json()["running"] is False


@pytest.mark.django_db
def test_status_running_from_lock_and_from_fresh_run(staff_api, fake_redis):
    lease = locks.acquire("quick_job", ttl_seconds=60)
    try:
        now = timezone.now()
        JobRun.objects.create(job_id="hold_job", lock_key="hold_job", trigger="api", status="RUNNING",
                              started_at=now, heartbeat_at=now)
        jobs = {job["id"]: job for job in staff_api.get("/api/v1/scheduler/status").json()["jobs"]}
    finally:
        lease.release()
    assert jobs["quick_job"]["running"] is True
    assert jobs["quick_job"]["lock"]["holder"]["pid"] == lease.holder.pid
    assert 0 < jobs["quick_job"]["lock"]["ttl_seconds"] <= 60
    assert jobs["quick_job"]["running_run"] is None
    assert jobs["hold_job"]["running"] is True and jobs["hold_job"]["lock"] is None
    assert jobs["hold_job"]["running_run"]["status"] == "RUNNING"
    assert jobs["hold_job"]["last_run"]["status"] == "RUNNING"


@pytest.mark.django_db
def test_status_last_run_is_newest_and_one_entry_per_job_with_several_live_runs(staff_api, fake_redis, settings):
    now = timezone.now()
    stale = now - timedelta(seconds=2 * settings.LOCK_LEASE_SECONDS + 5)
    older = JobRun.objects.create(job_id="team_job", lock_key="team_job:team:1", trigger="api", status="RUNNING",
                                  started_at=now, heartbeat_at=now)
    newer = JobRun.objects.create(job_id="team_job", lock_key="team_job:team:2", trigger="api", status="RUNNING",
                                  started_at=now, heartbeat_at=now)
    JobRun.objects.create(job_id="quick_job", lock_key="quick_job", trigger="api", status="SUCCEEDED",
                          started_at=now - timedelta(minutes=5), finished_at=now - timedelta(minutes=4))
    last = JobRun.objects.create(job_id="quick_job", lock_key="quick_job", trigger="scheduled", status="FAILED",
                                 scheduled_for=now, started_at=now, finished_at=now, duration_ms=12)
    dead = JobRun.objects.create(job_id="blocking_job", lock_key="blocking_job", trigger="api", status="RUNNING",
                                 started_at=stale, heartbeat_at=stale)

    body = staff_api.get("/api/v1/scheduler/status").json()
    assert len(body["jobs"]) == len({job["id"] for job in body["jobs"]}) == JobDefinition.objects.count()
    jobs = {job["id"]: job for job in body["jobs"]}
    assert jobs["team_job"]["running_run"]["id"] == newer.pk != older.pk
    assert jobs["team_job"]["last_run"]["id"] == newer.pk
    quick = jobs["quick_job"]["last_run"]
    assert quick["id"] == last.pk and quick["status"] == "FAILED" and quick["duration_ms"] == 12
    assert datetime.fromisoformat(quick["scheduled_for"]) == now
    assert datetime.fromisoformat(quick["finished_at"]).utcoffset() is not None
    # a RUNNING row whose heartbeat is stale is the last run, but not a live one
    assert jobs["blocking_job"]["running"] is False and jobs["blocking_job"]["running_run"] is None
    assert jobs["blocking_job"]["last_run"]["id"] == dead.pk


@pytest.mark.django_db
def test_status_queries_constant_however_many_jobs(staff_api, fake_redis, django_assert_max_num_queries):
    staff_api.get("/api/v1/scheduler/status")  # warm the token/session path

    def add_definitions(n: int, start: int) -> None:
        JobDefinition.objects.bulk_create([
            JobDefinition(job_id=f"extra_{i}", name=f"Extra {i}", cron="*/5 * * * *", timeout_minutes=1)
            for i in range(start, start + n)])
        for i in range(start, start + n):
            JobRun.objects.create(job_id=f"extra_{i}", lock_key=f"extra_{i}", trigger="api", status="SUCCEEDED")

    add_definitions(3, 0)
    # at most 5 queries: 3 for the status + 1 for the token, whatever the number of jobs and runs
    with django_assert_max_num_queries(5) as few:
        assert staff_api.get("/api/v1/scheduler/status").status_code == 200
    add_definitions(60, 100)
    with django_assert_max_num_queries(5) as many:
        body = staff_api.get("/api/v1/scheduler/status").json()
    assert len(many.captured_queries) == len(few.captured_queries)
    assert sum(1 for job in body["jobs"] if job["last_run"]) >= 63


# --- restart -----------------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_restart_is_202_bumps_version_and_publishes(staff_api, real_redis, settings):
    from scheduler_app import selectors
    from scheduler_app.scheduler import control

    before = selectors.job_definitions_version()
    subscriber = redis.Redis.from_url(settings.REDIS_URL).pubsub(ignore_subscribe_messages=True)
    subscriber.subscribe(control.CHANNEL)
    subscriber.get_message(timeout=1)
    response = staff_api.post("/api/v1/scheduler/restart")
    assert response.status_code == 202
    assert response.json()["redis_receivers"] >= 1
    message = subscriber.get_message(timeout=2)
    assert message and message["data"] == b"reload"
    assert selectors.job_definitions_version() != before
    subscriber.close()


@pytest.mark.django_db
def test_restart_with_redis_down_still_202(staff_api, dead_redis, settings):
    # Django's setting_changed handler rebuilds the cache connections for the new CACHES.
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": "redis://127.0.0.1:1/0"}}
    response = staff_api.post("/api/v1/scheduler/restart")
    assert response.status_code == 202
    assert response.json()["redis_receivers"] is None  # the database version carries the request


# --- POST scheduler/job ------------------------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_job_202_with_run_url_then_succeeds(staff_api, users, lock_redis):
    response = staff_api.post("/api/v1/scheduler/job", {"job_id": "scrape_jobs_task", "team_id": 1}, format="json")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "RUNNING" and body["url"].endswith(f"/api/v1/scheduler/runs/{body['run_id']}")
    assert response["Location"] == body["url"]
    run = wait_finished(body["run_id"])
    assert run.status == "SUCCEEDED" and run.trigger == "api" and run.team_id == 1
    assert run.user == users["staff"]
    detail = staff_api.get(body["url"]).json()
    assert detail["status"] == "SUCCEEDED" and detail["user"] == "boss"


@pytest.mark.django_db(transaction=True)
def test_job_409_while_lock_held_and_refusal_recorded(staff_api, users, lock_redis):
    lease = locks.acquire("quick_job", ttl_seconds=60)
    try:
        response = staff_api.post("/api/v1/scheduler/job", {"job_id": "quick_job"}, format="json")
    finally:
        lease.release()
    assert response.status_code == 409
    body = response.json()
    assert body["detail"] == "Job is already running" and body["job_id"] == "quick_job"
    assert body["holder"]["token"] == lease.holder.token and 0 < body["ttl_seconds"] <= 60
    run = JobRun.objects.get(pk=body["run_id"])
    assert run.status == "SKIPPED" and run.skip_reason == "lock_held"


@pytest.mark.django_db(transaction=True)
def test_job_503_when_lock_service_unavailable(staff_api, users, dead_redis, settings):
    settings.LOCK_FALLBACK = "fail"
    response = staff_api.post("/api/v1/scheduler/job", {"job_id": "quick_job"}, format="json")
    assert response.status_code == 503
    assert JobRun.objects.get(pk=response.json()["run_id"]).skip_reason == "lock_unavailable"


@pytest.mark.django_db
def test_job_404_unknown_job(staff_api, fake_redis):
    response = staff_api.post("/api/v1/scheduler/job", {"job_id": "no_such_job"}, format="json")
    assert response.status_code == 404
    assert "no_such_job" in response.json()["detail"]
    assert not JobRun.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("body,field", [
    ({}, "job_id"),
    ({"job_id": "quick_job", "extra": 1}, "extra"),
    ({"job_id": 5}, "job_id"),
    ({"job_id": ["quick_job"]}, "job_id"),
    ({"job_id": "Bad-Id"}, "job_id"),
    ({"job_id": "a" * 65}, "job_id"),
    ({"job_id": ""}, "job_id"),
    ({"job_id": " quick_job "}, "job_id"),
    ({"job_id": "quick_job\n"}, "job_id"),
    ({"job_id": "quick_job", "team_id": "abc"}, "team_id"),
    ({"job_id": "quick_job", "team_id": "1"}, "team_id"),  # a string is not a number in JSON
    ({"job_id": "quick_job", "team_id": True}, "team_id"),
    ({"job_id": "quick_job", "team_id": 1.5}, "team_id"),
    ({"job_id": "quick_job", "team_id": 0}, "team_id"),
    ({"job_id": "quick_job", "team_id": 999}, "team_id"),
    ({"job_id": "quick_job", "team_id": 10**30}, "team_id"),
    ({"job_id": "quick_job", "wait_seconds": -1}, "wait_seconds"),
    ({"job_id": "quick_job", "wait_seconds": 601}, "wait_seconds"),
    ({"job_id": "quick_job", "wait_seconds": "soon"}, "wait_seconds"),
    ({"job_id": "quick_job", "wait_seconds": "5"}, "wait_seconds"),
    ({"job_id": "quick_job", "params": [1]}, "params"),
    ({"job_id": "quick_job", "params": {"nope": 1}}, "params"),
    ({"job_id": "scrape_jobs_task", "params": {"limit": 0}}, "params"),
    ({"job_id": "scrape_jobs_task", "params": {"limit": "many"}}, "params"),
])
def test_job_400_field_errors(staff_api, users, fake_redis, body, field):
    response = staff_api.post("/api/v1/scheduler/job", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not JobRun.objects.filter(status="RUNNING").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("raw", ['{"job_id": ', "[1, 2]", '"quick_job"', "null"])
def test_job_400_malformed_json(staff_api, fake_redis, raw):
    response = staff_api.post("/api/v1/scheduler/job", raw, content_type="application/json")
    assert response.status_code == 400


# --- runs --------------------------------------------------------------------------------------------------------

@pytest.fixture
def some_runs(users, team):
    make = JobRun.objects.create
    return {
        "staff_api": make(job_id="quick_job", lock_key="quick_job", trigger="api", status="SUCCEEDED",
                          user=users["staff"]),
        "member_own": make(job_id="quick_job", lock_key="quick_job", trigger="api", status="FAILED",
                           user=users["member"]),
        "team": make(job_id="team_job", lock_key="team_job:team:1", trigger="scheduled", status="SKIPPED",
                     team=team),
        "scheduled": make(job_id="scrape_jobs_task", lock_key="scrape_jobs_task", trigger="scheduled",
                          status="MISSED"),
    }


@pytest.mark.django_db
def test_runs_list_filters_and_pagination(staff_api, some_runs):
    body = staff_api.get("/api/v1/scheduler/runs").json()
    assert body["count"] == 4 and [r["id"] for r in body["results"]] == sorted(
        [r.pk for r in some_runs.values()], reverse=True)
    assert staff_api.get("/api/v1/scheduler/runs?job_id=quick_job").json()["count"] == 2
    assert staff_api.get("/api/v1/scheduler/runs?status=MISSED").json()["count"] == 1
    assert staff_api.get("/api/v1/scheduler/runs?trigger=scheduled").json()["count"] == 2
    assert staff_api.get("/api/v1/scheduler/runs?team_id=1").json()["count"] == 1
    assert staff_api.get("/api/v1/scheduler/runs?job_id=quick_job&status=FAILED").json()["count"] == 1
    page1 = staff_api.get("/api/v1/scheduler/runs?page_size=3").json()
    page2 = staff_api.get(page1["next"]).json()
    assert len(page1["results"]) == 3 and len(page2["results"]) == 1 and page2["next"] is None


@pytest.mark.django_db
@pytest.mark.parametrize("query,field", [
    ("status=BOGUS", "status"), ("trigger=cron", "trigger"), ("team_id=abc", "team_id"),
    ("team_id=999", "team_id"), ("team_id=-1", "team_id"), ("job_id=Bad-Id", "job_id"), ("color=red", "color"),
    ("page_size=abc", "page_size"), ("page=abc", "page"), ("page=0", "page"), ("job_id=quick_job%0A", "job_id"),
])
def test_runs_list_400_bad_filters(staff_api, some_runs, query, field):
    response = staff_api.get(f"/api/v1/scheduler/runs?{query}")
    assert response.status_code == 400 and field in response.json()


@pytest.mark.django_db
def test_runs_list_page_past_the_end_is_404(staff_api, some_runs):
    assert staff_api.get("/api/v1/scheduler/runs?page=2").status_code == 404  # well-formed: no such page


@pytest.mark.django_db
def test_job_definition_detail_400_malformed_404_unknown(staff_api):
    assert staff_api.get("/api/v1/scheduler/jobs/Bad-Id").status_code == 400
    assert staff_api.get("/api/v1/scheduler/jobs/no_such_job").status_code == 404
    assert staff_api.get("/api/v1/scheduler/jobs/quick_job").status_code == 200


@pytest.mark.django_db
def test_runs_visibility_non_staff(users, some_runs):
    member = bearer(users["member"])
    ids = {r["id"] for r in member.get("/api/v1/scheduler/runs").json()["results"]}
    assert ids == {some_runs["member_own"].pk, some_runs["team"].pk}
    assert member.get(f"/api/v1/scheduler/runs/{some_runs['team'].pk}").status_code == 200
    assert member.get(f"/api/v1/scheduler/runs/{some_runs['scheduled'].pk}").status_code == 404
    outsider = bearer(users["outsider"])
    assert outsider.get("/api/v1/scheduler/runs").json()["count"] == 0
    assert outsider.get(f"/api/v1/scheduler/runs/{some_runs['member_own'].pk}").status_code == 404


@pytest.mark.django_db
def test_run_detail_404_unknown(staff_api, some_runs):
    assert staff_api.get("/api/v1/scheduler/runs/999999").status_code == 404
    assert staff_api.get("/api/v1/scheduler/runs/abc").status_code == 404


@pytest.mark.django_db
def test_runs_anonymous_401(some_runs):
    assert APIClient().get(f"/api/v1/scheduler/runs/{some_runs['team'].pk}").status_code == 401


# --- locks -------------------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_locks_list_and_force_delete(staff_api, lock_redis):
    lease = locks.acquire("quick_job", ttl_seconds=60)
    try:
        listed = staff_api.get("/api/v1/scheduler/locks").json()["locks"]
        assert [lock["key"] for lock in listed] == ["quick_job"]
        assert listed[0]["redis_key"] == "job_lock:quick_job" and listed[0]["stale"] is False
        response = staff_api.delete("/api/v1/scheduler/locks/quick_job")
        assert response.status_code == 200 and response.json() == {
            "key": "quick_job", "released": True, "holder_run_id": None, "holder_live": False,
            "message": "job_lock:quick_job cleared."}
        assert locks.inspect("quick_job") is None
        again = staff_api.delete("/api/v1/scheduler/locks/quick_job")
        assert again.status_code == 200 and again.json()["released"] is False
    finally:
        lease.release()


@pytest.mark.django_db
def test_locks_delete_team_key(staff_api, team, fake_redis):
    lease = locks.acquire("team_job:team:1", ttl_seconds=60)
    try:
        response = staff_api.delete("/api/v1/scheduler/locks/team_job?team_id=1")
        assert response.json()["key"] == "team_job:team:1" and response.json()["released"] is True
    finally:
        lease.release()


@pytest.mark.django_db
@pytest.mark.parametrize("url,code", [
    ("/api/v1/scheduler/locks/no_such_job", 404),
    ("/api/v1/scheduler/locks/Bad-Id", 400),
    ("/api/v1/scheduler/locks/" + "a" * 65, 400),
    ("/api/v1/scheduler/locks/quick_job?team_id=999", 400),
    ("/api/v1/scheduler/locks/quick_job?team_id=x", 400),
    ("/api/v1/scheduler/locks/quick_job?other=1", 400),
])
def test_locks_delete_bad_input(staff_api, fake_redis, url, code):
    assert staff_api.delete(url).status_code == code


@pytest.mark.django_db
def test_locks_cleanup_clears_stale_only(staff_api, lock_redis, stale_and_live_locks):
    response = staff_api.post("/api/v1/scheduler/locks/cleanup")
    assert response.status_code == 200
    assert [c["key"] for c in response.json()["cleared"]] == ["quick_job"]
    assert locks.inspect("quick_job") is None and locks.inspect("hold_job") is not None


@pytest.mark.django_db
def test_schema_lists_scheduler_endpoints(staff_api):
    schema = staff_api.get("/api/schema/?format=json").json()
    for path in ("/api/v1/scheduler/status", "/api/v1/scheduler/job", "/api/v1/scheduler/runs/{id}"):
        assert path in schema["paths"]


@pytest.mark.django_db
def test_swagger_ui_works_offline(staff_api):
    """/api/docs/ loads Swagger UI from this server (drf-spectacular-sidecar through WhiteNoise), never a CDN."""
    import re

    html = staff_api.get("/api/docs/").content.decode()
    assert "cdn.jsdelivr" not in html and "unpkg.com" not in html
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert any(asset.endswith("swagger-ui-bundle.js") for asset in assets)
    for asset in assets:
        response = staff_api.get(asset)
        assert response.status_code == 200, asset
        assert b"".join(response.streaming_content if response.streaming else [response.content])
