"""A trigger never crashes: when the run row cannot be written (SQLite's write lock held past the busy timeout, a
PostgreSQL table locked past lock_timeout), runjob exits 4, the API answers 503, the scheduler logs it and goes
on, and no lock is left behind. No traceback."""

from __future__ import annotations

import logging
import sqlite3

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection
from rest_framework.test import APIClient

from scheduler_app.models import JobRun
from scheduler_app.scheduler.fire import job_fire

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def run_table_blocked():
    """Another connection holds what a run write needs, and this connection gives up after 0.3 s."""
    if connection.vendor == "sqlite":
        options = connection.settings_dict["OPTIONS"]
        saved = options.get("timeout")
        options["timeout"] = 0.3
        connection.close()  # reconnect with the short busy timeout
        other = sqlite3.connect(connection.settings_dict["NAME"], timeout=5)
        other.execute("BEGIN IMMEDIATE")  # SQLite's one write lock
        yield
        other.rollback()
        other.close()
        options["timeout"] = saved
        connection.close()
        return
    sd = connection.settings_dict
    other = psycopg.connect(host=sd["HOST"] or "127.0.0.1", port=sd["PORT"] or 5432, user=sd["USER"],
                            dbname=sd["NAME"])
    other.execute(f"LOCK TABLE {JobRun._meta.db_table} IN ACCESS EXCLUSIVE MODE")
    sd["OPTIONS"]["options"] = "-c lock_timeout=300"  # every new connection (the trigger opens its own) gives up
    connection.close()
    yield
    other.rollback()
    other.close()
    del sd["OPTIONS"]["options"]
    connection.close()


def test_runjob_exits_4_with_a_clear_error(lock_redis, run_table_blocked, capsys):
    with pytest.raises(SystemExit) as exited:
        call_command("runjob", "quick_job")
    assert exited.value.code == 4
    err = capsys.readouterr().err
    assert "Run could not be recorded: Run" in err and "database unavailable" in err
    assert "Traceback" not in err
    assert not lock_redis.keys("job_lock:*")


@pytest.fixture
def staff_client(django_user_model):
    client = APIClient()
    client.force_authenticate(django_user_model.objects.create_user("ops", password="x", is_staff=True))
    return client


def test_the_api_answers_503(lock_redis, staff_client, run_table_blocked):
    response = staff_client.post("/api/v1/scheduler/job", {"job_id": "quick_job"}, format="json")
    assert response.status_code == 503, response.content
    body = response.json()
    assert body["detail"] == "Run could not be recorded" and body["job_id"] == "quick_job"
    assert "database unavailable" in body["error"]
    assert not lock_redis.keys("job_lock:*")


def test_the_scheduler_logs_it_and_goes_on(lock_redis, run_table_blocked, caplog):
    caplog.set_level(logging.ERROR, logger="scheduler_app")
    assert job_fire("quick_job") is None
    lines = [r.getMessage() for r in caplog.records if r.name == "scheduler_app"]
    assert any(line.startswith("Scheduled fire of job: quick_job for None not recorded") for line in lines)
    assert not any(r.exc_info for r in caplog.records)  # logged as a fact, not a traceback
