"""Execution locks: `execution_lock(key, ttl_seconds=..., wait_seconds=...)` and friends.

Redis is the primary backend (one round trip to acquire, one to release). When Redis is unreachable the lock falls
back to a database lease (LOCK_FALLBACK=database, the default) or refuses (LOCK_FALLBACK=fail).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.conf import settings

from scheduler_app.locks.base import (
    KEY_PREFIX,
    BackendUnavailable,
    Holder,
    LockError,
    LockNotAcquired,
    LockServiceUnavailable,
    LockState,
    RenewResult,
)
from scheduler_app.locks.db_backend import DatabaseLockBackend
from scheduler_app.locks.redis_backend import RedisLockBackend
from scheduler_app.locks.renewal import renewer

__all__ = [
    "KEY_PREFIX",
    "Holder",
    "Lease",
    "LockError",
    "LockNotAcquired",
    "LockServiceUnavailable",
    "LockState",
    "RenewResult",
    "acquire",
    "current_fencing_token",
    "database_backend",
    "execution_lock",
    "redis_backend",
    "renewer",
    "use_redis_client",
]

logger = logging.getLogger("scheduler_app")

_database_backend = DatabaseLockBackend()
_redis_backend: RedisLockBackend | None = None
_redis_down_until = 0.0
_backend_mutex = threading.Lock()


def use_redis_client(client) -> RedisLockBackend:
    """Point the lock at a given Redis client (tests use fakeredis or a client on a closed port)."""
    global _redis_backend, _redis_down_until
    with _backend_mutex:
        _redis_backend = RedisLockBackend(client, blocking_chunk_seconds=_blocking_chunk())
        _redis_down_until = 0.0
    return _redis_backend


def _blocking_chunk() -> float:
    return max(0.05, settings.REDIS_SOCKET_TIMEOUT * 0.8)


def redis_backend() -> RedisLockBackend:
    global _redis_backend
    if _redis_backend is None:
        with _backend_mutex:
            if _redis_backend is None:
                from django_redis import get_redis_connection

                _redis_backend = RedisLockBackend(get_redis_connection("default"),
                                                  blocking_chunk_seconds=_blocking_chunk())
    return _redis_backend


def database_backend() -> DatabaseLockBackend:
    return _database_backend


class Lease:
    """A held lock. Renewed by the process's renewal thread until released, lost or past its deadline."""

    def __init__(self, *, key: str, holder: Holder, backend, lease_seconds: float, ttl_seconds: float,
                 wait_ms: float):
        now = time.monotonic()
        self.key = key
        self.holder = holder
        self.backend = backend
        self.lease_seconds = lease_seconds
        self.ttl_seconds = ttl_seconds
        self.deadline = now + ttl_seconds
        self.next_renewal = now + lease_seconds / 3
        self.wait_ms = wait_ms
        self.lost = False
        self.released = False
        self.deadline_fired = False
        self.on_lost: list[Callable[[Lease], None]] = []
        self.on_deadline: list[Callable[[Lease], None]] = []

    @property
    def fence(self) -> int | None:
        return self.holder.fence

    @property
    def backend_name(self) -> str:
        return self.backend.name

    def mark_lost(self) -> None:
        if self.lost:
            return
        self.lost = True
        logger.error("Lock lost for job: %s (taken by another holder or a newer fence)", self.key)
        for callback in self.on_lost:
            _safe(callback, self)

    def fire_deadline(self) -> None:
        self.deadline_fired = True
        for callback in self.on_deadline:
            _safe(callback, self)

    def release(self) -> bool | None:
        """Owner-only release. False when the lock is no longer ours (a late finisher deletes nothing);
        None when the backend could not be reached (the key then expires within the lease)."""
        if self.released:
            return None
        self.released = True
        renewer.remove(self)
        try:
            released = self.backend.release(self.key, self.holder)
        except BackendUnavailable as exc:
            logger.error("Failed to release %s lock for job: %s (%s); it expires within the lease",
                         self.backend.name, self.key, exc)
            return None
        return released


def _safe(callback, *args) -> None:
    try:
        callback(*args)
    except Exception:  # noqa: BLE001
        logger.exception("Lock callback failed")


def _try_once(key: str, holder: Holder, lease_seconds: float):
    """One attempt on Redis, or on the database lease while Redis is down. Returns (backend, ok, holder, ttl)."""
    global _redis_down_until
    if time.monotonic() >= _redis_down_until:
        backend = redis_backend()
        try:
            ok, current, ttl = backend.acquire(key, holder, lease_seconds)
            return backend, ok, current, ttl
        except BackendUnavailable as exc:
            _redis_down_until = time.monotonic() + settings.LOCK_REDIS_RETRY_SECONDS
            logger.error("Failed to acquire Redis lock for job: %s (%s); %s", key, exc,
                         "refusing the run (LOCK_FALLBACK=fail)" if settings.LOCK_FALLBACK == "fail"
                         else "falling back to the database lease")
            error = exc
    else:
        error = BackendUnavailable("Redis was unreachable moments ago")
        if settings.LOCK_FALLBACK == "fail":
            logger.error("Failed to acquire Redis lock for job: %s (%s); refusing the run", key, error)
    if settings.LOCK_FALLBACK == "fail":
        raise LockServiceUnavailable(f"Lock service unavailable: {error}")
    ok, current, ttl = _database_backend.acquire(key, holder, lease_seconds)
    return _database_backend, ok, current, ttl


def acquire(key: str, *, ttl_seconds: float, wait_seconds: float = 0, run_id: int | None = None) -> Lease:
    """Take the lock or raise LockNotAcquired (holder, TTL left) / LockServiceUnavailable."""
    lease_seconds = min(float(settings.LOCK_LEASE_SECONDS), max(float(ttl_seconds), 0.001))
    holder = Holder.new(run_id=run_id)
    started = time.monotonic()
    give_up = started + max(0.0, wait_seconds)
    listener = listener_backend = None
    try:
        while True:
            backend, ok, current, ttl = _try_once(key, holder, lease_seconds)
            if ok:
                lease = Lease(key=key, holder=holder, backend=backend, lease_seconds=lease_seconds,
                              ttl_seconds=ttl_seconds, wait_ms=(time.monotonic() - started) * 1000)
                renewer.add(lease)
                return lease
            remaining = give_up - time.monotonic()
            if remaining <= 0:
                raise LockNotAcquired(key, current, ttl)
            if listener is None or listener_backend is not backend:
                if listener is not None:
                    listener.close()
                listener, listener_backend = _listen(backend, key), backend
                continue  # subscribed: try once more, so a release in between is not missed
            # Sleep until the holder releases, or until its lease could have lapsed (a dead holder).
            try:
                listener.wait(remaining if ttl is None else min(remaining, ttl + 0.01))
            except BackendUnavailable:
                listener.close()
                listener = None
                time.sleep(0.05)
    finally:
        if listener is not None:
            listener.close()


def _listen(backend, key: str):
    try:
        return backend.release_listener(key)
    except BackendUnavailable:
        return _database_backend.release_listener(key)


@contextmanager
def execution_lock(key: str, *, ttl_seconds: float, wait_seconds: float = 0,
                   run_id: int | None = None) -> Iterator[Lease]:
    """Hold `job_lock:<key>` for the block. `key` is the job id (plus `:team:<id>`), without the prefix."""
    lease = acquire(key, ttl_seconds=ttl_seconds, wait_seconds=wait_seconds, run_id=run_id)
    try:
        yield lease
    finally:
        lease.release()


def current_fencing_token(key: str) -> int | None:
    """The newest fence issued for `key`. A holder whose fence differs is stale and must not write."""
    try:
        return redis_backend().current_fence(key)
    except BackendUnavailable:
        return _database_backend.current_fence(key)


def inspect(key: str) -> LockState | None:
    """The key's holder and TTL, from Redis, or from the database lease while Redis is down."""
    try:
        state = redis_backend().inspect(key)
    except BackendUnavailable:
        state = None
    return state or _database_backend.inspect(key)


def list_locks() -> tuple[list[LockState], bool]:
    """All held locks (Redis and database leases) and whether Redis answered."""
    states: list[LockState] = []
    redis_ok = True
    try:
        states.extend(redis_backend().list())
    except BackendUnavailable:
        redis_ok = False
    states.extend(_database_backend.list())
    return states, redis_ok


def force_release(key: str) -> bool:
    """Delete a lock regardless of holder (an operator's decision)."""
    released = False
    for backend in (redis_backend(), _database_backend):
        try:
            released |= backend.force_release(key)
        except BackendUnavailable:
            continue
    return released


def release_if_unchanged(state: LockState) -> bool:
    """Delete the lock `state` describes only if it has not changed hands since it was read."""
    backend = redis_backend() if state.backend == "redis" else _database_backend
    try:
        return backend.release_if_unchanged(state)
    except BackendUnavailable:
        return False


def redis_available() -> bool:
    try:
        return redis_backend().ping()
    except BackendUnavailable:
        return False
