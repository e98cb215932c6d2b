"""Builds the configured lock (after django-q2's get_broker): Redis in the topology REDIS_MODE names, with the
database lease as its fallback."""

from __future__ import annotations

from django.conf import settings

from scheduler_app.locks import topology
from scheduler_app.locks.base import LockBackend
from scheduler_app.locks.db_backend import DatabaseLockBackend
from scheduler_app.locks.fallback import FallbackLock
from scheduler_app.locks.quorum_backend import QuorumLockBackend
from scheduler_app.locks.redis_backend import RedisLockBackend


def redis_backend_build(client=None) -> LockBackend:
    """The primary backend for REDIS_MODE: a quorum over LOCK_REDIS_URLS, else one Redis (`client` if given)."""
    # A blocking read must return before the client's socket timeout fires; long waits are split into chunks.
    chunk = max(0.05, settings.REDIS_SOCKET_TIMEOUT * 0.8)
    if client is None and topology.redis_mode() == "quorum":
        return QuorumLockBackend(topology.quorum_clients(), blocking_chunk_seconds=chunk,
                                 drift_factor=settings.LOCK_QUORUM_DRIFT_FACTOR)
    return RedisLockBackend(client if client is not None else topology.redis_client(), blocking_chunk_seconds=chunk)


def lock_build() -> FallbackLock:
    return FallbackLock(primary=redis_backend_build, fallback=DatabaseLockBackend())
