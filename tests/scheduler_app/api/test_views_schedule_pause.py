"""POST /api/v1/scheduler/jobs/<job_id>/pause {"reason"} and .../resume: staff only; 200 with the pause state,
400 for a missing or blank reason or an unknown field, 404 for an unknown job."""

from __future__ import annotations

import pytest
from django.utils.dateparse import parse_datetime

from scheduler_app import services
from scheduler_app.models import JobDefinition, OperatorAction

pytestmark = pytest.mark.django_db
PAUSE = "/api/v1/scheduler/jobs/{}/pause"
RESUME = "/api/v1/scheduler/jobs/{}/resume"


@pytest.fixture(autouse=True)
def _definitions(db, fake_redis):
    services.job_definitions_sync()


def _paused(job_id: str = "quick_job") -> bool:
    return JobDefinition.objects.get(job_id=job_id).paused_at is not None


def test_pause_then_resume(staff_api):
    response = staff_api.post(PAUSE.format("quick_job"), {"reason": "board down"}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["job_id"] == "quick_job" and body["paused"] is True and body["changed"] is True
    assert body["paused_by"] == "boss" and body["pause_reason"] == "board down"
    assert parse_datetime(body["paused_at"]).utcoffset() is not None
    assert body["pause_text"].startswith("paused by boss since ") and body["pause_text"].endswith(": board down")
    assert "paused by boss" in body["detail"] and _paused()

    again = staff_api.post(PAUSE.format("quick_job"), {"reason": "other"}, format="json")
    assert again.status_code == 200 and again.json()["changed"] is False
    assert again.json()["pause_reason"] == "board down" and "already paused" in again.json()["detail"]

    resumed = staff_api.post(RESUME.format("quick_job"), format="json")
    assert resumed.status_code == 200
    assert resumed.json() | {"detail": None} == {"job_id": "quick_job", "paused": False, "paused_at": None,
                                                 "paused_by": None, "pause_reason": None, "pause_text": None,
                                                 "changed": True, "detail": None}
    assert not _paused()
    twice = staff_api.post(RESUME.format("quick_job"))  # no body at all
    assert twice.status_code == 200 and twice.json()["changed"] is False and "not paused" in twice.json()["detail"]
    assert list(OperatorAction.objects.order_by("id").values_list("action", "source", "username")) == [
        ("pause_schedule", "api", "boss"), ("pause_schedule", "api", "boss"), ("resume_schedule", "api", "boss"),
        ("resume_schedule", "api", "boss")]


@pytest.mark.parametrize("body, field", [
    ({}, "reason"),
    ({"reason": ""}, "reason"),
    ({"reason": "   "}, "reason"),
    ({"reason": None}, "reason"),
    ({"reason": 5}, "reason"),
    ({"reason": "x" * 501}, "reason"),
    ({"reason": "ok", "until": "tomorrow"}, "until"),
])
def test_bad_pause_bodies_are_400_and_change_nothing(staff_api, body, field):
    response = staff_api.post(PAUSE.format("quick_job"), body, format="json")
    assert response.status_code == 400 and field in response.json()
    assert not _paused() and not OperatorAction.objects.exists()


def test_resume_refuses_unknown_fields(staff_api):
    services.job_schedule_pause(job_id="quick_job", reason="why", source="api")
    response = staff_api.post(RESUME.format("quick_job"), {"reason": "done"}, format="json")
    assert response.status_code == 400 and "reason" in response.json()
    assert _paused()


def test_unknown_job_is_404(staff_api):
    assert staff_api.post(PAUSE.format("no_such_job"), {"reason": "x"}, format="json").status_code == 404
    assert staff_api.post(RESUME.format("no_such_job"), format="json").status_code == 404
    assert not OperatorAction.objects.exists()


def test_staff_only(member_api, client):
    assert member_api.post(PAUSE.format("quick_job"), {"reason": "x"}, format="json").status_code == 403
    assert member_api.post(RESUME.format("quick_job"), format="json").status_code == 403
    assert client.post(PAUSE.format("quick_job"), {"reason": "x"}, content_type="application/json").status_code == 401
    assert not _paused()


def test_the_definition_and_the_status_show_the_pause(staff_api):
    staff_api.post(PAUSE.format("quick_job"), {"reason": "board down"}, format="json")
    definition = staff_api.get("/api/v1/scheduler/jobs/quick_job").json()
    assert definition["paused_by"] == "boss" and definition["pause_reason"] == "board down"
    assert parse_datetime(definition["paused_at"]) is not None
    patched = staff_api.patch("/api/v1/scheduler/jobs/quick_job", {"paused_at": None}, format="json")
    assert patched.status_code == 400 and _paused()  # read-only: resume is the way
    jobs = {job["id"]: job for job in staff_api.get("/api/v1/scheduler/status").json()["jobs"]}
    quick = jobs["quick_job"]
    assert quick["paused"] is True and quick["paused_by"] == "boss" and quick["pause_reason"] == "board down"
    since = parse_datetime(quick["paused_at"]).replace(microsecond=0).isoformat()
    assert quick["pause_text"] == f"paused by boss since {since}: board down"
    assert jobs["scrape_jobs_task"]["paused"] is False and jobs["scrape_jobs_task"]["pause_text"] is None
