"""The fallback policy: Redis first; while Redis is unreachable, the database lease (LOCK_FALLBACK=database) or a
refusal (LOCK_FALLBACK=fail). One instance per process holds the policy's state."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from django.conf import settings

from scheduler_app.locks.base import (
    BackendUnavailable,
    Holder,
    LockBackend,
    LockNotAcquired,
    LockServiceUnavailable,
    LockState,
    lock_log_extra,
)
from scheduler_app.locks.lease import Lease
from scheduler_app.locks.renewal import renewer

logger = logging.getLogger("scheduler_app")


class FallbackLock:
    def __init__(self, *, primary: Callable[[], LockBackend], fallback: LockBackend):
        self._build_primary = primary
        self._primary: LockBackend | None = None
        self.fallback = fallback
        self._primary_down_until = 0.0  # after a failure, go straight to the fallback for a moment
        self._mutex = threading.Lock()

    @property
    def primary(self) -> LockBackend:
        if self._primary is None:
            with self._mutex:
                if self._primary is None:
                    self._primary = self._build_primary()
        return self._primary

    def use_primary(self, backend: LockBackend) -> None:
        with self._mutex:
            self._primary = backend
            self._primary_down_until = 0.0

    def _try_once(self, key: str, holder: Holder, lease_seconds: float):
        """One attempt on the primary, or on the fallback while it is down. (backend, ok, holder, ttl)."""
        fail = settings.LOCK_FALLBACK == "fail"
        if time.monotonic() >= self._primary_down_until:
            backend = self.primary
            try:
                ok, current, ttl = backend.acquire(key, holder, lease_seconds)
                return backend, ok, current, ttl
            except BackendUnavailable as exc:
                self._primary_down_until = time.monotonic() + settings.LOCK_REDIS_RETRY_SECONDS
                logger.error("Failed to acquire Redis lock for job: %s (%s); %s", key, exc,
                             "refusing the run (LOCK_FALLBACK=fail)" if fail
                             else "falling back to the database lease", extra=lock_log_extra(key, holder.run_id))
                error: Exception = exc
        else:
            error = BackendUnavailable("Redis was unreachable moments ago")
            if fail:
                logger.error("Failed to acquire Redis lock for job: %s (%s); refusing the run", key, error,
                             extra=lock_log_extra(key, holder.run_id))
        if fail:
            raise LockServiceUnavailable(f"Lock service unavailable: {error}")
        ok, current, ttl = self.fallback.acquire(key, holder, lease_seconds)
        return self.fallback, ok, current, ttl

    def acquire(self, key: str, *, ttl_seconds: float, wait_seconds: float = 0,
                run_id: int | None = None) -> Lease:
        """Take the lock or raise LockNotAcquired (holder, TTL left) / LockServiceUnavailable. A waiter sleeps
        until the holder releases (a wake-up signal) or its lease could have lapsed, never in a slow poll."""
        lease_seconds = min(float(settings.LOCK_LEASE_SECONDS), max(float(ttl_seconds), 0.001))
        holder = Holder.new(run_id=run_id)
        started = time.monotonic()
        give_up = started + max(0.0, wait_seconds)
        listener = listener_backend = None
        try:
            while True:
                backend, ok, current, ttl = self._try_once(key, holder, lease_seconds)
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
                    listener, listener_backend = self._listen(backend, key), backend
                    continue  # subscribed: try once more, so a release in between is not missed
                try:
                    listener.wait(remaining if ttl is None else min(remaining, ttl + 0.01))
                except BackendUnavailable:
                    listener.close()
                    listener = None
                    time.sleep(0.05)
        finally:
            if listener is not None:
                listener.close()

    def wait_for_release(self, key: str, timeout: float) -> None:
        """Sleep up to `timeout`, or less if the key's holder releases meanwhile (where there is a signal)."""
        if timeout <= 0:
            return
        listener = self._listen(self.primary if time.monotonic() >= self._primary_down_until else self.fallback,
                                key)
        try:
            listener.wait(timeout)
        except BackendUnavailable:
            time.sleep(min(timeout, 0.05))
        finally:
            listener.close()

    def _listen(self, backend: LockBackend, key: str):
        try:
            return backend.release_listener(key)
        except BackendUnavailable:
            return self.fallback.release_listener(key)

    def inspect(self, key: str) -> LockState | None:
        """The key's holder and TTL, from Redis, or from the database lease while Redis is down."""
        try:
            state = self.primary.inspect(key)
        except BackendUnavailable:
            state = None
        return state or self.fallback.inspect(key)

    def list_locks(self) -> tuple[list[LockState], bool]:
        """All held locks (Redis and database leases) and whether Redis answered."""
        states: list[LockState] = []
        redis_ok = True
        try:
            states.extend(self.primary.list())
        except BackendUnavailable:
            redis_ok = False
        states.extend(self.fallback.list())
        return states, redis_ok

    def force_release(self, key: str) -> bool:
        released = False
        for backend in (self.primary, self.fallback):
            try:
                released |= backend.force_release(key)
            except BackendUnavailable:
                continue
        return released

    def release_if_unchanged(self, state: LockState) -> bool:
        backend = self.primary if state.backend == self.primary.name else self.fallback
        try:
            return backend.release_if_unchanged(state)
        except BackendUnavailable:
            return False

    def primary_available(self) -> bool:
        try:
            return self.primary.ping()
        except BackendUnavailable:
            return False
