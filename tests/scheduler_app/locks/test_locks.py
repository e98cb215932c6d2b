"""The lock itself: exclusion, owner-only release, renewal, restore, loss, fencing, waiting (fakeredis + real)."""

from __future__ import annotations

import json
import threading
import time

import pytest

from scheduler_app import locks
from scheduler_app.locks import LockNotAcquired
from tests.waiting import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_acquire_sets_key_with_holder_and_lease_ttl(lock_redis, settings):
    settings.LOCK_LEASE_SECONDS = 30
    with locks.execution_lock("scrape_jobs_task", ttl_seconds=600, run_id=7) as lease:
        raw = lock_redis.get("job_lock:scrape_jobs_task")
        holder = json.loads(raw)
        assert holder["token"] == lease.holder.token
        assert holder["run_id"] == 7 and holder["pid"] > 0 and holder["host"]
        assert "fence" not in holder  # the fence is the run id, issued by the database
        ttl = lock_redis.ttl("job_lock:scrape_jobs_task")
        assert 28 <= ttl <= 30  # the lease, not the job's 600 s timeout
        assert lock_redis.keys("job_lock:*") == [b"job_lock:scrape_jobs_task"]  # helper keys don't match
    assert lock_redis.get("job_lock:scrape_jobs_task") is None


def test_second_acquire_refused_with_holder_and_ttl(lock_redis):
    with locks.execution_lock("job_a", ttl_seconds=60, run_id=1):
        with pytest.raises(LockNotAcquired) as refused:
            with locks.execution_lock("job_a", ttl_seconds=60, run_id=2):
                pass
        assert refused.value.holder.run_id == 1
        assert 0 < refused.value.ttl_seconds <= 30
        assert "already running" in str(refused.value)


def test_different_keys_do_not_interfere(lock_redis):
    with locks.execution_lock("job_a", ttl_seconds=60), locks.execution_lock("job_b", ttl_seconds=60):
        assert lock_redis.exists("job_lock:job_a", "job_lock:job_b") == 2


def test_release_is_owner_only(lock_redis):
    lease = locks.acquire("job_a", ttl_seconds=60)
    impostor = locks.Holder.new(run_id=None)
    assert locks.redis_backend().release("job_a", impostor) is False
    assert lock_redis.exists("job_lock:job_a")
    assert lease.release() is True
    assert not lock_redis.exists("job_lock:job_a")


def test_late_finisher_never_deletes_the_new_holders_lock(lock_redis, fast_lease):
    first = locks.acquire("job_a", ttl_seconds=60)
    locks.renewer.paused = True  # hold renewal off: the lease lapses while the job still "runs"
    wait_for(lambda: not lock_redis.exists("job_lock:job_a"), timeout=10, message="the unrenewed lease to lapse")
    locks.renewer.paused = False
    second = locks.acquire("job_a", ttl_seconds=60)
    assert first.release() is False  # the late finisher
    assert json.loads(lock_redis.get("job_lock:job_a"))["token"] == second.holder.token
    second.release()


def test_renewal_keeps_a_long_job_locked_with_a_short_lease(lock_redis, fast_lease):
    with locks.execution_lock("job_a", ttl_seconds=60) as lease:
        beyond = time.monotonic() + 2.5 * lease.lease_seconds
        # A renewal made after 2.5 leases (each one sets the next at renewal time + lease/3): the key lives on.
        wait_for(lambda: lease.next_renewal - lease.lease_seconds / 3 >= beyond, timeout=30,
                 message="a renewal 2.5 leases after the acquire")
        assert json.loads(lock_redis.get("job_lock:job_a"))["token"] == lease.holder.token
        assert 0 < lock_redis.pttl("job_lock:job_a") <= 1000


def test_renewal_stops_at_the_deadline_so_the_key_expires(lock_redis, fast_lease):
    fired = threading.Event()
    lease = locks.acquire("job_a", ttl_seconds=0.5)
    lease.on_deadline.append(lambda _lease: fired.set())
    assert fired.wait(10)
    wait_for(lambda: not lock_redis.exists("job_lock:job_a"), timeout=10,
             message="the key to expire once renewal stopped at the deadline")
    assert lease.deadline_fired and not lease.released
    lease.release()


def test_renewal_restores_a_key_lost_to_a_redis_restart(lock_redis, fast_lease):
    with locks.execution_lock("job_a", ttl_seconds=60) as lease:
        lock_redis.flushdb()  # what a restart of a Redis that keeps nothing on disk does
        raw = wait_for(lambda: lock_redis.get("job_lock:job_a"), timeout=10, message="renewal to set the key again")
        assert json.loads(raw)["token"] == lease.holder.token
        assert not lease.lost


def test_renewal_detects_a_lock_taken_by_another_holder(lock_redis, fast_lease):
    lost = threading.Event()
    lease = locks.acquire("job_a", ttl_seconds=60)
    lease.on_lost.append(lambda _lease: lost.set())
    lock_redis.set("job_lock:job_a", json.dumps({"token": "someone-else"}), px=5000)
    assert lost.wait(5)
    assert lease.lost
    assert lease.release() is False
    assert json.loads(lock_redis.get("job_lock:job_a"))["token"] == "someone-else"


def test_no_helper_key_is_left_in_redis(lock_redis):
    with locks.execution_lock("job_a", ttl_seconds=60):
        assert lock_redis.keys("*") == [b"job_lock:job_a"]  # no job_fence:* counter: the database issues fences
    assert lock_redis.keys("*") == []


def test_a_lease_nobody_confirms_for_a_whole_lease_stops_itself(fast_lease, fake_redis):
    """Redis unreachable and no database row to vouch for it: the holder marks itself lost within about a lease,
    before anyone else may take the key."""
    import redis as redis_py
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    lost = threading.Event()
    lease = locks.acquire("job_a", ttl_seconds=60)
    lease.on_lost.append(lambda _lease: lost.set())
    locks.use_redis_client(redis_py.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, socket_timeout=0.2,
                                          retry=Retry(NoBackoff(), 0)))
    lease.backend = locks.redis_backend()  # the holder's own connection now fails like an outage
    started = time.monotonic()
    assert lost.wait(5)
    assert 0.8 <= time.monotonic() - started <= 2.5  # lease - margin (0.1 s): before anyone may take over
    assert "could not renew" in lease.lost_reason
    lease.release()


def test_waiter_wakes_on_release_not_by_polling(lock_redis):
    lease = locks.acquire("job_a", ttl_seconds=60)
    got = {}

    def waiter():
        acquired = locks.acquire("job_a", ttl_seconds=60, wait_seconds=10)
        got["at"] = time.monotonic()
        got["lease"] = acquired

    thread = threading.Thread(target=waiter)
    thread.start()
    time.sleep(0.3)
    released_at = time.monotonic()
    lease.release()
    thread.join(5)
    assert got["at"] - released_at < 0.1  # woken by the release signal
    got["lease"].release()


def test_wait_gives_up_after_wait_seconds(lock_redis):
    with locks.execution_lock("job_a", ttl_seconds=60):
        started = time.monotonic()
        with pytest.raises(LockNotAcquired):
            locks.acquire("job_a", ttl_seconds=60, wait_seconds=0.4)
        assert 0.35 <= time.monotonic() - started < 2


def test_waiter_takes_over_when_a_dead_holders_lease_expires(lock_redis, fast_lease):
    lock_redis.set("job_lock:job_a", json.dumps({"token": "dead"}), px=600)  # a holder that died
    started = time.monotonic()
    with locks.execution_lock("job_a", ttl_seconds=60, wait_seconds=5):
        assert time.monotonic() - started < 1.5


def test_renewal_thread_survives_failures_and_is_restarted(lock_redis, fast_lease, monkeypatch):
    calls = {"n": 0}
    original = locks.redis_backend().extend

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise ValueError("boom")
        return original(*args, **kwargs)

    monkeypatch.setattr(locks.redis_backend(), "extend", flaky)
    with locks.execution_lock("job_a", ttl_seconds=60) as lease:
        wait_for(lambda: calls["n"] >= 2, timeout=15, message="a renewal after the failing one")
        assert not lease.lost
        assert lock_redis.exists("job_lock:job_a")


def test_scripts_reload_after_a_script_flush(lock_redis):
    """A restarted Redis has no scripts: EVALSHA's NOSCRIPT loads them again, transparently."""
    lock_redis.script_flush()
    with locks.execution_lock("job_a", ttl_seconds=60) as lease:
        assert lock_redis.exists("job_lock:job_a")
        lock_redis.script_flush()
    assert not lock_redis.exists("job_lock:job_a") and not lease.lost


def test_holder_as_dict_has_every_field():
    from dataclasses import asdict

    from scheduler_app.locks.base import Holder

    holder = Holder(token="t", run_id=7, host="h", pid=3, acquired_at=1.5)
    assert holder.as_dict() == asdict(holder)
