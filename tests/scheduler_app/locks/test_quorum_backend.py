"""The quorum (Redlock) backend: fast unit tests on three fakeredis servers, then real independent redis-servers
(one killed, two killed, one restarted empty)."""

from __future__ import annotations

import itertools
import os
import threading

import fakeredis
import pytest
import redis

from logs_app.ops.checks import RedisCheck
from scheduler_app import locks
from scheduler_app.locks import BackendUnavailable, Holder, LockServiceUnavailable, RenewResult, topology
from scheduler_app.locks.factory import redis_backend_build
from scheduler_app.locks.quorum_backend import QuorumLockBackend
from tests.conftest import NO_RETRY
from tests.conftest import _real_client as real_client
from tests.waiting import wait_for

KEY = "quorum_job"
RKEY = f"job_lock:{KEY}"


def dead_client(password: str | None = None) -> redis.Redis:
    """A master that is down: a client on a closed port (as conftest's dead_redis)."""
    return redis.Redis(host="127.0.0.1", port=1, password=password, socket_connect_timeout=0.2, socket_timeout=0.2,
                       retry=NO_RETRY)


@pytest.fixture
def fakes() -> list[fakeredis.FakeRedis]:
    return [fakeredis.FakeRedis(server=fakeredis.FakeServer()) for _ in range(3)]


def backend_on(clients, **kwargs) -> QuorumLockBackend:
    return QuorumLockBackend(list(clients), **kwargs)


def tokens(clients) -> list[str | None]:
    """The token each master holds for KEY (None: no key)."""
    return [(h.token if (h := Holder.parse(c.get(RKEY))) else None) for c in clients]


class SteppingClock:
    """A monotonic clock that moves `step` seconds per reading: every master looks `step` s slow."""

    def __init__(self, step: float) -> None:
        self.ticks = itertools.count()
        self.step = step

    def __call__(self) -> float:
        return next(self.ticks) * self.step


# --- acquire ---------------------------------------------------------------------------------------------------------

def test_acquire_takes_every_master_and_names_the_holder(fakes):
    backend = backend_on(fakes)
    holder = Holder.new(run_id=7)
    assert backend.acquire(KEY, holder, 30) == (True, holder, None)
    assert tokens(fakes) == [holder.token] * 3
    assert all(0 < c.pttl(RKEY) <= 30_000 for c in fakes)
    assert backend.quorum == 2


def test_a_master_that_forgot_the_scripts_loads_them_again(fakes):
    backend = backend_on(fakes)
    holder = Holder.new(run_id=1)
    assert backend.acquire(KEY, holder, 30)[0]
    fakes[1].script_flush()  # as after a restart
    assert backend.extend(KEY, holder, 30) == RenewResult.RENEWED
    assert backend.release(KEY, holder) is True
    assert tokens(fakes) == [None, None, None]


def test_refusal_names_the_holder_and_leaves_nothing_of_ours(fakes):
    backend = backend_on(fakes)
    first, second = Holder.new(run_id=1), Holder.new(run_id=2)
    assert backend.acquire(KEY, first, 30)[0]
    ok, current, ttl = backend.acquire(KEY, second, 30)
    assert not ok
    assert current.token == first.token and current.run_id == 1
    assert 0 < ttl <= 30
    assert tokens(fakes) == [first.token] * 3


def test_a_minority_copy_of_ours_is_undone_when_another_holds_the_majority(fakes):
    other = Holder.new(run_id=1)
    for c in fakes[1:]:
        c.set(RKEY, other.value(), px=20_000)
    backend = backend_on(fakes)
    mine = Holder.new(run_id=2)
    ok, current, ttl = backend.acquire(KEY, mine, 30)
    assert not ok and current.token == other.token and 0 < ttl <= 20
    assert tokens(fakes) == [None, other.token, other.token]  # master 0 took ours, and gave it back


def test_a_split_vote_refuses_with_the_holder_seen_most(fakes):
    a, b = Holder.new(run_id=1), Holder.new(run_id=2)
    fakes[0].set(RKEY, a.value(), px=20_000)
    fakes[1].set(RKEY, b.value(), px=20_000)
    dead = dead_client()
    backend = backend_on([fakes[0], fakes[1], dead])
    ok, current, _ttl = backend.acquire(KEY, Holder.new(run_id=3), 30)
    assert not ok and current.token in (a.token, b.token)
    assert tokens(fakes[:2]) == [a.token, b.token]


def test_an_acquisition_slower_than_the_lease_is_not_held_and_leaves_nothing(fakes):
    # Each reading of the clock is 1.2 s later: the masters answered, but 1.2 s went by for a 1 s lease.
    backend = backend_on(fakes, clock=SteppingClock(1.2))
    with pytest.raises(BackendUnavailable, match="longer than its validity"):
        backend.acquire(KEY, Holder.new(run_id=1), 1.0)
    assert tokens(fakes) == [None, None, None]


def test_the_drift_allowance_counts(fakes):
    # elapsed 0.99 s of a 1 s lease: 10 ms left, but the drift allowance is 1 s * 0.01 + 2 ms = 12 ms.
    backend = backend_on(fakes, clock=SteppingClock(0.99))
    with pytest.raises(BackendUnavailable):
        backend.acquire(KEY, Holder.new(run_id=1), 1.0)
    assert tokens(fakes) == [None, None, None]
    # With no drift factor, 2 ms remains the floor: 8 ms of validity are left and the lock is held.
    backend = backend_on(fakes, clock=SteppingClock(0.99), drift_factor=0.0)
    assert backend.acquire(KEY, Holder.new(run_id=1), 1.0)[0]


# --- release ---------------------------------------------------------------------------------------------------------

def test_a_late_finisher_deletes_nothing_of_a_newer_holder(fakes):
    backend = backend_on(fakes)
    old, new = Holder.new(run_id=1), Holder.new(run_id=2)
    assert backend.acquire(KEY, old, 30)[0]
    for c in fakes:
        c.delete(RKEY)  # the old holder's lease lapsed everywhere
    assert backend.acquire(KEY, new, 30)[0]
    assert backend.release(KEY, old) is False
    assert tokens(fakes) == [new.token] * 3
    assert backend.release(KEY, new) is True
    assert tokens(fakes) == [None, None, None]


def test_release_reaches_the_masters_that_answer(fakes):
    backend = backend_on([*fakes[:2], dead_client()])
    holder = Holder.new(run_id=1)
    assert backend.acquire(KEY, holder, 30)[0]
    assert backend.release(KEY, holder) is True
    assert tokens(fakes[:2]) == [None, None]
    with pytest.raises(BackendUnavailable):
        backend_on([dead_client(), dead_client(), dead_client()]).release(KEY, holder)


def test_force_release_and_release_if_unchanged_act_on_every_master(fakes):
    backend = backend_on(fakes)
    holder = Holder.new(run_id=1)
    assert backend.acquire(KEY, holder, 30)[0]
    state = backend.inspect(KEY)
    fakes[2].set(RKEY, Holder.new(run_id=2).value(), px=30_000)  # a newer holder on one master
    assert backend.release_if_unchanged(state) is True
    assert tokens(fakes)[:2] == [None, None] and tokens(fakes)[2] is not None  # the newer copy stays
    assert backend.force_release(KEY) is True
    assert tokens(fakes) == [None, None, None]
    assert backend.force_release(KEY) is False


# --- extend (renewal) ------------------------------------------------------------------------------------------------

def test_renewal_keeps_a_majority_and_restores_an_emptied_master(fakes):
    backend = backend_on(fakes)
    holder = Holder.new(run_id=1)
    assert backend.acquire(KEY, holder, 30)[0]
    assert backend.extend(KEY, holder, 30) == RenewResult.RENEWED
    fakes[1].flushall()  # restarted empty
    assert backend.extend(KEY, holder, 30) == RenewResult.RESTORED
    assert tokens(fakes) == [holder.token] * 3


def test_renewal_reports_another_holder_of_the_majority(fakes):
    backend = backend_on(fakes)
    mine, other = Holder.new(run_id=1), Holder.new(run_id=2)
    assert backend.acquire(KEY, mine, 30)[0]
    for c in fakes[:2]:
        c.set(RKEY, other.value(), px=30_000)
    assert backend.extend(KEY, mine, 30) == RenewResult.HELD_BY_OTHER
    assert tokens(fakes) == [other.token, other.token, mine.token]  # never overwrites the other's copies


def test_renewal_without_a_majority_answering_is_unavailable(fakes):
    backend = backend_on([fakes[0], dead_client(), dead_client()])
    holder = Holder.new(run_id=1)
    with pytest.raises(BackendUnavailable):
        backend.extend(KEY, holder, 30)


def test_renewal_slower_than_the_lease_does_not_count(fakes):
    holder = Holder.new(run_id=1)
    assert backend_on(fakes).acquire(KEY, holder, 1.0)[0]
    with pytest.raises(BackendUnavailable, match="longer than its validity"):
        backend_on(fakes, clock=SteppingClock(1.2)).extend(KEY, holder, 1.0)


# --- reads -----------------------------------------------------------------------------------------------------------

def test_inspect_and_list_report_the_holder_seen_most_with_its_smallest_ttl(fakes):
    backend = backend_on([*fakes, dead_client()])  # 4 masters, quorum 3, one down
    assert backend.quorum == 3
    holder, stray = Holder.new(run_id=1), Holder.new(run_id=9)
    assert backend.acquire(KEY, holder, 30)[0]
    fakes[0].pexpire(RKEY, 5_000)
    fakes[2].set(RKEY, stray.value(), px=60_000)
    state = backend.inspect(KEY)
    assert state.holder.token == holder.token and state.backend == "quorum"
    assert 0 < state.ttl_seconds <= 5
    urls = [m.url for m in backend.masters]
    assert state.extra["masters"] == {urls[0]: True, urls[1]: True, urls[2]: False, urls[3]: None}
    fakes[1].set("job_lock:other_job", stray.value(), px=60_000)
    listed = {s.key: s for s in backend.list()}
    assert set(listed) == {KEY, "other_job"}
    assert listed["other_job"].holder.token == stray.token
    assert backend.inspect("nobody") is None


def test_reads_need_a_majority(fakes):
    backend = backend_on([fakes[0], dead_client(), dead_client()])
    for read in (lambda: backend.inspect(KEY), backend.list, backend.ping):
        with pytest.raises(BackendUnavailable, match="1 of 3 Redis masters answered, 2 needed"):
            read()


def test_masters_status_names_each_master_without_its_password(fakes):
    backend = backend_on([*fakes[:2], dead_client(password="s3cret")])
    status = backend.masters_status()
    assert [s["ok"] for s in status] == [True, True, False]
    assert status[2]["url"] == "redis://127.0.0.1:1/0" and status[2]["error"]
    assert "s3cret" not in repr(status)
    assert backend.ping() is True


# --- one master down, two down ---------------------------------------------------------------------------------------

def test_one_master_down_changes_nothing(fakes):
    backend = backend_on([fakes[0], dead_client(), fakes[2]])
    holder, other = Holder.new(run_id=1), Holder.new(run_id=2)
    assert backend.acquire(KEY, holder, 30) == (True, holder, None)
    ok, current, _ = backend.acquire(KEY, other, 30)
    assert not ok and current.token == holder.token
    assert backend.extend(KEY, holder, 30) == RenewResult.RENEWED
    assert backend.inspect(KEY).holder.token == holder.token
    assert backend.ping() is True
    assert backend.release(KEY, holder) is True
    assert tokens([fakes[0], fakes[2]]) == [None, None]


def test_two_masters_down_is_unavailable_and_leaves_nothing(fakes):
    backend = backend_on([fakes[0], dead_client(), dead_client()])
    with pytest.raises(BackendUnavailable, match="1 of 3 Redis masters answered"):
        backend.acquire(KEY, Holder.new(run_id=1), 30)
    assert tokens(fakes[:1]) == [None]


# --- wake-ups --------------------------------------------------------------------------------------------------------

def _fd_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def test_a_release_on_any_master_wakes_the_waiter(fakes):
    backend = backend_on([dead_client(), *fakes[1:]], blocking_chunk_seconds=60)
    holder = Holder.new(run_id=1)
    assert backend.acquire(KEY, holder, 30)[0]
    listener = backend.release_listener(KEY)
    assert len(listener.pubsubs) == 2  # the dead master is skipped
    # fakeredis's sockets report a made-up fileno (8); with that descriptor open, as in a full test run, a select()
    # on it would wait on some unrelated file for the whole chunk
    fake_fd = listener.pubsubs[0].connection._sock.fileno()
    spare = []  # pipes, never readable, fill the lowest free descriptors until the made-up one is open
    while not _fd_open(fake_fd) and len(spare) < 64:
        spare.extend(os.pipe())
    blocking = threading.Event()  # the waiter found nothing and is about to block: publish only then
    sockets = listener._sockets
    listener._sockets = lambda: (blocking.set(), sockets())[1]
    woke = threading.Event()

    def waiter():
        listener.wait(60)
        woke.set()

    thread = threading.Thread(target=waiter, daemon=True)
    thread.start()
    assert blocking.wait(10)
    fakes[2].publish(f"job_signal:{KEY}", "1")  # as RELEASE does on each master
    try:
        wait_for(woke.is_set, timeout=30, message="the waiter to wake at the wake-up, long before its 60 s chunk")
    finally:
        listener.close()
        for fd in spare:
            os.close(fd)


def test_no_master_to_subscribe_on_is_unavailable():
    with pytest.raises(BackendUnavailable):
        backend_on([dead_client(), dead_client(), dead_client()]).release_listener(KEY)


# --- the factory -----------------------------------------------------------------------------------------------------

@pytest.fixture
def quorum_settings(settings):
    """REDIS_MODE=quorum for this test; the lock goes back to the suite's Redis afterwards."""

    def configure(urls: list[str]) -> None:
        settings.REDIS_MODE = "quorum"
        settings.LOCK_REDIS_URLS = urls
        topology.reset_clients()

    yield configure
    settings.REDIS_MODE = "standalone"
    topology.reset_clients()
    locks.use_redis_client(real_client())


def test_the_factory_builds_the_quorum_backend_in_quorum_mode(quorum_settings, settings):
    settings.LOCK_QUORUM_DRIFT_FACTOR = 0.05
    quorum_settings(["redis://127.0.0.1:1/0", "redis://127.0.0.1:2/0", "redis://:pw@127.0.0.1:3/0"])
    backend = redis_backend_build()
    assert isinstance(backend, QuorumLockBackend)
    assert [m.url for m in backend.masters] == ["redis://127.0.0.1:1/0", "redis://127.0.0.1:2/0",
                                                 "redis://127.0.0.1:3/0"]
    assert backend.drift_factor == 0.05


def test_the_health_check_reports_each_master(quorum_settings, fakes):
    quorum_settings(["redis://127.0.0.1:1/0"] * 3)  # the mode; the masters below stand in for LOCK_REDIS_URLS
    locks.lock().use_primary(backend_on([fakes[0], dead_client(), fakes[2]]))
    check = RedisCheck().run(report=None)
    assert check["status"] == "ok" and check["mode"] == "quorum"
    assert [m["ok"] for m in check["masters"]] == [True, False, True]
    locks.lock().use_primary(backend_on([fakes[0], dead_client(), dead_client()]))
    check = RedisCheck().run(report=None)
    assert check["status"] == "down" and [m["ok"] for m in check["masters"]] == [True, False, False]


# --- real servers ----------------------------------------------------------------------------------------------------

def use_masters(quorum_settings, masters) -> QuorumLockBackend:
    quorum_settings(masters.urls)
    backend = redis_backend_build()
    locks.lock().use_primary(backend)
    return backend


@pytest.mark.slow
def test_real_one_master_killed_acquire_and_release_still_work(quorum_settings, redis_masters):
    use_masters(quorum_settings, redis_masters)
    dead, *live = redis_masters.servers
    dead.kill()
    with locks.execution_lock(KEY, ttl_seconds=60, run_id=11) as lease:
        assert lease.backend.name == "quorum"
        for server in live:
            assert f'"token":"{lease.holder.token}"' in server.cli("GET", RKEY)
            assert '"run_id":11' in server.cli("GET", RKEY)
        with pytest.raises(locks.LockNotAcquired):
            locks.acquire(KEY, ttl_seconds=60)
    assert [server.cli("EXISTS", RKEY) for server in live] == ["0", "0"]


@pytest.mark.slow
def test_real_a_waiter_is_woken_by_the_release_through_its_sockets(quorum_settings, redis_masters):
    """On real servers the listener waits in select() on its subscriptions' sockets: a release wakes it at once,
    long before its 60 s chunk, even with one master down."""
    backend = use_masters(quorum_settings, redis_masters)
    backend.blocking_chunk_seconds = 60
    redis_masters.servers[0].kill()
    holder = Holder.new(run_id=12)
    assert backend.acquire(KEY, holder, 30)[0]
    listener = backend.release_listener(KEY)
    assert listener._sockets() is not None  # real sockets: select, not a poll
    woke = threading.Event()
    thread = threading.Thread(target=lambda: (listener.wait(60), woke.set()), daemon=True)
    thread.start()
    assert backend.release(KEY, holder)
    wait_for(woke.is_set, timeout=30, message="the waiter to wake at the release, long before its 60 s chunk")
    listener.close()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_real_two_masters_killed_falls_back_to_the_database_lease(quorum_settings, redis_masters, settings):
    settings.LOCK_FALLBACK = "database"
    use_masters(quorum_settings, redis_masters)
    for server in redis_masters.servers[:2]:
        server.kill()
    with locks.execution_lock(KEY, ttl_seconds=60, run_id=12) as lease:
        assert lease.backend is locks.database_backend()
        assert redis_masters.servers[2].cli("EXISTS", RKEY) == "0"  # nothing left on the live minority
        with pytest.raises(locks.LockNotAcquired):
            locks.acquire(KEY, ttl_seconds=60)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_real_two_masters_killed_refuses_with_lock_fallback_fail(quorum_settings, redis_masters, settings):
    settings.LOCK_FALLBACK = "fail"
    use_masters(quorum_settings, redis_masters)
    for server in redis_masters.servers[1:]:
        server.kill()
    with pytest.raises(LockServiceUnavailable):
        locks.acquire(KEY, ttl_seconds=60)
    assert redis_masters.servers[0].cli("EXISTS", RKEY) == "0"


@pytest.mark.slow
def test_real_master_restarted_empty_gets_the_key_back_at_the_next_renewal(quorum_settings, redis_masters,
                                                                           fast_lease):
    use_masters(quorum_settings, redis_masters)
    server = redis_masters.servers[1]
    with locks.execution_lock(KEY, ttl_seconds=60) as lease:
        server.restart()
        wait_for(lambda: lease.holder.token in server.cli("GET", RKEY), timeout=10,
                 message="the renewal to set the key again on the restarted master")
        assert not lease.lost
    assert [s.cli("EXISTS", RKEY) for s in redis_masters.servers] == ["0", "0", "0"]


@pytest.mark.slow
def test_real_paused_master_costs_its_timeout_and_changes_nothing_else(quorum_settings, redis_masters, settings):
    settings.REDIS_SOCKET_TIMEOUT = 0.3  # the quorum clients' reply timeout; well under the 30 s lease
    backend = use_masters(quorum_settings, redis_masters)
    paused, *live = redis_masters.servers
    paused.pause()
    try:
        with locks.execution_lock(KEY, ttl_seconds=60, run_id=13) as lease:
            assert lease.backend is backend
            assert all('"run_id":13' in server.cli("GET", RKEY) for server in live)
            assert backend.extend(KEY, lease.holder, 30) == RenewResult.RENEWED
        assert [server.cli("EXISTS", RKEY) for server in live] == ["0", "0"]
    finally:
        paused.resume()
    # Back, running what queued up while it was paused (the acquire's SET, the release): at most a minority copy
    # of ours, which expires within the lease, never one without a TTL.
    value = paused.cli("GET", RKEY)
    assert value == "" or (lease.holder.token in value and 0 < int(paused.cli("PTTL", RKEY)) <= 30_000)
