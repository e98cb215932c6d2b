"""manage.py locks list / clear / clear-stale: a live holder's lock is never stale."""

from __future__ import annotations

import json
import time

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from scheduler_app import locks
from scheduler_app.models import JobRun

pytestmark = pytest.mark.django_db(transaction=True)


def test_locks_list_and_clear(lock_redis, capsys):
    lease = locks.acquire("quick_job", ttl_seconds=60, run_id=None)
    call_command("locks", "list")
    out = capsys.readouterr().out
    assert "job_lock:quick_job" in out and "live" in out
    call_command("locks", "clear", "quick_job")
    assert not lock_redis.exists("job_lock:quick_job")
    with pytest.raises(CommandError):
        call_command("locks", "clear", "quick_job")
    lease.release()


def test_clear_stale_never_removes_a_live_lock(lock_redis, capsys):
    live = locks.acquire("hold_job", ttl_seconds=60, run_id=None)
    finished = JobRun.objects.create(job_id="quick_job", lock_key="quick_job", trigger="cli",
                                     status=JobRun.Status.SUCCEEDED)
    lock_redis.set("job_lock:quick_job", json.dumps({"token": "t1", "run_id": finished.pk, "host": "h", "pid": 1,
                                                     "acquired_at": time.time()}), px=60_000)
    lock_redis.set("job_lock:failing_job", json.dumps({"token": "t2"}))  # no TTL
    call_command("locks", "clear-stale")
    out = capsys.readouterr().out
    assert "2 stale lock(s) cleared" in out
    assert lock_redis.exists("job_lock:hold_job")
    assert not lock_redis.exists("job_lock:quick_job") and not lock_redis.exists("job_lock:failing_job")
    live.release()


def test_clear_stale_marks_dead_runs_abandoned_first(lock_redis, fast_lease):
    from datetime import timedelta

    from django.utils import timezone

    dead = JobRun.objects.create(job_id="quick_job", lock_key="quick_job", trigger="cli",
                                 status=JobRun.Status.RUNNING,
                                 heartbeat_at=timezone.now() - timedelta(seconds=10))
    lock_redis.set("job_lock:quick_job", json.dumps({"token": "t", "run_id": dead.pk, "host": "h", "pid": 1,
                                                     "acquired_at": time.time()}), px=60_000)
    # Its key is still there (renewed by a holder whose database heartbeat fails): not dead yet.
    call_command("locks", "clear-stale")
    dead.refresh_from_db()
    assert dead.status == JobRun.Status.RUNNING and lock_redis.exists("job_lock:quick_job")
    lock_redis.delete("job_lock:quick_job")  # the lease lapsed: silent for a lease and no key = dead
    call_command("locks", "clear-stale")
    dead.refresh_from_db()
    assert dead.status == JobRun.Status.ABANDONED


def test_every_clear_is_recorded_with_who_and_the_outcome(lock_redis, capsys, staff_api):
    """CLI and API clears (the admin's are in test_admin.py) leave an OperatorAction; a live holder's clear says
    that its holder will set the key again."""
    from scheduler_app.models import OperatorAction

    holder = JobRun.objects.create(job_id="hold_job", lock_key="hold_job", trigger="api", status="RUNNING")
    live = locks.acquire("hold_job", ttl_seconds=60, run_id=holder.pk)
    call_command("locks", "clear", "hold_job")
    assert "is alive: its renewal sets the key again" in capsys.readouterr().err
    free = locks.acquire("quick_job", ttl_seconds=60)
    body = staff_api.delete("/api/v1/scheduler/locks/quick_job").json()
    assert body["released"] is True and body["holder_live"] is False
    staff_api.post("/api/v1/scheduler/locks/cleanup")
    records = list(OperatorAction.objects.order_by("id").values_list("source", "action", "job_id", "run_id"))
    assert records == [("cli", "clear_lock", "hold_job", holder.pk), ("api", "clear_lock", "quick_job", None),
                       ("api", "clear_stale_locks", "", None)]
    assert OperatorAction.objects.filter(source="api").first().username == "boss"
    live.release()
    free.release()
