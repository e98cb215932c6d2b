"""manage.py schedule pause JOB_ID --reason "..." / resume JOB_ID: recorded as the operating-system user, source
cli; a repeat says so and exits 0; an unknown job or a missing reason exits 2."""

from __future__ import annotations

import getpass

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from scheduler_app import services
from scheduler_app.models import JobDefinition, OperatorAction
from tests.conftest import manage

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _definitions(db, fake_redis):
    services.job_definitions_sync()


def _definition() -> JobDefinition:
    return JobDefinition.objects.get(job_id="scrape_jobs_task")


def test_pause_and_resume(capsys, monkeypatch):
    monkeypatch.setattr(getpass, "getuser", lambda: "deployer")
    call_command("schedule", "pause", "scrape_jobs_task", "--reason", "board migration")
    out = capsys.readouterr().out
    assert "Schedule of scrape_jobs_task paused by deployer since " in out and "board migration" in out
    definition = _definition()
    assert definition.paused_by == "deployer" and definition.pause_reason == "board migration"

    call_command("schedule", "pause", "scrape_jobs_task", "--reason", "again")
    assert "is already paused by deployer" in capsys.readouterr().out and _definition().pause_reason == \
        "board migration"

    call_command("schedule", "resume", "scrape_jobs_task")
    assert "Schedule of scrape_jobs_task resumed" in capsys.readouterr().out and _definition().paused_at is None
    call_command("schedule", "resume", "scrape_jobs_task")
    assert "is not paused; nothing changed" in capsys.readouterr().out
    assert set(OperatorAction.objects.values_list("source", "username")) == {("cli", "deployer")}
    assert OperatorAction.objects.count() == 4


@pytest.mark.parametrize("args", [("pause", "no_such_job", "--reason", "x"), ("resume", "no_such_job"),
                                  ("pause", "scrape_jobs_task", "--reason", "  ")])
def test_unknown_job_or_blank_reason_exits_2(args):
    with pytest.raises(CommandError) as raised:
        call_command("schedule", *args)
    assert raised.value.returncode == 2
    assert _definition().paused_at is None and not OperatorAction.objects.exists()


def test_a_reason_is_required():
    with pytest.raises(CommandError, match="--reason"):
        call_command("schedule", "pause", "scrape_jobs_task")
    assert _definition().paused_at is None


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_the_real_command(subprocess_env):
    services.job_definitions_sync()
    proc = manage("schedule", "pause", "scrape_jobs_task", "--reason", "from a terminal", env=subprocess_env)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "paused by " in out and _definition().paused_by == getpass.getuser()
    missing = manage("schedule", "resume", "no_such_job", env=subprocess_env)
    _, err = missing.communicate(timeout=60)
    assert missing.returncode == 2 and "Unknown job: no_such_job" in err
