"""Which Redis the process talks to: one setting, REDIS_MODE, picks the topology.

- standalone: REDIS_URL, through django-redis (the cache and the lock share one pool).
- sentinel: REDIS_SENTINELS and REDIS_SENTINEL_MASTER; the client asks the sentinels for the master and follows a
  failover. REDIS_URL's database number and password apply to the master.
- cluster: REDIS_URL names any node; redis-py's cluster client finds the rest and follows slot moves.
- quorum: LOCK_REDIS_URLS, N independent masters for the quorum lock; REDIS_URL is the first of them unless set,
  and the cache uses it.

Each client is built once per process, with the same short timeouts and no retries: the lock decides what an outage
means (fallback or refuse), so a call must fail at once.
"""

from __future__ import annotations

import threading
from urllib.parse import unquote, urlparse

import redis
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django_redis import get_redis_connection
from django_redis.pool import ConnectionFactory
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.retry import Retry
from redis.sentinel import Sentinel

REDIS_MODES = ("standalone", "sentinel", "cluster", "quorum")

_clients: dict[str, object] = {}
_clients_lock = threading.Lock()


def redis_mode() -> str:
    mode = settings.REDIS_MODE
    if mode not in REDIS_MODES:
        raise ImproperlyConfigured(f"REDIS_MODE must be one of {', '.join(REDIS_MODES)}, not {mode!r}")
    return mode


def _timeouts() -> dict:
    return {"socket_connect_timeout": settings.REDIS_SOCKET_CONNECT_TIMEOUT,
            "socket_timeout": settings.REDIS_SOCKET_TIMEOUT}


def _no_retry() -> Retry:
    return Retry(NoBackoff(), 0)


def sentinel_addresses() -> list[tuple[str, int]]:
    addresses = []
    for entry in settings.REDIS_SENTINELS:
        host, sep, port = entry.strip().rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ImproperlyConfigured(f"REDIS_SENTINELS entries are host:port, not {entry!r}")
        addresses.append((host, int(port)))
    if not addresses:
        raise ImproperlyConfigured("REDIS_MODE=sentinel needs REDIS_SENTINELS=host:port,...")
    return addresses


def _build_sentinel() -> redis.Redis:
    url = urlparse(settings.REDIS_URL)
    db = int(url.path.strip("/") or 0)
    password = unquote(url.password) if url.password else None
    sentinel = Sentinel(sentinel_addresses(), sentinel_kwargs={**_timeouts(), "retry": _no_retry()},
                        **_timeouts())
    return sentinel.master_for(settings.REDIS_SENTINEL_MASTER, db=db, password=password, retry=_no_retry(),
                               **_timeouts())


def _build_cluster() -> RedisCluster:
    # One retry lets the client refresh its slot map after a node fails over; more would stall the lock.
    return RedisCluster.from_url(settings.REDIS_URL, retry=Retry(NoBackoff(), 1), **_timeouts())


def _build_standalone(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, retry=_no_retry(), **_timeouts())


def _cached(name: str, build):
    client = _clients.get(name)
    if client is None:
        with _clients_lock:
            client = _clients.get(name)
            if client is None:
                client = _clients[name] = build()
    return client


def redis_client():
    """The process's Redis client for the configured mode (in quorum mode, the first master's)."""
    mode = redis_mode()
    if mode == "standalone":
        return get_redis_connection("default")
    if mode == "sentinel":
        return _cached("sentinel", _build_sentinel)
    if mode == "cluster":
        return _cached("cluster", _build_cluster)
    return quorum_clients()[0]


def quorum_urls() -> list[str]:
    urls = [u.strip() for u in settings.LOCK_REDIS_URLS if u.strip()]
    if len(urls) < 3:
        raise ImproperlyConfigured("REDIS_MODE=quorum needs LOCK_REDIS_URLS with at least three independent "
                                   f"masters (got {len(urls)})")
    return urls


def quorum_clients() -> list[redis.Redis]:
    return [_cached(f"quorum:{url}", lambda url=url: _build_standalone(url)) for url in quorum_urls()]


def channel_clients() -> list:
    """Where pub/sub travels (wake-ups, scheduler control): every master in quorum mode, else the one client."""
    return quorum_clients() if redis_mode() == "quorum" else [redis_client()]


def redacted(url: str) -> str:
    """A Redis URL without its password, for health output and logs."""
    parsed = urlparse(url)
    if not parsed.password:
        return url
    return parsed._replace(netloc=parsed.netloc.replace(f":{parsed.password}@", ":***@")).geturl()


def describe() -> str:
    """Where the lock lives, for messages: `REDIS_URL`, the sentinels, the cluster or the quorum."""
    mode = redis_mode()
    if mode == "sentinel":
        return f"the Sentinel master {settings.REDIS_SENTINEL_MASTER!r} ({','.join(settings.REDIS_SENTINELS)})"
    if mode == "cluster":
        return f"the Redis Cluster at {redacted(settings.REDIS_URL)}"
    if mode == "quorum":
        return f"a majority of LOCK_REDIS_URLS ({len(quorum_urls())} masters)"
    return "REDIS_URL"


def reset_clients() -> None:
    """Forget the cached clients (tests change the settings)."""
    with _clients_lock:
        for client in _clients.values():
            try:
                client.close()
            except Exception:  # noqa: BLE001 - closing a dead client must not fail the reset
                pass
        _clients.clear()


class CacheConnectionFactory(ConnectionFactory):
    """django-redis connection factory for the sentinel and cluster modes: the cache uses the topology's client."""

    def connect(self, url: str):
        return redis_client()

    def disconnect(self, connection) -> None:
        """The client is shared with the lock; django-redis must not close it."""
