"""scheduler_app.runner: one run from start to end (run_job), cancelling this process's runs, and the policy a run
reads from its job's definition."""

from __future__ import annotations

import pytest
from django.utils import timezone

from scheduler_app import locks, registry, runner, services
from scheduler_app.models import JobDefinition, JobRun
from tests.waiting import wait_for

pytestmark = pytest.mark.django_db(transaction=True)
S = JobRun.Status


def run(job_id: str, **kwargs) -> JobRun:
    kwargs.setdefault("trigger", "api")
    return runner.run_job(registry.get(job_id), **kwargs)


def key_held(client, job_id: str) -> bool:
    return bool(client.exists(f"job_lock:{job_id}"))


def test_success_records_the_value_and_releases(lock_redis):
    done = run("quick_job", trigger="cli")
    assert done.status == S.SUCCEEDED and done.job_value == {"ok": True} and done.job_exception is None
    stored = JobRun.objects.get(pk=done.pk)
    assert stored.status == S.SUCCEEDED and stored.result == {"ok": True} and stored.trigger == "cli"
    assert stored.finished_at and stored.fencing_token
    assert not key_held(lock_redis, "quick_job")


def test_params_are_bound_and_coerced(lock_redis):
    done = run("hold_job", params={"seconds": "0.01"})
    assert done.status == S.SUCCEEDED and done.job_value == {"held": 0.01}
    with pytest.raises(registry.InvalidJobParams):
        run("hold_job", params={"nope": 1})
    assert not JobRun.objects.filter(job_id="hold_job").exclude(pk=done.pk).exists()  # refused before a row


def test_failure_records_the_traceback_and_releases_the_lock(lock_redis):
    failed = run("failing_job")
    assert failed.status == S.FAILED and failed.error == "RuntimeError: Test error"
    assert isinstance(failed.job_exception, RuntimeError) and failed.job_value is None
    stored = JobRun.objects.get(pk=failed.pk)
    assert "Traceback" in stored.traceback and "RuntimeError: Test error" in stored.traceback
    assert not key_held(lock_redis, "failing_job")
    assert run("failing_job").status == S.FAILED  # the lock was free for the next trigger


def test_partial_keeps_its_warnings(lock_redis):
    done = run("partial_job")
    assert done.status == S.PARTIAL and JobRun.objects.get(pk=done.pk).warnings == ["board x failed"]


def test_a_held_lock_skips_with_lock_held_and_who_blocked(lock_redis):
    holder = JobRun.objects.create(job_id="quick_job", lock_key="quick_job", trigger="scheduled", status=S.SUCCEEDED)
    lease = locks.acquire("quick_job", ttl_seconds=60, run_id=holder.pk)
    try:
        skipped = run("quick_job")
    finally:
        lease.release()
    assert skipped.status == S.SKIPPED and skipped.skip_reason == "lock_held"
    assert skipped.error == "Job is already running" and skipped.job_value is None
    stored = JobRun.objects.get(pk=skipped.pk)
    assert stored.status == S.SKIPPED and stored.started_at is None
    assert stored.blocked_by["refused_by"] == "lock"
    assert stored.blocked_by["holder"]["run_id"] == holder.pk
    assert stored.blocked_by["holder"]["token"] == lease.holder.token
    assert 0 < stored.blocked_by["ttl_seconds"] <= 60


def test_a_live_run_in_the_database_skips_even_with_the_key_free(lock_redis):
    live = JobRun.objects.create(job_id="quick_job", lock_key="quick_job", trigger="api", status=S.RUNNING,
                                 started_at=timezone.now(), heartbeat_at=timezone.now())
    skipped = run("quick_job")
    assert skipped.status == S.SKIPPED and skipped.blocked_by["refused_by"] == "database"
    assert skipped.blocked_by["holder"]["run_id"] == live.pk
    assert not key_held(lock_redis, "quick_job")  # it let the key go at once


def test_background_returns_running_then_finishes(lock_redis):
    started = run("hold_job", params={"seconds": 0.3}, background=True)
    assert started.status == S.RUNNING and started.started_at is not None
    done = wait_for(lambda: (r := JobRun.objects.get(pk=started.pk)).is_finished and r, timeout=30,
                    message="the background run to finish")
    assert done.status == S.SUCCEEDED and done.result == {"held": 0.3}
    wait_for(lambda: not key_held(lock_redis, "hold_job"), timeout=10, message="the lock to be released")


def test_cancel_active_stops_this_processes_runs_as_cancelled(lock_redis):
    started = run("hold_job", params={"seconds": 60}, background=True)
    assert started.status == S.RUNNING
    assert runner.runs_cancel_active(reason="shutdown") >= 1
    done = wait_for(lambda: (r := JobRun.objects.get(pk=started.pk)).is_finished and r, timeout=30,
                    message="the cancelled run to end")
    assert done.status == S.CANCELLED and "shutdown" in done.error
    wait_for(lambda: not key_held(lock_redis, "hold_job"), timeout=10, message="the lock to be released")
    assert runner.runs_cancel_active() == 0  # nothing left to cancel


def test_policy_read_follows_the_definition(lock_redis):
    services.job_definitions_sync()
    spec = registry.get("quick_job")
    JobDefinition.objects.filter(job_id="quick_job").update(lock_scope="team", wait_seconds=7, timeout_minutes=3)
    policy = runner.policy_read(spec)
    assert (policy.lock_scope, policy.wait_seconds, policy.timeout_minutes) == ("team", 7, 3)


def test_policy_read_seeds_a_missing_definition_from_the_decorator(lock_redis):
    JobDefinition.objects.filter(job_id="team_job").delete()
    policy = runner.policy_read(registry.get("team_job"))
    assert (policy.lock_scope, policy.wait_seconds, policy.timeout_minutes) == ("team", 0, 1)
    assert JobDefinition.objects.filter(job_id="team_job").exists()


def test_the_timeout_read_on_each_run_applies_to_the_next(lock_redis):
    services.job_definitions_sync()
    JobDefinition.objects.filter(job_id="hold_job").update(timeout_minutes=0.01)
    timed_out = run("hold_job", params={"seconds": 10})
    assert timed_out.status == S.TIMED_OUT and timed_out.error == "Job exceeded timeout of 0.01 minutes"
    assert not key_held(lock_redis, "hold_job")


def test_lock_key_for_scope():
    class Team:
        pk = 4

    assert runner.lock_key_for(job_id="team_job", scope="team", team=Team()) == "team_job:team:4"
    assert runner.lock_key_for(job_id="team_job", scope="team", team=None) == "team_job"
    assert runner.lock_key_for(job_id="team_job", scope="job", team=Team()) == "team_job"


def test_a_database_error_after_locking_releases_the_lock(lock_redis, monkeypatch):
    from django.db import OperationalError

    from scheduler_app import runs, services

    def broken(run, lease, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(runs, "run_start", broken)
    with pytest.raises(OperationalError):
        services.job_run(job_id="quick_job", trigger="cli")
    assert not lock_redis.exists("job_lock:quick_job")


def test_a_run_stops_itself_when_its_renewal_thread_hangs(lock_redis, fast_lease, monkeypatch):
    """The renewal thread blocks in a database call that never returns (a link cut under an open connection, no TCP
    timeout). Nothing confirms the lock, so the job's own ctx.check() stops the run before its lease ends:
    LOST_LOCK, the key left to expire, and no overlap with whoever takes over after the lease."""
    import threading
    import time

    hang = threading.Event()
    monkeypatch.setattr(locks.renewer, "_confirm_runs", lambda run_ids: hang.wait(30) and None)
    started = time.monotonic()
    try:
        finished = run("hold_job", params={"seconds": 10})
    finally:
        hang.set()
    stopped_after = time.monotonic() - started
    assert finished.status == JobRun.Status.LOST_LOCK
    assert "could not renew in Redis or the database for a whole lease (1 s)" in finished.error
    assert stopped_after < 1.0 + 0.5  # within the lease (plus the run's own start-up), not after the 10 s body
