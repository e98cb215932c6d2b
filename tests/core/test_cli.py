"""runjob exit codes and output; locks list / clear / clear-stale."""

from __future__ import annotations

import json
import time

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from scheduler_app import locks
from scheduler_app.models import JobRun
from scraping_app.models import Team
from tests.conftest import manage

pytestmark = pytest.mark.django_db(transaction=True)


def runjob(*args: str) -> tuple[int, str]:
    from io import StringIO

    out, err = StringIO(), StringIO()
    try:
        call_command("runjob", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = exc.code
    except CommandError as exc:
        return exc.returncode, str(exc)
    return code, out.getvalue() + err.getvalue()


def test_runjob_success_prints_run(lock_redis):
    code, out = runjob("quick_job")
    run = JobRun.objects.get()
    assert code == 0
    assert f"run {run.pk}" in out and "status SUCCEEDED" in out and "duration" in out
    assert run.trigger == "cli"


def test_runjob_partial_is_success_with_warnings(lock_redis):
    code, out = runjob("partial_job")
    assert code == 0 and "status PARTIAL" in out and "board x failed" in out


def test_runjob_failure_exits_1(lock_redis):
    code, out = runjob("failing_job")
    assert code == 1 and "RuntimeError: Test error" in out


def test_runjob_usage_errors_exit_2(lock_redis):
    assert runjob("no_such_job")[0] == 2
    assert runjob("hold_job", "--param", "seconds")[0] == 2
    assert runjob("hold_job", "--param", "bogus=1")[0] == 2
    assert runjob("hold_job", "--team", "999")[0] == 2
    assert runjob("hold_job", "--wait", "-1")[0] == 2
    assert not JobRun.objects.exists()


def test_runjob_blocked_exits_3_and_names_the_holder(lock_redis):
    with locks.execution_lock("quick_job", ttl_seconds=60, run_id=4242):
        code, out = runjob("quick_job")
    assert code == 3
    assert "Job is already running" in out and "run #4242" in out and "lock TTL" in out
    assert JobRun.objects.get().status == JobRun.Status.SKIPPED


def test_runjob_lock_unavailable_exits_4(dead_redis, settings):
    settings.LOCK_FALLBACK = "fail"
    code, out = runjob("quick_job")
    assert code == 4 and "Lock service unavailable" in out
    run = JobRun.objects.get()
    assert run.status == JobRun.Status.SKIPPED and run.skip_reason == "lock_unavailable"


def test_runjob_team_and_wait(lock_redis):
    team = Team.objects.create(name="t")
    code, _ = runjob("team_job", "--team", str(team.pk), "--wait", "1", "--param", "seconds=0")
    assert code == 0
    assert JobRun.objects.get().lock_key == f"team_job:team:{team.pk}"


def test_runjob_subprocess_exit_codes(real_redis, subprocess_env):
    """The real process: argparse errors and unknown jobs exit 2 without a traceback."""
    proc = manage("runjob", "no_such_job", env=subprocess_env)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "Unknown job: no_such_job" in err and "Traceback" not in err
    proc = manage("runjob", "quick_job", env=subprocess_env)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "SUCCEEDED" in out


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


def test_reaper_abandons_queued_runs_whose_trigger_died(lock_redis):
    from datetime import timedelta

    from django.utils import timezone

    from scheduler_app import services

    old = JobRun.objects.create(job_id="quick_job", lock_key="quick_job", trigger="cli")
    JobRun.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=1))
    fresh = JobRun.objects.create(job_id="quick_job", lock_key="quick_job", trigger="cli")
    services.reaper_run()
    old.refresh_from_db()
    fresh.refresh_from_db()
    assert old.status == JobRun.Status.ABANDONED and fresh.status == JobRun.Status.QUEUED


def test_a_database_error_after_locking_releases_the_lock(lock_redis, monkeypatch):
    from django.db import OperationalError

    from scheduler_app import runs, services

    def broken(run, lease):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(runs, "run_start", broken)
    with pytest.raises(OperationalError):
        services.job_run(job_id="quick_job", trigger="cli")
    assert not lock_redis.exists("job_lock:quick_job")
