"""The inputs that gave 500s (fuzzed and by hand) now get a 4xx that says what to change, wherever they come
from; rows stored before the checks render safely."""

from __future__ import annotations

import pytest
from django.db import connection

from scheduler_app.models import INTERVAL_SECONDS_MAX, JobDefinition, JobRun
from scheduler_app.scheduler import triggers

pytestmark = pytest.mark.django_db

DATE_MESSAGE = "Use an ISO 8601 date or datetime, e.g. 2026-11-01 or 2026-11-01T09:30:00Z."


@pytest.mark.parametrize("value", ["2026-02-30", "2026-13-45", "2026-01-01T25:00:00", "0000-00-00",
                                   "2026-01-01T00:00:00+99:00", "yesterday", "2026-01-01T00:00:00\x00"])
@pytest.mark.parametrize("url,name", [("/api/v1/jobs/", "posted_after"), ("/api/v1/logs/", "since"),
                                      ("/api/v1/logs/", "until")])
def test_impossible_dates_are_a_400_that_says_what_to_send(staff_api, url, name, value):
    response = staff_api.get(url, {name: value})
    assert response.status_code == 400 and response.json() == {name: [DATE_MESSAGE]}


@pytest.mark.parametrize("value", ["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+12:00"])
def test_valid_dates_beyond_pythons_utc_range_are_clamped_not_500(staff_api, value):
    """Valid RFC 3339 (the OpenAPI document says date-time), so accepted: 'after the end' matches nothing."""
    assert staff_api.get("/api/v1/jobs/", {"posted_after": value}).status_code == 200
    assert staff_api.get("/api/v1/logs/", {"since": value}).status_code == 200


def test_a_source_written_in_other_digits_is_a_name_not_an_id(member_api):
    response = member_api.get("/api/v1/jobs/", {"source": "²"})
    assert response.status_code == 200 and response.json()["count"] == 0


def test_an_interval_too_long_for_a_schedule_is_a_400(staff_api):
    response = staff_api.patch("/api/v1/scheduler/jobs/scrape_jobs_task",
                               {"trigger_type": "interval", "interval_seconds": 10**18})
    assert response.status_code == 400
    assert response.json() == {"interval_seconds": [f"Ensure this value is less than or equal to "
                                                    f"{INTERVAL_SECONDS_MAX}."]}


def test_a_stored_interval_too_long_breaks_neither_the_status_nor_the_scheduler(staff_api, admin_client):
    """A row stored before the range was checked: the status shows no next run, the admin lists it, and the
    trigger refuses to build (the scheduler logs that one job and schedules the rest)."""
    stored = JobDefinition.objects.filter(job_id="scrape_jobs_task")
    stored.update(trigger_type="interval", interval_seconds=2_000_000_000)
    definition = JobDefinition.objects.get(job_id="scrape_jobs_task")
    status = staff_api.get("/api/v1/scheduler/status")
    assert status.status_code == 200
    job = next(job for job in status.json()["jobs"] if job["id"] == "scrape_jobs_task")
    assert job["next_run"] is None
    assert admin_client.get("/admin/scheduler_app/jobdefinition/").status_code == 200
    with pytest.raises(ValueError, match="interval_seconds must be from 1 to"):
        triggers.trigger_build(definition)


@pytest.mark.parametrize("params,field", [({"older_than_days": -5}, "older_than_days"),
                                          ({"older_than_days": 10**30}, "older_than_days"),
                                          ({"older_than_days": True}, "older_than_days"),
                                          ({"keep": 1}, "keep")])
def test_cleanup_params_are_checked_by_the_jobs_validator_before_any_run(staff_api, params, field):
    response = staff_api.post("/api/v1/scheduler/job", {"job_id": "cleanup_old_logs_task", "params": params})
    assert response.status_code == 400 and field in response.json()["params"]
    assert not JobRun.objects.exists()


def test_logs_clear_takes_the_same_range(staff_api):
    response = staff_api.delete("/api/v1/logs/clear?older_than_days=36501")
    assert response.status_code == 400 and "older_than_days" in response.json()


@pytest.mark.parametrize("url,body", [("/api/v1/jobs/scrape", {"keyword": "python", "wiat": 30}),
                                      ("/api/v1/saved-searches/", {"team": 1, "keyword": "x", "bogus": 1}),
                                      ("/api/v1/scheduler/job", {"job_id": "quick_job", "wait": 3})])
def test_unknown_fields_are_a_400_everywhere(staff_api, team, url, body):
    response = staff_api.post(url, body)
    assert response.status_code == 400
    unknown = (set(body) - {"keyword", "team", "job_id"}).pop()
    assert response.json()[unknown] == ["Unknown field."]


def test_unknown_query_parameters_are_a_400_on_lists(member_api):
    assert member_api.get("/api/v1/jobs/", {"keywrod": "python"}).json() == {"keywrod": ["Unknown field."]}


@pytest.mark.parametrize("body,field", [({"team": 1, "keyword": "x", "active": 0}, "active"),
                                        ({"team": "1", "keyword": "x"}, "team"),
                                        ({"team": 1, "keyword": 5}, "keyword"),
                                        ({"team": 1, "keyword": "x", "limit": "5"}, "limit")])
def test_json_bodies_are_typed(member_api, team, body, field):
    response = member_api.post("/api/v1/saved-searches/", body)
    assert response.status_code == 400 and field in response.json()


def test_a_decimal_is_a_string_and_not_blank(member_api, team):
    base = {"team": 1, "name": "Rule"}
    assert member_api.post("/api/v1/automation-rules/", {**base, "min_salary": ""}).status_code == 400
    assert member_api.post("/api/v1/automation-rules/", {**base, "min_salary": "-"}).status_code == 400
    created = member_api.post("/api/v1/automation-rules/", {**base, "min_salary": "52000.50"})
    assert created.status_code == 201 and created.json()["min_salary"] == "52000.50"


def test_nul_in_a_query_filter_is_a_400_on_both_databases(member_api):
    response = member_api.get("/api/v1/jobs/", {"keyword": "py\x00"})
    assert response.status_code == 400 and "keyword" in response.json(), connection.vendor
