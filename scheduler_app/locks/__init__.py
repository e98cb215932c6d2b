"""Execution locks: `execution_lock(key, ttl_seconds=..., wait_seconds=...)` and friends.

Redis is the primary backend (one round trip to acquire, one to release). When Redis is unreachable the lock falls
back to a database lease (LOCK_FALLBACK=database, the default) or refuses (LOCK_FALLBACK=fail). The functions here
act on the process's one lock (`lock()`), built by the factory.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from scheduler_app.locks.base import (
    KEY_PREFIX,
    SIGNAL_PREFIX,
    BackendUnavailable,
    Holder,
    LockBackend,
    LockError,
    LockNotAcquired,
    LockServiceUnavailable,
    LockState,
    RenewResult,
    key_job_id,
    lock_log_extra,
)
from scheduler_app.locks.factory import lock_build, redis_backend_build
from scheduler_app.locks.fallback import FallbackLock
from scheduler_app.locks.lease import Lease
from scheduler_app.locks.renewal import renewer

__all__ = [
    "KEY_PREFIX",
    "SIGNAL_PREFIX",
    "BackendUnavailable",
    "FallbackLock",
    "Holder",
    "Lease",
    "LockBackend",
    "LockError",
    "LockNotAcquired",
    "LockServiceUnavailable",
    "LockState",
    "RenewResult",
    "acquire",
    "database_backend",
    "execution_lock",
    "key_job_id",
    "lock",
    "lock_log_extra",
    "redis_backend",
    "renewer",
    "use_redis_client",
]

_lock: FallbackLock = lock_build()


def lock() -> FallbackLock:
    return _lock


def use_redis_client(client):
    """Point the lock at a given Redis client (tests use fakeredis, a server of their own, or a closed port)."""
    backend = redis_backend_build(client)
    _lock.use_primary(backend)
    return backend


def redis_backend():
    return _lock.primary


def database_backend():
    return _lock.fallback


def acquire(key: str, *, ttl_seconds: float, wait_seconds: float = 0, run_id: int | None = None) -> Lease:
    return _lock.acquire(key, ttl_seconds=ttl_seconds, wait_seconds=wait_seconds, run_id=run_id)


@contextmanager
def execution_lock(key: str, *, ttl_seconds: float, wait_seconds: float = 0,
                   run_id: int | None = None) -> Iterator[Lease]:
    """Hold `job_lock:<key>` for the block. `key` is the job id (plus `:team:<id>`), without the prefix."""
    lease = _lock.acquire(key, ttl_seconds=ttl_seconds, wait_seconds=wait_seconds, run_id=run_id)
    try:
        yield lease
    finally:
        lease.release()


def inspect(key: str) -> LockState | None:
    return _lock.inspect(key)


def list_locks() -> tuple[list[LockState], bool]:
    return _lock.list_locks()


def force_release(key: str) -> bool:
    return _lock.force_release(key)


def release_if_unchanged(state: LockState) -> bool:
    return _lock.release_if_unchanged(state)


def redis_available() -> bool:
    return _lock.primary_available()
