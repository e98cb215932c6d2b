"""REDIS_MODE=cluster against a real 3-master Redis Cluster: every lock operation on keys spread over all three
nodes, wake-ups that cross nodes, the scheduler's control channel and the Django cache.

One cluster serves the whole module (creating one takes seconds); each test starts on an empty one.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from scheduler_app import locks
from scheduler_app.locks import KEY_PREFIX, SIGNAL_PREFIX, Holder, LockNotAcquired, RenewResult, topology
from scheduler_app.locks.redis_backend import RedisLockBackend
from scheduler_app.scheduler import control
from tests.conftest import ROOT, _real_client, require
from tests.redis_servers import ClusterServers, redis_binaries_present
from tests.waiting import wait_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    require(redis_binaries_present(), "redis-server and redis-cli are needed to start a Redis Cluster")
    servers = ClusterServers(tmp_path_factory.mktemp("cluster"))
    yield servers
    servers.close()


@pytest.fixture
def cluster_lock(cluster, settings, db):
    """The process's lock on the cluster (REDIS_MODE=cluster, REDIS_URL one node); standalone again after."""
    for node in cluster.nodes:
        node.client().flushall()
    settings.REDIS_MODE = "cluster"
    settings.REDIS_URL = cluster.url
    topology.reset_clients()
    backend = locks.use_redis_client(topology.redis_client())
    yield backend
    topology.reset_clients()
    settings.REDIS_MODE = "standalone"
    locks.use_redis_client(_real_client())


def node_port(client, name: str) -> int:
    """The port of the master that owns `name`'s slot."""
    return client.get_node_from_key(name).port


def keys_on_every_node(client, per_node: int = 2) -> dict[int, list[str]]:
    """Lock keys (without the prefix) grouped by the node their `job_lock:` key lives on, `per_node` each."""
    by_node: dict[int, list[str]] = {}
    i = 0
    while len(by_node) < 3 or min(len(v) for v in by_node.values()) < per_node:
        key = f"topo_job_{i}"
        by_node.setdefault(node_port(client, KEY_PREFIX + key), []).append(key)
        i += 1
    return {port: keys[:per_node] for port, keys in by_node.items()}


def key_whose_signal_is_elsewhere(client) -> str:
    """A key whose wake-up channel's slot lives on another node than its lock key's slot."""
    i = 0
    while True:
        key = f"topo_wait_{i}"
        if node_port(client, KEY_PREFIX + key) != node_port(client, SIGNAL_PREFIX + key):
            return key
        i += 1


def test_every_operation_on_keys_across_all_three_nodes(cluster, cluster_lock):
    client = cluster_lock.client
    by_node = keys_on_every_node(client)
    assert sorted(by_node) == sorted(n.port for n in cluster.nodes)
    holders = {}
    for port, keys in by_node.items():
        for key in keys:
            holders[key] = Holder.new(run_id=port)
            assert cluster_lock.acquire(key, holders[key], 30) == (True, holders[key], None)
            # the key really is on that node, and an operator's redis-cli -c finds it from any node
            assert client.get_node_from_key(KEY_PREFIX + key).port == port
            assert holders[key].token in cluster.nodes[0].cli("-c", "GET", KEY_PREFIX + key)

    for key, holder in holders.items():
        ok, current, ttl = cluster_lock.acquire(key, Holder.new(run_id=0), 30)
        assert not ok and current.token == holder.token and 0 < ttl <= 30
        state = cluster_lock.inspect(key)
        assert state.holder.token == holder.token and 0 < state.ttl_seconds <= 30
        assert cluster_lock.extend(key, holder, 20) == RenewResult.RENEWED
        assert cluster_lock.extend(key, Holder.new(run_id=0), 20) == RenewResult.HELD_BY_OTHER

    listed = {s.key: s.holder.token for s in cluster_lock.list()}
    assert listed == {k: h.token for k, h in holders.items()}  # SCAN reached every node

    (a, b), (c, d), (e, f) = by_node.values()
    # owner-only release: a late finisher's release leaves the new holder's key
    assert cluster_lock.release(a, holders[a])
    newer = Holder.new(run_id=99)
    assert cluster_lock.acquire(a, newer, 30)[0]
    assert not cluster_lock.release(a, holders[a])
    assert cluster_lock.inspect(a).holder.token == newer.token
    # a key that vanished (the node restarted empty) is restored with the holder's own value
    client.delete(KEY_PREFIX + c)
    assert cluster_lock.extend(c, holders[c], 20) == RenewResult.RESTORED
    assert cluster_lock.inspect(c).holder.token == holders[c].token
    # an operator's force release, and the stale clean-up's compare-and-delete
    assert cluster_lock.force_release(e)
    assert cluster_lock.inspect(e) is None
    state = cluster_lock.inspect(d)
    assert cluster_lock.extend(d, holders[d], 20) == RenewResult.RENEWED  # same value: still "unchanged"
    assert cluster_lock.release_if_unchanged(state)
    state = cluster_lock.inspect(f)
    client.set(KEY_PREFIX + f, Holder.new(run_id=7).value())  # a new holder since it was judged
    assert not cluster_lock.release_if_unchanged(state)
    assert cluster_lock.inspect(f).holder.run_id == 7
    assert sorted(s.key for s in cluster_lock.list()) == sorted([a, b, c, f])


def test_the_lock_api_on_the_cluster(cluster_lock):
    lease = locks.acquire("topo_api", ttl_seconds=30, run_id=5)
    with pytest.raises(LockNotAcquired) as refused:
        locks.acquire("topo_api", ttl_seconds=30, run_id=6)
    assert refused.value.holder.run_id == 5
    states, redis_ok = locks.list_locks()
    assert redis_ok and [s.key for s in states if s.backend == "redis"] == ["topo_api"]
    assert lease.release() is True
    with locks.execution_lock("topo_api", ttl_seconds=30, run_id=7) as held:
        assert locks.inspect("topo_api").holder.token == held.holder.token
    assert locks.inspect("topo_api") is None


def test_a_waiter_subscribed_on_another_node_is_woken_by_the_release(cluster_lock, settings, monkeypatch):
    # A long socket timeout makes each wait chunk long: without the release signal the waiter would only try
    # again after ~24 s (or the 30 s lease), so an acquisition within seconds was the signal's doing. The spy
    # below records it directly too: which node the waiter listened on and what ended its wait.
    settings.REDIS_SOCKET_TIMEOUT = 30.0
    topology.reset_clients()
    backend = locks.use_redis_client(topology.redis_client())
    client = backend.client
    key = key_whose_signal_is_elsewhere(client)
    heard: list[tuple[int, dict | None]] = []
    waiting = threading.Event()  # the waiter has subscribed, tried once more, and now waits for the signal
    listen = RedisLockBackend.release_listener

    def spying_listener(self, key):
        listener = listen(self, key)
        get_message = listener.pubsub.get_message

        def recorded(**kwargs):
            if heard:  # the first read returns the SUBSCRIBE confirmation (as None); the next one waits
                waiting.set()
            message = get_message(**kwargs)
            heard.append((listener.pubsub.connection.port, message))
            return message

        listener.pubsub.get_message = recorded
        return listener

    monkeypatch.setattr(RedisLockBackend, "release_listener", spying_listener)
    holder = locks.acquire(key, ttl_seconds=60, run_id=1)
    box = {}

    def waiter():
        with locks.execution_lock(key, ttl_seconds=60, wait_seconds=20, run_id=2) as lease:
            box["lease"], box["at"] = lease, time.monotonic()

    thread = threading.Thread(target=waiter)
    thread.start()
    assert waiting.wait(10)
    released_at = time.monotonic()
    assert holder.release() is True
    thread.join(20)
    assert not thread.is_alive() and box["lease"].holder.run_id == 2
    assert box["at"] - released_at < 5, "woken by the signal, not by a retry after a wait chunk"
    ports = {port for port, _ in heard}
    assert ports == {node_port(client, SIGNAL_PREFIX + key)} != {node_port(client, KEY_PREFIX + key)}
    assert heard[-1][1] is not None and heard[-1][1]["type"] == "message", heard


def test_the_control_channel_on_the_cluster(cluster_lock):
    reloads = threading.Event()
    listener = control.ControlListener(on_reload=reloads.set)
    listener.start()
    try:
        assert listener.subscribed.wait(10)
        # A publish reaches the subscriber whichever node it lands on (the cluster bus forwards it); retry until
        # the subscription is live on the server, since `subscribed` is set as the SUBSCRIBE is sent.
        wait_for(lambda: control.reload_publish() is not None and reloads.wait(0.2), timeout=10,
                 message="the control listener to receive a reload")
    finally:
        listener.stop()
        listener.join(5)


CACHE_SCRIPT = """
from django.core.cache import cache
from scheduler_app.locks import topology
assert type(topology.redis_client()).__name__ == "RedisCluster"
cache.set("topo_a", 1, 30)
cache.set_many({"topo_b": 2, "topo_c": 3}, 30)
assert cache.get("topo_a") == 1
assert cache.incr("topo_a") == 2
assert cache.add("topo_a", 5) is False
assert cache.get_many(["topo_a", "topo_b", "topo_c", "topo_none"]) == {"topo_a": 2, "topo_b": 2, "topo_c": 3}
assert sorted(cache.keys("topo_*")) == ["topo_a", "topo_b", "topo_c"]
cache.delete_pattern("topo_*")
assert cache.get("topo_b") is None
print("cache ok")
"""


def test_the_django_cache_on_the_cluster(cluster, cluster_lock, subprocess_env):
    """CACHES is built at settings import, so the cache is tried in a process started in cluster mode."""
    env = {**subprocess_env, "REDIS_MODE": "cluster", "REDIS_URL": cluster.url}
    done = subprocess.run([sys.executable, str(ROOT / "manage.py"), "shell", "-c", CACHE_SCRIPT], env=env,
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "cache ok" in done.stdout, done.stderr
    written = [n.client().keys("*topo_*") for n in cluster.nodes]
    assert written == [[], [], []]  # delete_pattern reached every node
