"""with_execution_lock and job_run: run records, exact log lines, errors, timeouts, waiting, scopes."""

from __future__ import annotations

import json
import logging
import threading
import time

import pytest
from django.contrib.auth.models import Group

from scheduler_app import locks, services
from scheduler_app.models import JobDefinition, JobRun
from scraping_app.models import Team
from tests import jobs_for_tests
from tests.waiting import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

S = JobRun.Status


def set_timeout(job_id: str, minutes: float) -> None:
    services.job_definitions_sync()
    JobDefinition.objects.filter(job_id=job_id).update(timeout_minutes=minutes)


def messages(caplog) -> list[tuple[str, str]]:
    return [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "scheduler_app"]


def run_in_thread(**kwargs) -> tuple[threading.Thread, dict]:
    box: dict = {}

    def target():
        box["run"] = services.job_run(**kwargs)

    thread = threading.Thread(target=target)
    thread.start()
    return thread, box


def wait_for_status(job_id: str, status: str, timeout: float = 30) -> JobRun:
    return wait_for(lambda: JobRun.objects.filter(job_id=job_id, status=status).first(), timeout=timeout,
                    interval=0.02, message=f"a {status} run of {job_id}")


def test_success_records_the_run_and_logs_the_exact_lines(lock_redis, caplog):
    caplog.set_level(logging.INFO, logger="scheduler_app")
    run = services.job_run(job_id="quick_job", trigger="cli")
    assert run.status == S.SUCCEEDED and run.result == {"ok": True}
    assert run.trigger == "cli" and run.fencing_token > run.pk and run.pid and run.host
    assert run.started_at and run.finished_at and run.duration_ms >= 0 and run.lock_wait_ms >= 0
    assert messages(caplog) == [
        ("INFO", "Acquiring lock for job: quick_job"),
        ("INFO", "Lock acquired for job: quick_job"),
        ("INFO", "Releasing lock for job: quick_job"),
    ]
    assert not lock_redis.exists("job_lock:quick_job")


def test_direct_call_goes_through_the_same_lock_and_record(lock_redis):
    assert jobs_for_tests.quick_job() == {"ok": True}
    run = JobRun.objects.get()
    assert run.trigger == "direct" and run.status == S.SUCCEEDED


def test_error_marks_failed_with_traceback_and_releases(lock_redis):
    """Seed guide Test 10."""
    first = services.job_run(job_id="failing_job", trigger="api")
    assert first.status == S.FAILED
    assert "RuntimeError: Test error" in first.error and "Traceback" in first.traceback
    assert not lock_redis.exists("job_lock:failing_job")
    second = services.job_run(job_id="failing_job", trigger="api")
    assert second.status == S.FAILED  # it acquired the lock again: no deadlock
    with pytest.raises(RuntimeError):
        jobs_for_tests.failing_job()


def test_blocked_trigger_is_recorded_skipped_with_the_holder(lock_redis, caplog):
    caplog.set_level(logging.INFO, logger="scheduler_app")
    thread, box = run_in_thread(job_id="hold_job", trigger="scheduled", params={"seconds": 1})
    holder = wait_for_status("hold_job", S.RUNNING)
    blocked = services.job_run(job_id="hold_job", trigger="api")
    thread.join()
    assert blocked.status == S.SKIPPED and blocked.skip_reason == "lock_held"
    assert blocked.blocked_by["holder"]["run_id"] == holder.pk
    assert blocked.blocked_by["ttl_seconds"] > 0
    assert ("WARNING", "Failed to acquire lock for job: hold_job (already running)") in messages(caplog)
    assert ("ERROR", "Job execution blocked by existing lock") in messages(caplog)
    assert box["run"].status == S.SUCCEEDED
    with pytest.raises(locks.LockNotAcquired):
        thread, _ = run_in_thread(job_id="hold_job", trigger="cli", params={"seconds": 1})
        wait_for_status("hold_job", S.RUNNING)
        try:
            jobs_for_tests.hold_job(seconds=0)
        finally:
            thread.join()


def test_waiting_trigger_runs_after_the_holder(lock_redis):
    thread, box = run_in_thread(job_id="hold_job", trigger="scheduled", params={"seconds": 0.5})
    wait_for_status("hold_job", S.RUNNING)
    waited = services.job_run(job_id="hold_job", trigger="api", wait_seconds=5, params={"seconds": 0})
    thread.join()
    assert waited.status == S.SUCCEEDED
    assert waited.lock_wait_ms > 100
    assert waited.started_at >= box["run"].finished_at


def test_timeout_stops_the_run_releases_the_lock_and_logs(lock_redis, caplog):
    """Seed guide Test 4: the job's timeout (edited on its definition) stops a long run."""
    caplog.set_level(logging.INFO, logger="scheduler_app")
    set_timeout("hold_job", 0.01)  # 0.6 s
    started = time.monotonic()
    run = services.job_run(job_id="hold_job", trigger="api", params={"seconds": 5})
    assert time.monotonic() - started < 2
    assert run.status == S.TIMED_OUT
    assert ("WARNING", "Job exceeded timeout of 0.01 minutes") in messages(caplog)
    assert not lock_redis.exists("job_lock:hold_job")
    set_timeout("hold_job", 1)
    assert services.job_run(job_id="hold_job", trigger="api").status == S.SUCCEEDED


def test_timeout_frees_the_lock_while_the_job_is_still_blocked(lock_redis):
    set_timeout("blocking_job", 0.01)
    thread, box = run_in_thread(job_id="blocking_job", trigger="api", params={"seconds": 4})
    # The watchdog finishes the row, then releases the key: wait for both (the timeout is 0.6 s).
    wait_for(lambda: JobRun.objects.filter(job_id="blocking_job", status=S.TIMED_OUT).exists()
             and not lock_redis.exists("job_lock:blocking_job"), timeout=5, message="the watchdog to time it out")
    assert thread.is_alive() and "run" not in box  # the job's thread is still asleep in its blocking call
    thread.join()
    assert box["run"].status == S.TIMED_OUT


def test_nothing_is_committed_after_the_timeout(lock_redis):
    set_timeout("writer_job", 0.01)
    run = services.job_run(job_id="writer_job", trigger="api", params={"seconds": 1.0, "marker": "late"})
    assert run.status == S.TIMED_OUT
    assert not Group.objects.filter(name="late").exists()
    set_timeout("writer_job", 1)
    ok = services.job_run(job_id="writer_job", trigger="api", params={"marker": "in-time"})
    assert ok.status == S.SUCCEEDED and Group.objects.filter(name="in-time").exists()


def test_a_run_taken_over_in_the_database_is_lost_and_its_writes_refused(lock_redis, fast_lease, caplog):
    """The database is the authority: once the key's row is no longer RUNNING (another holder took it over), the
    run's renewal marks it lost at once, its writes are refused, and its row keeps the status the take-over gave."""
    thread, box = run_in_thread(job_id="writer_job", trigger="api", params={"seconds": 1.5, "marker": "stale"})
    run = wait_for_status("writer_job", S.RUNNING)
    JobRun.objects.filter(pk=run.pk).update(status=S.ABANDONED)  # what a take-over does to the old row
    thread.join()
    assert box["run"].status == S.ABANDONED  # terminal is final: not overwritten by LOST_LOCK or SUCCEEDED
    assert not Group.objects.filter(name="stale").exists()
    assert not lock_redis.exists("job_lock:writer_job")  # it released its own key
    lost = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Lock lost for job: writer_job")]
    assert lost and f"run {run.pk}" in lost[0]
    assert f"(fencing token {run.fencing_token}; current fencing token: none)" in lost[0]  # both tokens named


def test_a_key_taken_in_redis_alone_does_not_stop_the_databases_holder(lock_redis, fast_lease):
    """A token in Redis that no RUNNING run stands behind (a trigger the database guard refuses, or a hand-set key)
    changes nothing for the real holder: it goes on, commits, and never deletes that key."""
    thread, box = run_in_thread(job_id="writer_job", trigger="api", params={"seconds": 1.5, "marker": "kept"})
    wait_for_status("writer_job", S.RUNNING)
    lock_redis.set("job_lock:writer_job", json.dumps({"token": "intruder"}), px=10_000)
    thread.join()
    assert box["run"].status == S.SUCCEEDED
    assert Group.objects.filter(name="kept").exists()
    assert json.loads(lock_redis.get("job_lock:writer_job"))["token"] == "intruder"


def test_late_finisher_never_deletes_the_newer_key(lock_redis, fast_lease):
    """The renewal is held off, the lease lapses, another holder takes the key: the first must not delete it."""
    locks.renewer.paused = True
    thread, box = run_in_thread(job_id="blocking_job", trigger="api", params={"seconds": 4})
    wait_for_status("blocking_job", S.RUNNING)
    wait_for(lambda: not lock_redis.exists("job_lock:blocking_job"), timeout=10, message="the lease (1 s) to lapse")
    fast_lease.LOCK_LEASE_SECONDS = 30  # the newer holder's lease outlives the paused renewal
    newer = locks.acquire("blocking_job", ttl_seconds=60)
    assert thread.is_alive()  # the first holder finishes after the newer one took the key: a late finisher
    thread.join()
    locks.renewer.paused = False
    assert json.loads(lock_redis.get("job_lock:blocking_job"))["token"] == newer.holder.token
    newer.release()


def test_a_late_finisher_cannot_turn_abandoned_into_succeeded(lock_redis, fast_lease):
    """A holder frozen past its lease is taken over by the next trigger (no reaper needed); when it wakes, its
    finish changes nothing and its writes are refused."""
    locks.renewer.paused = True  # no renewal and no heartbeat: as if the process were stopped
    thread, box = run_in_thread(job_id="writer_job", trigger="api", params={"seconds": 2.5, "marker": "late"})
    old = wait_for_status("writer_job", S.RUNNING)
    deadline = time.monotonic() + 10
    while True:
        newer = services.job_run(job_id="writer_job", trigger="api", params={"marker": "newer"})
        if newer.status == S.SUCCEEDED or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    locks.renewer.paused = False
    thread.join()
    assert newer.status == S.SUCCEEDED
    old.refresh_from_db()
    assert old.status == S.ABANDONED and "taken over by run" in old.error
    assert box["run"].status == S.ABANDONED
    assert Group.objects.filter(name="newer").exists() and not Group.objects.filter(name="late").exists()


def test_async_job_runs_and_times_out(lock_redis):
    assert services.job_run(job_id="async_job", trigger="cli", params={"seconds": 0}).status == S.SUCCEEDED
    set_timeout("async_job", 0.01)
    run = services.job_run(job_id="async_job", trigger="cli", params={"seconds": 5})
    assert run.status == S.TIMED_OUT
    assert not lock_redis.exists("job_lock:async_job")


def test_partial_result(lock_redis):
    run = services.job_run(job_id="partial_job", trigger="cli")
    assert run.status == S.PARTIAL and run.warnings == ["board x failed"]


def test_different_jobs_run_concurrently(lock_redis):
    """Seed guide Test 5."""
    first, box1 = run_in_thread(job_id="hold_job", trigger="api", params={"seconds": 0.6})
    second, box2 = run_in_thread(job_id="blocking_job", trigger="api", params={"seconds": 0.6})
    first.join()
    second.join()
    assert box1["run"].status == box2["run"].status == S.SUCCEEDED
    assert box1["run"].started_at < box2["run"].finished_at and box2["run"].started_at < box1["run"].finished_at


def test_team_scope_locks_per_team(lock_redis):
    one, two = Team.objects.create(name="one"), Team.objects.create(name="two")
    t1, box1 = run_in_thread(job_id="team_job", trigger="api", team=one, params={"seconds": 0.5})
    wait_for_status("team_job", S.RUNNING)
    other_team = services.job_run(job_id="team_job", trigger="api", team=two)
    same_team = services.job_run(job_id="team_job", trigger="api", team=one)
    t1.join()
    assert other_team.status == S.SUCCEEDED and other_team.lock_key == f"team_job:team:{two.pk}"
    assert same_team.status == S.SKIPPED
    assert box1["run"].lock_key == f"team_job:team:{one.pk}"


def test_seeding_never_overwrites_an_edit(lock_redis):
    services.job_definitions_sync()
    JobDefinition.objects.filter(job_id="scrape_jobs_task").update(timeout_minutes=42)
    services.job_definitions_sync()
    definition = JobDefinition.objects.get(job_id="scrape_jobs_task")
    assert definition.timeout_minutes == 42 and definition.name == "Job Scraping"
    assert JobDefinition.objects.get(job_id="cleanup_old_logs_task").timeout_minutes == 3


def test_bad_params_raise_before_any_run(lock_redis):
    from scheduler_app.registry import InvalidJobParams, JobNotFound

    with pytest.raises(InvalidJobParams):
        services.job_run(job_id="hold_job", trigger="cli", params={"nope": 1})
    with pytest.raises(InvalidJobParams):
        services.job_run(job_id="hold_job", trigger="cli", params={"seconds": "abc"})
    with pytest.raises(JobNotFound):
        services.job_run(job_id="no_such_job", trigger="cli")
    assert not JobRun.objects.exists()


def test_the_database_guard_refuses_a_second_running_run(lock_redis):
    """Even if the lock service admitted two holders, the database admits one RUNNING run per key."""
    thread, _ = run_in_thread(job_id="hold_job", trigger="api", params={"seconds": 0.8})
    holder = wait_for_status("hold_job", S.RUNNING)
    lock_redis.delete("job_lock:hold_job")  # e.g. lost in a Redis failover
    second = services.job_run(job_id="hold_job", trigger="api")
    thread.join()
    assert second.status == S.SKIPPED and second.blocked_by["holder"]["run_id"] == holder.pk


def test_background_run_takes_the_lock_before_returning(lock_redis):
    run = services.job_run(job_id="hold_job", trigger="admin", params={"seconds": 0.5}, background=True)
    assert run.status == S.RUNNING
    blocked = services.job_run(job_id="hold_job", trigger="admin", background=True)
    assert blocked.status == S.SKIPPED
    wait_for_status("hold_job", S.SUCCEEDED)


def test_redis_emptied_mid_run_does_not_refuse_a_live_holders_writes(lock_redis):
    """Redis restarted empty (or flushed): until renewal restores the key, the live run row vouches for us."""
    thread, box = run_in_thread(job_id="writer_job", trigger="api", params={"seconds": 0.3, "marker": "kept"})
    wait_for_status("writer_job", S.RUNNING)
    lock_redis.flushdb()
    thread.join()
    assert box["run"].status == S.SUCCEEDED
    assert Group.objects.filter(name="kept").exists()
