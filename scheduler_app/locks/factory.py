"""Builds the configured lock (after django-q2's get_broker): Redis in the topology REDIS_MODE names, with the
database lease as its fallback."""

from __future__ import annotations

from django.conf import settings

from scheduler_app.locks import topology
from scheduler_app.locks.db_backend import DatabaseLockBackend
from scheduler_app.locks.fallback import FallbackLock
from scheduler_app.locks.redis_backend import RedisLockBackend


def redis_backend_build(client=None) -> RedisLockBackend:
    # A blocking read must return before the client's socket timeout fires; long waits are split into chunks.
    return RedisLockBackend(client if client is not None else topology.redis_client(),
                            blocking_chunk_seconds=max(0.05, settings.REDIS_SOCKET_TIMEOUT * 0.8))


def lock_build() -> FallbackLock:
    return FallbackLock(primary=redis_backend_build, fallback=DatabaseLockBackend())
