"""scheduler_app.runs: the run records. Create (and the one-row-per-slot guard), start under the database guard
(taking over a dead holder, refusing a live one, a fencing token that only grows), finish as a compare-and-set
from RUNNING, skip, reaping dead runs, and RunNotRecorded when the database cannot take a write."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import DatabaseError
from django.utils import timezone

from scheduler_app import locks, runs
from scheduler_app.models import JobRun
from scheduler_app.runs import RunNotRecorded

pytestmark = pytest.mark.django_db(transaction=True)
S = JobRun.Status


def create(job_id: str = "quick_job", **kwargs) -> JobRun:
    kwargs.setdefault("lock_key", job_id)
    kwargs.setdefault("trigger", "api")
    kwargs.setdefault("timeout_seconds", 60)
    return runs.run_create(job_id=job_id, **kwargs)


def start(run: JobRun) -> tuple[JobRun | None, locks.Lease]:
    lease = locks.acquire(run.lock_key, ttl_seconds=60, run_id=run.pk)
    return runs.run_start(run, lease), lease


def a_running_row(*, heartbeat_age: float, key: str = "quick_job") -> JobRun:
    beat = timezone.now() - timedelta(seconds=heartbeat_age)
    return JobRun.objects.create(job_id=key, lock_key=key, trigger="api", status=S.RUNNING, started_at=beat,
                                 heartbeat_at=beat, host="elsewhere", pid=4242)


# -- run_create ------------------------------------------------------------------------------------------------------

def test_create_records_a_queued_row():
    run = create(params={"seconds": 1.5, "when": timezone.now()}, timeout_seconds=90)
    stored = JobRun.objects.get(pk=run.pk)
    assert stored.status == S.QUEUED and stored.trigger == "api" and stored.lock_key == "quick_job"
    assert stored.timeout_seconds == 90 and stored.started_at is None and stored.fencing_token is None
    assert stored.params["seconds"] == 1.5 and isinstance(stored.params["when"], str)  # stored as JSON


def test_a_second_row_for_the_same_slot_is_recorded_skipped_duplicate_slot():
    slot = timezone.now().replace(microsecond=0)
    first = create(trigger="scheduled", scheduled_for=slot)
    second = create(trigger="scheduled", scheduled_for=slot)
    assert first.status == S.QUEUED
    assert second.pk != first.pk and second.status == S.SKIPPED
    assert second.skip_reason == "duplicate_slot" and second.finished_at is not None
    assert "another scheduler fired it" in second.error
    assert JobRun.objects.filter(scheduled_for=slot).count() == 2  # every trigger leaves a row
    assert create(trigger="scheduled", scheduled_for=slot + timedelta(seconds=1)).status == S.QUEUED


def test_a_fail_fast_run_is_written_queued_at_trigger_time(fake_redis):
    """The row exists before the lock is asked for, so a crash between the two still leaves a trace."""
    run = create()
    assert JobRun.objects.get(pk=run.pk).status == S.QUEUED


# -- run_start -------------------------------------------------------------------------------------------------------

def test_start_marks_running_with_the_holder_and_a_fencing_token(fake_redis):
    run = create()
    blocker, lease = start(run)
    assert blocker is None
    stored = JobRun.objects.get(pk=run.pk)
    assert stored.status == S.RUNNING and stored.started_at and stored.heartbeat_at
    assert stored.lock_token == lease.holder.token and stored.pid == lease.holder.pid
    assert stored.host == lease.holder.host and stored.lock_backend == "redis"
    assert stored.fencing_token == run.fencing_token and run.fencing_token > run.pk
    assert runs.run_fence_current(lock_key="quick_job") == run.fencing_token
    assert runs.run_fence_confirm(run_id=run.pk) is True
    lease.release()


def test_fencing_tokens_only_grow(fake_redis):
    tokens = []

    def one_holder() -> None:
        run = create()
        blocker, lease = start(run)
        assert blocker is None
        tokens.append(run.fencing_token)
        assert runs.run_finish(run, status=S.SUCCEEDED)
        lease.release()

    for _ in range(3):
        one_holder()
    JobRun.objects.all().delete()  # history deleted: a token is still never issued twice
    one_holder()
    assert tokens == sorted(tokens) and len(set(tokens)) == len(tokens)


def test_start_refuses_while_a_live_run_of_the_key_is_running(fake_redis):
    live = a_running_row(heartbeat_age=0)
    run = create()
    blocker, lease = start(run)
    lease.release()
    assert blocker is not None and blocker.pk == live.pk
    assert JobRun.objects.get(pk=run.pk).status == S.QUEUED  # not started
    assert JobRun.objects.get(pk=live.pk).status == S.RUNNING  # untouched


def test_start_takes_over_a_dead_running_run_as_abandoned(fake_redis, fast_lease):
    dead = a_running_row(heartbeat_age=10)  # heartbeat older than the 1 s lease
    run = create()
    blocker, lease = start(run)
    assert blocker is None
    dead.refresh_from_db()
    assert dead.status == S.ABANDONED and dead.finished_at is not None
    assert f"taken over by run {run.pk}" in dead.error
    assert JobRun.objects.get(pk=run.pk).status == S.RUNNING
    assert run.fencing_token > dead.pk
    lease.release()


def test_other_keys_do_not_block_a_start(fake_redis):
    a_running_row(heartbeat_age=0, key="hold_job")
    run = create()
    blocker, lease = start(run)
    assert blocker is None
    lease.release()


# -- run_finish ------------------------------------------------------------------------------------------------------

def test_finish_sets_the_final_status_from_running(fake_redis):
    run = create()
    _, lease = start(run)
    assert runs.run_finish(run, status=S.PARTIAL, result={"n": 1}, warnings=["board x failed"], error="e" * 20000)
    lease.release()
    stored = JobRun.objects.get(pk=run.pk)
    assert stored.status == S.PARTIAL and stored.result == {"n": 1} and stored.warnings == ["board x failed"]
    assert stored.finished_at and stored.duration_ms >= 0 and len(stored.error) == 10000


@pytest.mark.parametrize("terminal", [S.SUCCEEDED, S.FAILED, S.ABANDONED, S.CANCELLED, S.SKIPPED, S.LOST_LOCK])
def test_a_terminal_status_never_changes(terminal):
    run = JobRun.objects.create(job_id="quick_job", lock_key="quick_job", trigger="api", status=S.RUNNING,
                                started_at=timezone.now())
    JobRun.objects.filter(pk=run.pk).update(status=terminal, error="first")  # someone else ended it
    assert runs.run_finish(run, status=S.SUCCEEDED, result={"late": True}) is False
    assert run.status == terminal and run.error == "first" and run.result is None  # refreshed, not overwritten
    assert JobRun.objects.get(pk=run.pk).status == terminal


def test_a_second_finish_changes_nothing(fake_redis):
    run = create()
    _, lease = start(run)
    assert runs.run_finish(run, status=S.TIMED_OUT, error="Job exceeded timeout of 1 minutes")
    assert runs.run_finish(run, status=S.SUCCEEDED) is False
    lease.release()
    assert run.status == S.TIMED_OUT and JobRun.objects.get(pk=run.pk).status == S.TIMED_OUT


# -- run_skip --------------------------------------------------------------------------------------------------------

def test_skip_records_why_the_trigger_did_not_start():
    run = create()
    blocked_by = {"holder": {"run_id": 3}, "refused_by": "lock"}
    runs.run_skip(run, reason="lock_held", blocked_by=blocked_by, error="Job is already running")
    stored = JobRun.objects.get(pk=run.pk)
    assert stored.status == S.SKIPPED and stored.skip_reason == "lock_held" and stored.blocked_by == blocked_by
    assert stored.error == "Job is already running" and stored.finished_at and stored.duration_ms == 0


def test_skip_never_overwrites_a_run_that_left_queued():
    run = create()
    JobRun.objects.filter(pk=run.pk).update(status=S.SUCCEEDED)
    runs.run_skip(run, reason="lock_held", blocked_by=None)
    assert JobRun.objects.get(pk=run.pk).status == S.SUCCEEDED


# -- runs_reap_abandoned ---------------------------------------------------------------------------------------------

def test_reaper_abandons_dead_runs_only(fake_redis, fast_lease):
    dead = a_running_row(heartbeat_age=10)
    live = a_running_row(heartbeat_age=0, key="hold_job")
    assert runs.runs_reap_abandoned() == 1
    dead.refresh_from_db()
    assert dead.status == S.ABANDONED and "stopped heartbeating" in dead.error
    assert JobRun.objects.get(pk=live.pk).status == S.RUNNING
    assert runs.runs_reap_abandoned() == 0


def test_reaper_spares_a_silent_run_whose_key_is_still_renewed(fake_redis, fast_lease):
    """Its database heartbeat fails, but its Redis key still names it: alive."""
    silent = a_running_row(heartbeat_age=10)
    lease = locks.acquire("quick_job", ttl_seconds=60, run_id=silent.pk)
    try:
        assert runs.runs_reap_abandoned() == 0
        assert JobRun.objects.get(pk=silent.pk).status == S.RUNNING
    finally:
        lease.release()
    assert runs.runs_reap_abandoned() == 1


def test_reaper_filters_by_lock_key(fake_redis, fast_lease):
    a_running_row(heartbeat_age=10)
    other = a_running_row(heartbeat_age=10, key="hold_job")
    assert runs.runs_reap_abandoned(lock_key="hold_job") == 1
    assert JobRun.objects.get(pk=other.pk).status == S.ABANDONED
    assert JobRun.objects.filter(lock_key="quick_job", status=S.RUNNING).count() == 1


def test_reaper_abandons_queued_rows_whose_trigger_died_waiting(fake_redis, fast_lease):
    old = create()
    fresh = create()
    JobRun.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - timedelta(seconds=runs.MAX_QUEUED_SECONDS + 10))
    runs.runs_reap_abandoned()
    old.refresh_from_db()
    assert old.status == S.ABANDONED and old.error.startswith("Never started")
    assert JobRun.objects.get(pk=fresh.pk).status == S.QUEUED


# -- runs_confirm (the renewal's heartbeat) ---------------------------------------------------------------------------

def test_confirm_writes_heartbeats_and_tells_which_runs_are_still_running():
    running = a_running_row(heartbeat_age=10)
    ended = a_running_row(heartbeat_age=10, key="hold_job")
    JobRun.objects.filter(pk=ended.pk).update(status=S.ABANDONED)
    before = JobRun.objects.get(pk=running.pk).heartbeat_at
    assert runs.runs_confirm([running.pk, ended.pk]) == {running.pk: True, ended.pk: False}
    assert JobRun.objects.get(pk=running.pk).heartbeat_at > before


# -- RunNotRecorded --------------------------------------------------------------------------------------------------

def test_run_not_recorded_names_the_run_and_the_first_line_of_the_cause():
    error = RunNotRecorded("quick_job", 12, DatabaseError("database is locked\nDETAIL: more"))
    assert str(error) == "Run 12 of job quick_job not recorded: database unavailable (database is locked)"
    assert error.job_id == "quick_job"
    unnamed = RunNotRecorded("quick_job", None, DatabaseError(""), what="no lock service answers")
    assert str(unnamed) == "Run of job quick_job not recorded: no lock service answers (DatabaseError)"


def test_a_create_the_database_refuses_raises_run_not_recorded(monkeypatch):
    def refuse(**_fields):
        raise DatabaseError("connection refused\nIs the server running?")

    monkeypatch.setattr(JobRun.objects, "create", refuse)
    with pytest.raises(RunNotRecorded) as failed:
        create()
    assert "Run of job quick_job not recorded: database unavailable (connection refused)" == str(failed.value)
    assert isinstance(failed.value.__cause__, DatabaseError)


def test_a_skip_the_database_refuses_raises_run_not_recorded(monkeypatch):
    run = create()

    def refuse(*_args, **_kwargs):
        raise DatabaseError("disk I/O error")

    monkeypatch.setattr(JobRun.objects, "filter", refuse)
    with pytest.raises(RunNotRecorded, match=f"Run {run.pk} of job quick_job not recorded"):
        runs.run_skip(run, reason="lock_held", blocked_by=None)
