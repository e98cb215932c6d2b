"""job_schedule_pause / job_schedule_resume: who, when and why are kept; a repeat is not an error but says so;
every change is recorded, logged and makes the schedulers reload; manual triggers still run while paused."""

from __future__ import annotations

import logging

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from scheduler_app import services
from scheduler_app.models import JobDefinition, JobRun, OperatorAction
from scheduler_app.services import schedule_actions

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _definitions(db):
    services.job_definitions_sync()


@pytest.fixture
def reloads(monkeypatch):
    calls: list[int] = []
    monkeypatch.setattr(schedule_actions, "scheduler_reload_request", lambda: calls.append(1) or {})
    return calls


def _definition(job_id: str = "quick_job") -> JobDefinition:
    return JobDefinition.objects.get(job_id=job_id)


def test_pause_records_who_when_why_logs_and_reloads(admin_user, reloads, caplog):
    before = timezone.now()
    with caplog.at_level(logging.INFO, logger="scheduler_app"):
        result = services.job_schedule_pause(job_id="quick_job", reason="  board is down  ", user=admin_user,
                                             source="admin")
    definition = _definition()
    assert result.changed and result.definition.pk == definition.pk
    assert definition.paused_at >= before and definition.paused_by == "admin"
    assert definition.pause_reason == "board is down"  # trimmed
    assert "paused by admin since " in result.message and result.message.count("board is down") == 1
    assert "manual triggers still run" in result.message
    assert reloads == [1]
    assert "Schedule of job: quick_job paused by admin: board is down" in caplog.messages
    record = OperatorAction.objects.get()
    assert (record.action, record.source, record.username, record.job_id, record.outcome) == (
        "pause_schedule", "admin", "admin", "quick_job", result.message)


def test_pausing_a_paused_schedule_changes_nothing_and_says_so(admin_user, reloads):
    first = services.job_schedule_pause(job_id="quick_job", reason="first", user=admin_user, source="api")
    again = services.job_schedule_pause(job_id="quick_job", reason="second", user=None, source="cli")
    definition = _definition()
    assert not again.changed and "is already paused by admin since" in again.message
    assert "first" in again.message and "nothing changed" in again.message
    assert (definition.paused_at, definition.paused_by, definition.pause_reason) == (
        first.definition.paused_at, "admin", "first")
    assert reloads == [1]  # the repeat asked for no reload
    assert list(OperatorAction.objects.order_by("id").values_list("action", "source")) == [
        ("pause_schedule", "api"), ("pause_schedule", "cli")]


def test_resume_clears_the_pause_and_says_what_it_was(admin_user, reloads, caplog):
    services.job_schedule_pause(job_id="quick_job", reason="maintenance", user=admin_user, source="api")
    with caplog.at_level(logging.INFO, logger="scheduler_app"):
        result = services.job_schedule_resume(job_id="quick_job", user=admin_user, source="api")
    definition = _definition()
    assert result.changed and (definition.paused_at, definition.paused_by, definition.pause_reason) == (None, "", "")
    assert "resumed (it was paused by admin since" in result.message and "maintenance" in result.message
    assert "slots skipped while paused are not run" in result.message
    assert reloads == [1, 1]
    assert "Schedule of job: quick_job resumed by admin" in caplog.messages
    assert OperatorAction.objects.filter(action="resume_schedule", job_id="quick_job").count() == 1


def test_resuming_a_running_schedule_changes_nothing_and_says_so(admin_user, reloads):
    result = services.job_schedule_resume(job_id="quick_job", user=admin_user, source="admin")
    assert not result.changed and result.message == "Schedule of quick_job is not paused; nothing changed."
    assert reloads == []
    assert OperatorAction.objects.get().action == "resume_schedule"


@pytest.mark.parametrize("reason", ["", "   ", None, "x" * 501])
def test_a_reason_is_required_and_bounded(admin_user, reloads, reason):
    with pytest.raises(ValidationError) as raised:
        services.job_schedule_pause(job_id="quick_job", reason=reason, user=admin_user, source="api")
    assert "reason" in raised.value.message_dict
    assert _definition().paused_at is None and reloads == [] and not OperatorAction.objects.exists()


def test_a_reason_of_500_characters_is_kept(admin_user, reloads):
    services.job_schedule_pause(job_id="quick_job", reason="x" * 500, user=admin_user, source="api")
    assert _definition().pause_reason == "x" * 500


def test_an_unknown_job_is_the_usual_not_found(admin_user, reloads):
    with pytest.raises(services.JobNotFound):
        services.job_schedule_pause(job_id="no_such_job", reason="why", user=admin_user, source="api")
    with pytest.raises(services.JobNotFound):
        services.job_schedule_resume(job_id="no_such_job", user=admin_user, source="api")
    assert reloads == [] and not OperatorAction.objects.exists()


def test_the_cli_names_the_operating_system_user(reloads, monkeypatch):
    monkeypatch.setattr("getpass.getuser", lambda: "ops-person")
    result = services.job_schedule_pause(job_id="quick_job", reason="deploy", source="cli")
    assert _definition().paused_by == "ops-person" and "paused by ops-person" in result.message
    assert OperatorAction.objects.get().username == "ops-person"


@pytest.mark.django_db(transaction=True)
def test_manual_triggers_still_run_while_paused(admin_user, fake_redis):
    services.job_schedule_pause(job_id="quick_job", reason="paused", user=admin_user, source="api")
    run = services.job_run(job_id="quick_job", trigger=JobRun.Trigger.API, user=admin_user)
    assert run.status == JobRun.Status.SUCCEEDED


def test_an_edit_from_a_definition_read_before_the_pause_keeps_the_pause(admin_user, reloads):
    stale = _definition()
    services.job_schedule_pause(job_id="quick_job", reason="kept", user=admin_user, source="api")
    services.job_definition_update(definition=stale, data={"timeout_minutes": 3})
    definition = _definition()
    assert definition.timeout_minutes == 3 and definition.paused_at is not None and definition.pause_reason == "kept"
