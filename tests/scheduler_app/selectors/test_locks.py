"""lock_states: every held lock with its stale and stuck flags; lock_service_ping."""

from __future__ import annotations

import time

import pytest
from django.utils import timezone

from scheduler_app import locks
from scheduler_app.locks import KEY_PREFIX, Holder
from scheduler_app.models import JobRun
from scheduler_app.selectors import lock_service_ping, lock_state_dicts, lock_states


def _run(job_id: str, status: str, lock_key: str | None = None) -> JobRun:
    now = timezone.now()
    return JobRun.objects.create(job_id=job_id, lock_key=lock_key or job_id, trigger="api", status=status,
                                 started_at=now, heartbeat_at=now)


def _by_key(states) -> dict:
    return {state.key: state for state in states}


@pytest.fixture
def held(db, lock_redis):
    """Acquired leases, released at the end."""
    leases = []

    def acquire(key: str, run: JobRun | None, ttl_seconds: float = 60):
        lease = locks.acquire(key, ttl_seconds=ttl_seconds, run_id=run.pk if run else None)
        leases.append(lease)
        return lease

    yield acquire
    for lease in leases:
        lease.release()


def test_no_locks_no_states(db, lock_redis):
    assert lock_states() == []
    assert lock_state_dicts() == []


def test_a_live_holders_lock_is_neither_stale_nor_stuck(held):
    run = _run("hold_job", "RUNNING")
    held("hold_job", run)
    [state] = lock_states()
    assert state.key == "hold_job" and state.backend == "redis"
    assert state.extra["run_status"] == "RUNNING"
    assert state.extra["stale"] is False and state.extra["stale_reason"] == ""
    assert state.extra["stuck"] is False
    assert 0 <= state.extra["held_seconds"] < 60


def test_a_queued_holder_is_not_stale(held):
    held("hold_job", _run("hold_job", "QUEUED"))
    assert lock_states()[0].extra["stale"] is False


@pytest.mark.parametrize("status", ["SUCCEEDED", "FAILED", "ABANDONED", "TIMED_OUT"])
def test_a_finished_or_abandoned_holders_lock_is_stale_and_stuck(held, status):
    held("quick_job", _run("quick_job", status))
    [state] = lock_states()
    assert state.extra["run_status"] == status
    assert state.extra["stale"] is True
    assert state.extra["stale_reason"] == f"holder's run is {status}"
    assert state.extra["stuck"] is True


def test_a_lock_without_a_ttl_is_stale(db, lock_redis):
    run = _run("hold_job", "RUNNING")
    lock_redis.set(KEY_PREFIX + "hold_job", Holder.new(run_id=run.pk).value())  # no TTL: set by hand
    [state] = lock_states()
    assert state.ttl_seconds is None
    assert state.extra["stale"] is True and state.extra["stale_reason"] == "no TTL"
    assert state.extra["stuck"] is True


def test_a_lock_held_past_timeout_plus_lease_is_stuck_but_not_stale(db, lock_redis, settings):
    settings.LOCK_LEASE_SECONDS = 30
    run = _run("quick_job", "RUNNING")  # quick_job's timeout: 1 minute
    holder = Holder.new(run_id=run.pk)
    holder.acquired_at = time.time() - (60 + 30 + 5)
    lock_redis.set(KEY_PREFIX + "quick_job", holder.value(), ex=60)
    [state] = lock_states()
    assert state.extra["stale"] is False
    assert state.extra["stuck"] is True
    assert state.extra["held_seconds"] >= 95


def test_a_lock_held_within_timeout_plus_lease_is_not_stuck(db, lock_redis, settings):
    settings.LOCK_LEASE_SECONDS = 30
    run = _run("quick_job", "RUNNING")
    holder = Holder.new(run_id=run.pk)
    holder.acquired_at = time.time() - 80  # under 60 + 30 s
    lock_redis.set(KEY_PREFIX + "quick_job", holder.value(), ex=60)
    assert lock_states()[0].extra["stuck"] is False


def test_a_holder_of_unknown_identity(db, lock_redis):
    lock_redis.set(KEY_PREFIX + "quick_job", "set by hand", ex=60)
    [state] = lock_states()
    assert state.extra["run_status"] is None
    assert state.extra["held_seconds"] is None
    assert state.extra["stale"] is False and state.extra["stuck"] is False


def test_stale_and_live_side_by_side(lock_redis, stale_and_live_locks):
    states = _by_key(lock_states())
    assert states["quick_job"].extra["stale"] is True
    assert states["hold_job"].extra["stale"] is False
    dicts = {d["key"]: d for d in lock_state_dicts()}
    assert dicts["quick_job"]["redis_key"] == "job_lock:quick_job"
    assert dicts["quick_job"]["stale"] is True and dicts["hold_job"]["stale"] is False
    assert dicts["hold_job"]["holder"]["run_id"] == states["hold_job"].holder.run_id


def test_database_leases_with_redis_down(db, dead_redis):
    run = _run("hold_job", "RUNNING")
    lease = locks.acquire("hold_job", ttl_seconds=60, run_id=run.pk)  # falls back to the database lease
    try:
        assert lease.backend.name == "database"
        [state] = lock_states()
        assert state.backend == "database" and state.extra["stale"] is False
        [only_db] = lock_states(include_redis=False)
        assert only_db.key == "hold_job"
    finally:
        lease.release()


def test_include_redis_false_lists_database_leases_only(held, lock_redis):
    held("hold_job", _run("hold_job", "RUNNING"))
    assert lock_states(include_redis=False) == []
    assert [state.key for state in lock_states()] == ["hold_job"]


def test_lock_service_ping(fake_redis):
    assert lock_service_ping() is True


def test_lock_service_ping_with_redis_down_answers_false_in_time(dead_redis):
    started = time.monotonic()
    assert lock_service_ping(timeout=1.0) is False
    assert time.monotonic() - started < 5


def test_lock_service_ping_gives_up_at_its_timeout(monkeypatch):
    import threading

    release = threading.Event()
    monkeypatch.setattr(locks, "redis_available", lambda: release.wait(10))
    started = time.monotonic()
    try:
        assert lock_service_ping(timeout=0.2) is False
        assert time.monotonic() - started < 5
    finally:
        release.set()


def test_lock_service_ping_treats_an_error_as_down(monkeypatch):
    def boom():
        raise RuntimeError("unexpected")

    monkeypatch.setattr(locks, "redis_available", boom)
    assert lock_service_ping() is False
