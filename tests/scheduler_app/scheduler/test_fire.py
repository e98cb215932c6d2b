"""job_fire: one scheduled trigger through services.job_run; it returns the run id and never raises."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from scheduler_app import services
from scheduler_app.models import JobRun
from scheduler_app.runs import RunNotRecorded
from scheduler_app.scheduler import fire
from scheduler_app.scheduler.fire import job_fire

pytestmark = pytest.mark.django_db(transaction=True)

SLOT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def test_the_executor_passes_the_slot():
    assert job_fire.wants_slot is True


def test_fire_runs_the_job_for_its_slot_and_returns_the_run_id(lock_redis):
    run_id = job_fire("quick_job", SLOT)
    run = JobRun.objects.get(pk=run_id)
    assert (run.job_id, run.trigger, run.status, run.scheduled_for) == ("quick_job", "scheduled", "SUCCEEDED", SLOT)


def test_a_failing_job_still_returns_its_run_id(lock_redis):
    run_id = job_fire("failing_job", SLOT)
    assert JobRun.objects.get(pk=run_id).status == "FAILED"


def test_a_slot_that_already_ran_is_refused_by_the_recorder(lock_redis):
    first = job_fire("quick_job", SLOT)
    second = job_fire("quick_job", SLOT)
    assert second != first
    assert JobRun.objects.filter(job_id="quick_job", scheduled_for=SLOT, status="SUCCEEDED").count() == 1


def test_run_not_recorded_is_logged_and_gives_none(monkeypatch, caplog):
    def not_recorded(**kwargs):
        raise RunNotRecorded("quick_job", None, RuntimeError("database is locked"))

    monkeypatch.setattr(services, "job_run", not_recorded)
    with caplog.at_level(logging.ERROR, logger="scheduler_app"):
        assert job_fire("quick_job", SLOT) is None
    [record] = [r for r in caplog.records if r.name == "scheduler_app"]
    assert record.levelno == logging.ERROR
    assert record.getMessage().startswith("Scheduled fire of job: quick_job for 2026-03-01 09:00:00+00:00 not "
                                          "recorded: Run of job quick_job not recorded")
    assert record.exc_info is None


@pytest.mark.parametrize("error", [RuntimeError("boom"), services.JobNotFound("gone_job"), KeyError("x")])
def test_any_other_error_is_logged_with_its_traceback_and_gives_none(monkeypatch, caplog, error):
    def broken(**kwargs):
        raise error

    monkeypatch.setattr(services, "job_run", broken)
    with caplog.at_level(logging.ERROR, logger="scheduler_app"):
        assert job_fire("quick_job", SLOT) is None
    [record] = [r for r in caplog.records if r.name == "scheduler_app"]
    assert record.getMessage() == "Scheduled fire of job: quick_job failed"
    assert record.exc_info is not None and record.exc_info[1] is error


def test_an_unknown_job_gives_none(caplog):
    assert job_fire("no_such_job", SLOT) is None
    assert "Scheduled fire of job: no_such_job failed" in caplog.text


def test_fire_cleans_connections_around_the_run(monkeypatch):
    calls = []
    monkeypatch.setattr("scheduler_app.db_work.close_old_connections", lambda: calls.append("close"))
    monkeypatch.setattr(services, "job_run", lambda **kwargs: calls.append("run") or JobRun(pk=5))
    assert fire.job_fire("quick_job") == 5
    assert calls == ["close", "run", "close"]
