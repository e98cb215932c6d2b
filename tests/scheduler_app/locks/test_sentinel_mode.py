"""REDIS_MODE=sentinel against a real master, replica and three sentinels: the lock through the sentinel client, and
the master killed (SIGKILL) under a running job, with and without its lock key replicated first. No second run starts
during or after the failover, and the holder's key is back on the new master within one renewal."""

from __future__ import annotations

import json
import threading

import pytest

from logs_app.ops.checks import RedisCheck
from scheduler_app import locks
from scheduler_app.locks import LockNotAcquired, topology
from scheduler_app.models import JobRun
from scheduler_app.scheduler import control
from tests.conftest import _real_client, manage
from tests.scheduler_app.locks import topology_jobs  # noqa: F401  (registers recorded_hold_job)
from tests.waiting import wait_for

pytestmark = pytest.mark.slow
JOB = "recorded_hold_job"
KEY = f"job_lock:{JOB}"
LEASE = 2.0


@pytest.fixture
def sentinel_lock(redis_sentinel, settings, db):
    settings.REDIS_MODE = "sentinel"
    settings.REDIS_SENTINELS = redis_sentinel.sentinels_setting.split(",")
    settings.REDIS_SENTINEL_MASTER = redis_sentinel.master_name
    settings.REDIS_URL = redis_sentinel.master.url
    topology.reset_clients()
    backend = locks.use_redis_client(topology.redis_client())
    yield backend
    topology.reset_clients()
    settings.REDIS_MODE = "standalone"
    locks.use_redis_client(_real_client())


def test_the_lock_and_the_control_channel_through_the_sentinels(redis_sentinel, sentinel_lock):
    lease = locks.acquire("topo_sentinel", ttl_seconds=30, run_id=1)
    assert lease.holder.token in redis_sentinel.master.cli("GET", "job_lock:topo_sentinel")
    with pytest.raises(LockNotAcquired) as refused:
        locks.acquire("topo_sentinel", ttl_seconds=30, run_id=2)
    assert refused.value.holder.token == lease.holder.token
    assert [s.key for s in locks.list_locks()[0]] == ["topo_sentinel"]
    assert lease.release() is True and locks.inspect("topo_sentinel") is None

    reloads = threading.Event()
    listener = control.ControlListener(on_reload=reloads.set)
    listener.start()
    try:
        assert listener.subscribed.wait(10)
        wait_for(lambda: control.reload_publish() and reloads.wait(0.2), timeout=10, message="a reload")
        old = redis_sentinel.master.port
        redis_sentinel.master.kill()
        new = redis_sentinel.wait_for_failover(old)
        reloads.clear()
        # the listener reconnects through the sentinels to the new master (after its backoff)
        wait_for(lambda: control.reload_publish() and reloads.wait(0.2), timeout=30,
                 message="a reload after the failover")
        with locks.execution_lock("topo_sentinel", ttl_seconds=30, run_id=3) as held:
            assert held.holder.token in redis_sentinel.server_on(new).cli("GET", "job_lock:topo_sentinel")
        # the health check follows the failover too, and names where the lock lives
        health = wait_for(lambda: (r := RedisCheck().run(None))["status"] == "ok" and r, timeout=10,
                          message="redis ok in the health check after the failover")
        assert health["mode"] == "sentinel"
        assert health["where"] == f"the Sentinel master 'jobsite' ({redis_sentinel.sentinels_setting})"
    finally:
        listener.stop()
        listener.join(5)


def sentinel_env(subprocess_env: dict, sentinel) -> dict:
    return {**subprocess_env, "REDIS_MODE": "sentinel", "REDIS_SENTINELS": sentinel.sentinels_setting,
            "REDIS_SENTINEL_MASTER": sentinel.master_name, "REDIS_URL": sentinel.master.url,
            "LOCK_LEASE_SECONDS": str(LEASE), "LOCK_REDIS_RETRY_SECONDS": "0.2",
            "EXTRA_JOB_MODULES": f"{subprocess_env['EXTRA_JOB_MODULES']},{topology_jobs.__name__}"}


def intervals(record) -> list[tuple[float, float]]:
    """(start, end) of each run the record file saw."""
    lines = [line.split() for line in record.read_text().splitlines()]
    starts = [float(t) for what, _, t in lines if what == "start"]
    ends = [float(t) for what, _, t in lines if what == "end"]
    return list(zip(starts, ends, strict=True))


@pytest.mark.parametrize("replicated", [True, False], ids=["key-replicated", "key-lost-in-failover"])
def test_master_killed_mid_run_no_second_run_and_the_key_comes_back(redis_sentinel, subprocess_env, tmp_path,
                                                                    replicated):
    env = sentinel_env(subprocess_env, redis_sentinel)
    record = tmp_path / "record.txt"
    master, replica = redis_sentinel.master, redis_sentinel.replica
    if not replicated:
        # The lock's write must never reach the replica: stop it, then cut its link on the master (bytes already
        # in a paused replica's socket would still arrive after it resumes; a cut link carries none, and a
        # stopped replica cannot reconnect before the master is dead).
        replica.pause()
        master.client().execute_command("CLIENT", "KILL", "TYPE", "replica")
    first = manage("runjob", JOB, "--param", "seconds=9", "--param", f"record={record}", env=env)
    holder = wait_for(lambda: master.client().get(KEY), timeout=30, interval=0.02, message="the first run's key")
    token = json.loads(holder)["token"]
    if replicated:
        assert master.client().execute_command("WAIT", 1, 1000) == 1
        assert replica.client().get(KEY) == holder
    old = master.port
    master.kill()
    if not replicated:
        replica.resume()
        assert replica.client().get(KEY) is None

    # triggers of the same job, again and again, while the first lives: during and after the failover
    codes: list[int] = []

    def trigger_again() -> None:
        while first.poll() is None:
            proc = manage("runjob", JOB, "--param", "seconds=0", "--param", f"record={record}", env=env)
            proc.communicate(timeout=60)
            if first.poll() is None or proc.returncode != 0:
                codes.append(proc.returncode)

    again = threading.Thread(target=trigger_again)
    again.start()
    try:
        new = redis_sentinel.wait_for_failover(old)
        new_master = redis_sentinel.server_on(new)
        # the holder's renewal puts its own key back (or keeps it) on the new master within one renewal
        wait_for(lambda: token in new_master.cli("GET", KEY), timeout=LEASE / 3 + 2.0, interval=0.05,
                 message="the holder's key on the new master")
        out, err = first.communicate(timeout=60)
    finally:
        again.join(120)
    assert first.returncode == 0, (out, err)
    assert codes and set(codes) == {3}, codes  # every trigger while the first lived was refused
    held, *others = JobRun.objects.filter(job_id=JOB).order_by("pk")
    assert held.status == "SUCCEEDED"
    for run in others:  # refused, or (a trigger that came as the first ended) started after it
        assert run.status == "SKIPPED" or run.started_at >= held.finished_at, run
    spans = sorted(intervals(record))
    assert all(later[0] >= earlier[1] for earlier, later in zip(spans, spans[1:], strict=False)), spans
