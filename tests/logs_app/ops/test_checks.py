"""/healthz and `manage.py healthcheck`: one check, database / Redis / scheduler / stuck locks."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import OperationalError
from django.db.backends.base.base import BaseDatabaseWrapper
from django.test import Client
from django.utils import timezone

from scheduler_app.models import SchedulerInstance
from tests.conftest import manage


def healthz():
    response = Client().get("/healthz")
    return response.status_code, response.json()


@pytest.mark.django_db
def test_healthy(fake_redis):
    now = timezone.now()
    SchedulerInstance.objects.create(host="h", pid=1, started_at=now, heartbeat_at=now - timedelta(seconds=3))
    code, body = healthz()
    assert code == 200
    assert body["status"] == "ok"
    assert body["database"]["status"] == "ok" and body["redis"]["status"] == "ok"
    assert body["scheduler"]["instances_alive"] == 1
    assert 2.5 < body["scheduler"]["heartbeat_age_seconds"] < 30
    assert (body["locks"]["status"], body["locks"]["held"], body["locks"]["stuck"]) == ("ok", 0, [])


@pytest.mark.django_db
def test_redis_stopped_is_degraded_with_the_fallback_active(dead_redis, settings):
    settings.LOCK_FALLBACK = "database"
    code, body = healthz()
    assert code == 200  # still serving: the locks use the database lease
    assert body["status"] == "degraded"
    assert body["redis"]["status"] == "down" and body["redis"]["fallback_active"] is True
    settings.LOCK_FALLBACK = "fail"
    code, body = healthz()
    assert code == 200 and body["redis"]["fallback_active"] is False


@pytest.mark.django_db
def test_no_scheduler_is_degraded_and_reports_the_last_heartbeat_age(fake_redis):
    now = timezone.now()
    SchedulerInstance.objects.create(host="h", pid=1, started_at=now, heartbeat_at=now - timedelta(minutes=2))
    code, body = healthz()
    assert code == 200 and body["status"] == "degraded"
    assert body["scheduler"]["status"] == "down" and body["scheduler"]["instances_alive"] == 0
    assert body["scheduler"]["heartbeat_age_seconds"] >= 120


@pytest.mark.django_db
def test_stuck_lock_shows(fake_redis):
    fake_redis.set("job_lock:check_follow_ups_task", "no TTL")
    code, body = healthz()
    assert code == 200 and body["status"] == "degraded"
    assert [s["key"] for s in body["locks"]["stuck"]] == ["check_follow_ups_task"]


@pytest.mark.django_db
def test_with_redis_down_a_database_lease_past_its_limit_is_stuck(dead_redis, settings):
    """Redis down: only database leases can be held; they are listed without asking Redis again."""
    import time as _time

    from scheduler_app.locks import Holder
    from scheduler_app.models import DatabaseLock, JobDefinition, JobRun

    settings.LOCK_LEASE_SECONDS = 30
    JobDefinition.objects.filter(job_id="check_follow_ups_task").update(timeout_minutes=5)
    JobDefinition.objects.filter(job_id="scrape_jobs_task").update(timeout_minutes=10)
    live = JobRun.objects.create(job_id="scrape_jobs_task", lock_key="scrape_jobs_task", trigger="api",
                                 status="RUNNING")
    old = Holder(token="a" * 32, run_id=None, host="h", pid=1, acquired_at=_time.time() - 5 * 60 - 31)
    fresh = Holder(token="b" * 32, run_id=live.pk, host="h", pid=1, acquired_at=_time.time() - 60)
    expires = timezone.now() + timedelta(seconds=20)
    DatabaseLock.objects.create(key="check_follow_ups_task", token=old.token, holder=old.as_dict(), expires_at=expires)
    DatabaseLock.objects.create(key="scrape_jobs_task", token=fresh.token, holder=fresh.as_dict(), expires_at=expires)
    code, body = healthz()
    assert code == 200
    assert body["locks"]["held"] == 2
    assert [s["key"] for s in body["locks"]["stuck"]] == ["check_follow_ups_task"]


@pytest.mark.django_db(transaction=True)
def test_database_down_is_503(fake_redis, monkeypatch):
    def refuse(self, *args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(BaseDatabaseWrapper, "cursor", refuse)
    code, body = healthz()
    assert code == 503
    assert body["status"] == "down" and body["database"]["status"] == "down"
    assert "connection refused" in body["database"]["error"]
    assert body["scheduler"]["status"] == "unknown"


@pytest.mark.django_db
def test_command_shares_the_check(fake_redis, capsys):
    call_command("healthcheck")  # no scheduler alive: degraded, still exit 0
    body = json.loads(capsys.readouterr().out)
    assert body["database"]["status"] == "ok" and set(body) == {"status", "database", "redis", "scheduler", "locks"}
    assert body["status"] == "degraded"
    with pytest.raises(SystemExit) as exited:
        call_command("healthcheck", "--strict")
    assert exited.value.code == 1


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_command_exit_codes_in_a_real_process(subprocess_env):
    ok = manage("healthcheck", env=subprocess_env)
    out, err = ok.communicate(timeout=60)
    assert ok.returncode == 0, err
    assert json.loads(out)["database"]["status"] == "ok"

    down = manage("healthcheck", env=dict(subprocess_env, DATABASE_URL="postgres://postgres@127.0.0.1:1/nowhere"))
    out, err = down.communicate(timeout=60)
    assert down.returncode == 1
    body = json.loads(out)
    assert body["status"] == "down" and body["database"]["status"] == "down"
