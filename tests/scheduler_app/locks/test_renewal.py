"""The renewal thread never sets a key again for a lease that was released, nor acts on a stale database answer.

A process paused (SIGSTOP, a stalled host) between its renewal's database check and its Redis extend wakes up to a
key that expired meanwhile. If its run then ends and releases, the renewal in flight must not recreate the key
afterwards: a finished holder's key would refuse every new trigger for a lease.
"""

from __future__ import annotations

import threading
import time

import pytest

from scheduler_app import locks
from scheduler_app.locks.base import RenewResult
from scheduler_app.locks.renewal import LeaseRenewer

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def quiet_renewer():
    """The process's own renewal thread stands aside; the test drives a renewer of its own, tick by tick."""
    locks.renewer.paused = True
    yield LeaseRenewer()
    locks.renewer.paused = False


def _due(renewer: LeaseRenewer, lease) -> None:
    renewer._leases[id(lease)] = lease
    lease.next_renewal = 0.0


def test_a_release_during_an_extend_in_flight_deletes_the_key_it_set_again(real_redis, quiet_renewer,
                                                                             monkeypatch):
    lease = locks.acquire("quick_job", ttl_seconds=60, run_id=None)
    extend = lease.backend.extend
    entered, go = threading.Event(), threading.Event()

    def slow_extend(*args, **kwargs):
        entered.set()
        assert go.wait(30)
        return extend(*args, **kwargs)

    monkeypatch.setattr(lease.backend, "extend", slow_extend)
    _due(quiet_renewer, lease)
    renewal = threading.Thread(target=quiet_renewer.tick)
    renewal.start()
    assert entered.wait(30)
    real_redis.delete("job_lock:quick_job")  # the key expired while the process stood still
    released = threading.Event()
    releaser = threading.Thread(target=lambda: (lease.release(), released.set()))
    releaser.start()
    assert not released.wait(0.2)  # the release waits for the extend in flight
    go.set()
    renewal.join(30)
    releaser.join(30)
    assert released.is_set()
    assert not real_redis.exists("job_lock:quick_job")  # set again by the extend, then deleted by the release


def test_no_extend_after_a_release(real_redis, quiet_renewer, monkeypatch):
    lease = locks.acquire("quick_job", ttl_seconds=60, run_id=None)
    calls = []
    monkeypatch.setattr(lease.backend, "extend", lambda *args, **kwargs: calls.append(args) or RenewResult.RESTORED)
    _due(quiet_renewer, lease)
    lease.release()
    quiet_renewer._renew(lease, None, time.monotonic(), time.monotonic())
    assert calls == [] and not real_redis.exists("job_lock:quick_job")


def test_a_stale_database_answer_is_asked_again_before_any_extend(real_redis, quiet_renewer, monkeypatch):
    lease = locks.acquire("quick_job", ttl_seconds=60, run_id=None)
    calls = []
    monkeypatch.setattr(lease.backend, "extend", lambda *args, **kwargs: calls.append(args) or RenewResult.RENEWED)
    answered = time.monotonic() - lease.lease_seconds  # the thread stood still for a lease after the answer
    quiet_renewer._renew(lease, {}, answered, answered)
    assert calls == [] and not lease.lost
    assert lease.next_renewal <= time.monotonic()  # due again at once, for a fresh answer
    quiet_renewer._renew(lease, {}, time.monotonic(), time.monotonic())
    assert len(calls) == 1
    lease.release()
