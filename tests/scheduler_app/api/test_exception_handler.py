"""api_exception_handler: RunNotRecorded is a 503 with the refusal's body; everything else is DRF's answer."""

from __future__ import annotations

from django.http import Http404
from rest_framework import exceptions

from scheduler_app.api.exception_handler import api_exception_handler
from scheduler_app.runs import RunNotRecorded


def test_run_not_recorded_is_a_503_with_the_refusal():
    exc = RunNotRecorded("quick_job", None, RuntimeError("database is locked"))
    response = api_exception_handler(exc, {})
    assert response.status_code == 503
    assert response.data == {"detail": "Run could not be recorded", "job_id": "quick_job", "run_id": None,
                             "error": "Run of job quick_job not recorded: database unavailable (database is locked)"}


def test_run_not_recorded_names_the_run_and_only_the_first_line_of_the_cause():
    exc = RunNotRecorded("hold_job", 12, RuntimeError("server closed the connection\nunexpectedly"), what="x")
    response = api_exception_handler(exc, {})
    assert response.status_code == 503
    assert response.data["job_id"] == "hold_job"
    assert response.data["error"] == "Run 12 of job hold_job not recorded: x (server closed the connection)"


def test_drf_exceptions_keep_drfs_answer():
    response = api_exception_handler(exceptions.ValidationError({"limit": ["Too big."]}), {})
    assert response.status_code == 400 and response.data == {"limit": ["Too big."]}
    response = api_exception_handler(exceptions.NotAuthenticated(), {})
    assert response.status_code == 401
    assert api_exception_handler(Http404(), {}).status_code == 404


def test_a_services_django_validation_error_is_a_400_with_its_messages():
    from django.core.exceptions import ValidationError

    response = api_exception_handler(ValidationError({"team": ["At most 20 saved searches per team."]}), {})
    assert response.status_code == 400 and response.data == {"team": ["At most 20 saved searches per team."]}
    response = api_exception_handler(ValidationError("Not allowed."), {})
    assert response.status_code == 400 and response.data == {"detail": ["Not allowed."]}


def test_other_exceptions_are_left_to_django():
    assert api_exception_handler(RuntimeError("a bug"), {}) is None


def test_it_is_the_projects_handler(settings):
    assert settings.REST_FRAMEWORK["EXCEPTION_HANDLER"] == "scheduler_app.api.exception_handler.api_exception_handler"
