"""GET/PATCH /api/v1/scheduler/jobs/<job_id>: the job's timeout, schedule and policy, editable like the admin."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from scheduler_app import services
from scheduler_app.models import JobDefinition, JobRun

pytestmark = pytest.mark.django_db
URL = "/api/v1/scheduler/jobs/{}"


@pytest.fixture(autouse=True)
def _definitions(db):
    services.job_definitions_sync()


@pytest.mark.django_db(transaction=True)  # the timeout watchdog writes from its own thread
def test_get_and_patch_the_timeout_then_runs_use_it(staff_api, fake_redis):
    assert staff_api.get(URL.format("scrape_jobs_task")).json()["timeout_minutes"] == 10
    response = staff_api.patch(URL.format("hold_job"), {"timeout_minutes": 0.01}, format="json")
    assert response.status_code == 200 and response.json()["timeout_minutes"] == 0.01
    run = services.job_run(job_id="hold_job", trigger="api", params={"seconds": 3})
    assert run.status == JobRun.Status.TIMED_OUT


@pytest.mark.parametrize("body, field", [
    ({"timeout_minutes": 0}, "timeout_minutes"),
    ({"timeout_minutes": "ten"}, "timeout_minutes"),
    ({"cron": "every day"}, "cron"),
    ({"trigger_type": "interval", "interval_seconds": None}, "interval_seconds"),
    ({"wait_seconds": 601}, "wait_seconds"),
    ({"lock_scope": "host"}, "lock_scope"),
    ({"enabled": "maybe"}, "enabled"),
    ({"bogus": 1}, "bogus"),
    ({"job_id": "other"}, "job_id"),
    ({"time_zone": "Mars/Olympus_Mons"}, "time_zone"),
    ({"time_zone": 1}, "time_zone"),
])
def test_bad_edits_are_400_with_the_field(staff_api, body, field):
    response = staff_api.patch(URL.format("scrape_jobs_task"), body, format="json")
    assert response.status_code == 400 and field in response.json()
    assert JobDefinition.objects.get(job_id="scrape_jobs_task").timeout_minutes == 10


def test_patch_the_time_zone(staff_api, settings):
    settings.TIME_ZONE = "UTC"
    url = URL.format("check_follow_ups_task")
    assert staff_api.get(url).json()["time_zone"] == ""  # blank: TIME_ZONE
    refused = staff_api.patch(url, {"time_zone": "Europe/Berln"}, format="json")
    assert refused.status_code == 400
    assert refused.json()["time_zone"] == ["Unknown time zone 'Europe/Berln': use an IANA name such as Europe/Berlin, "
                                           "America/New_York or UTC."]
    response = staff_api.patch(url, {"time_zone": "America/New_York"}, format="json")
    assert response.status_code == 200 and response.json()["time_zone"] == "America/New_York"
    assert JobDefinition.objects.get(job_id="check_follow_ups_task").time_zone == "America/New_York"
    assert staff_api.patch(url, {"time_zone": ""}, format="json").json()["time_zone"] == ""


def test_unknown_job_is_404_and_auth(staff_api, member_api, client):
    assert staff_api.get(URL.format("no_such_job")).status_code == 404
    assert member_api.patch(URL.format("scrape_jobs_task"), {"enabled": False}, format="json").status_code == 403
    assert client.get(URL.format("scrape_jobs_task")).status_code == 401


def test_a_definition_must_name_a_registered_job_and_a_valid_schedule():
    definition = JobDefinition(job_id="not_registered", name="x", timeout_minutes=1)
    with pytest.raises(ValidationError) as error:
        definition.full_clean()
    assert "job_id" in error.value.message_dict
    definition = JobDefinition.objects.get(job_id="scrape_jobs_task")
    definition.cron = "61 * * * *"
    with pytest.raises(ValidationError) as error:
        definition.full_clean()
    assert "cron" in error.value.message_dict
