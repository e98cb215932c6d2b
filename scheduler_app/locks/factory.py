"""Builds the configured lock (after django-q2's get_broker): today Redis through django-redis, with the
database lease as its fallback."""

from __future__ import annotations

from django.conf import settings
from django_redis import get_redis_connection

from scheduler_app.locks.db_backend import DatabaseLockBackend
from scheduler_app.locks.fallback import FallbackLock
from scheduler_app.locks.redis_backend import RedisLockBackend


def redis_backend_build(client=None) -> RedisLockBackend:
    # A blocking read must return before the client's socket timeout fires; long waits are split into chunks.
    return RedisLockBackend(client if client is not None else get_redis_connection("default"),
                            blocking_chunk_seconds=max(0.05, settings.REDIS_SOCKET_TIMEOUT * 0.8))


def lock_build() -> FallbackLock:
    return FallbackLock(primary=redis_backend_build, fallback=DatabaseLockBackend())
