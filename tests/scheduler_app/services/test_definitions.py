"""job_definition_update: an operator's edit, validated like the admin form, then a reload request."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from scheduler_app.models import JobDefinition
from scheduler_app.selectors import job_definitions_version
from scheduler_app.services import definitions as definitions_service
from scheduler_app.services import job_definition_update


@pytest.fixture
def reloads(monkeypatch):
    calls = []
    monkeypatch.setattr(definitions_service, "scheduler_reload_request", lambda: calls.append(1) or {})
    return calls


@pytest.fixture
def quick(db):
    return JobDefinition.objects.get(job_id="quick_job")


def test_a_valid_edit_is_saved_and_requests_a_reload(quick, reloads):
    result = job_definition_update(definition=quick, data={"timeout_minutes": 4, "cron": "*/10 * * * *",
                                                           "wait_seconds": 2, "enabled": False})
    assert result is quick
    stored = JobDefinition.objects.get(job_id="quick_job")
    assert (stored.timeout_minutes, stored.cron, stored.wait_seconds, stored.enabled) == (4, "*/10 * * * *", 2,
                                                                                          False)
    assert reloads == [1]


@pytest.mark.parametrize("data, field", [
    ({"cron": "not a crontab"}, "cron"),
    ({"timeout_minutes": 0}, "timeout_minutes"),
    ({"wait_seconds": -1}, "wait_seconds"),
    ({"trigger_type": "interval", "interval_seconds": None}, "interval_seconds"),
    ({"lock_scope": "host"}, "lock_scope"),
    ({"name": ""}, "name"),
])
def test_an_invalid_edit_raises_saves_nothing_and_requests_no_reload(quick, reloads, data, field):
    before = JobDefinition.objects.filter(pk=quick.pk).values().get()
    with pytest.raises(ValidationError) as excinfo:
        job_definition_update(definition=quick, data=data)
    assert field in excinfo.value.message_dict
    assert JobDefinition.objects.filter(pk=quick.pk).values().get() == before
    assert reloads == []


def test_the_edit_bumps_the_version_schedulers_poll(quick):
    JobDefinition.objects.update(updated_at=timezone.now() - timedelta(days=1))
    before = job_definitions_version()
    job_definition_update(definition=quick, data={"timeout_minutes": 2})
    assert job_definitions_version() != before
