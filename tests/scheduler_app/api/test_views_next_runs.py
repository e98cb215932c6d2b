"""GET /api/v1/scheduler/jobs/<job_id>/next-runs?from=&count=: the preview of a job's next fire times."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from scheduler_app import services
from scheduler_app.models import JobDefinition

pytestmark = pytest.mark.django_db
URL = "/api/v1/scheduler/jobs/{}/next-runs"


@pytest.fixture(autouse=True)
def _definitions(db, settings):
    settings.TIME_ZONE = "UTC"
    services.job_definitions_sync()
    JobDefinition.objects.filter(job_id="check_follow_ups_task").update(cron="30 2 * * *", time_zone="Europe/Berlin")


def test_from_and_count_around_the_fall_back(staff_api):
    response = staff_api.get(URL.format("check_follow_ups_task"), {"from": "2026-10-24T12:00", "count": "2"})
    assert response.status_code == 200
    body = response.json()
    assert body["from"] == "2026-10-24T12:00:00+02:00"  # naive: the job's zone
    assert body["time_zone"] == "Europe/Berlin" and body["count"] == 2 and body["reason"] is None
    assert body["runs"] == [
        {"at": "2026-10-25T02:30:00+02:00", "utc": "2026-10-25T00:30:00+00:00", "local": "2026-10-25 02:30:00",
         "utc_offset": "+02:00", "abbreviation": "CEST",
         "note": "first of two 02:30 (DST ends); the second is skipped"},
        {"at": "2026-10-26T02:30:00+01:00", "utc": "2026-10-26T01:30:00+00:00", "local": "2026-10-26 02:30:00",
         "utc_offset": "+01:00", "abbreviation": "CET",
         "note": "UTC offset +02:00 -> +01:00 since the previous fire (DST ends)"}]


def test_a_from_with_an_offset_is_that_instant(staff_api):
    body = staff_api.get(URL.format("check_follow_ups_task"), {"from": "2026-03-29T00:59:00Z", "count": 1}).json()
    assert body["from"] == "2026-03-29T01:59:00+01:00"
    assert body["runs"][0]["at"] == "2026-03-29T03:00:00+02:00"
    assert body["runs"][0]["note"] == "02:30 does not exist (DST starts); runs at 03:00"


def test_defaults_are_now_and_ten(staff_api):
    before = timezone.now()
    body = staff_api.get(URL.format("check_follow_ups_task")).json()
    assert len(body["runs"]) == 10 and body["count"] == 10
    start = datetime.fromisoformat(body["from"])
    assert before <= start <= timezone.now()
    first = datetime.fromisoformat(body["runs"][0]["at"])
    assert start <= first <= start + timedelta(days=1)


def test_an_on_demand_job_has_no_runs_and_a_reason(staff_api):
    JobDefinition.objects.filter(job_id="quick_job").update(cron="", trigger_type="cron")
    body = staff_api.get(URL.format("quick_job"), {"count": 3}).json()
    assert body["runs"] == [] and body["reason"].startswith("The job has no schedule: it runs on demand only")


@pytest.mark.parametrize("query, field", [
    ({"count": "0"}, "count"), ({"count": "101"}, "count"), ({"count": "ten"}, "count"), ({"count": "1.5"}, "count"),
    ({"from": "tomorrow"}, "from"), ({"from": ""}, "from"), ({"from": "2026-02-30T00:00"}, "from"),
    ({"until": "2027-01-01"}, "until"),
])
def test_bad_query_values_are_400_with_the_field(staff_api, query, field):
    response = staff_api.get(URL.format("check_follow_ups_task"), query)
    assert response.status_code == 400 and field in response.json()


def test_unknown_or_malformed_job_and_auth(staff_api, member_api, client):
    assert staff_api.get(URL.format("no_such_job")).status_code == 404
    assert staff_api.get(URL.format("bad%20id")).status_code == 400
    assert member_api.get(URL.format("check_follow_ups_task")).status_code == 403  # staff, as the definition
    assert client.get(URL.format("check_follow_ups_task")).status_code == 401


def test_the_route_answers_with_and_without_its_trailing_slash(staff_api):
    assert staff_api.get(URL.format("check_follow_ups_task") + "/", {"count": 1}).status_code == 200


def test_the_schema_documents_it(staff_api):
    schema = staff_api.get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/scheduler/jobs/{job_id}/next-runs"]["get"]
    parameters = {p["name"]: p for p in operation["parameters"]}
    assert {"job_id", "from", "count"} <= set(parameters)
    assert parameters["count"]["schema"]["minimum"] == 1 and parameters["count"]["schema"]["maximum"] == 100
    assert {"200", "404"} <= set(operation["responses"])
