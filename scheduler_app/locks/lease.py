"""A held lock: what the renewal thread keeps alive until it is released, lost or past its deadline."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from scheduler_app.locks.base import BackendUnavailable, Holder, LockBackend, lock_log_extra

logger = logging.getLogger("scheduler_app")


class Lease:
    def __init__(self, *, key: str, holder: Holder, backend: LockBackend, lease_seconds: float, ttl_seconds: float,
                 wait_ms: float):
        now = time.monotonic()
        self.key = key
        self.holder = holder
        self.backend = backend
        self.lease_seconds = lease_seconds
        self.ttl_seconds = ttl_seconds
        self.deadline = now + ttl_seconds
        self.next_renewal = now + lease_seconds / 3
        # When the last confirmation that we still hold it (from Redis or the database) was asked for: a takeover
        # can only start a whole lease after the heartbeat or key that answer wrote, never earlier.
        self.confirmed_at = now
        self.wait_ms = wait_ms
        self.lost = False
        self.lost_reason = ""
        self.released = False
        self.deadline_fired = False
        self.on_lost: list[Callable[[Lease], None]] = []
        self.on_deadline: list[Callable[[Lease], None]] = []
        self.trigger = ""  # the run's trigger, for log lines about this lease (set by the runner)
        self.on_release: list[Callable[[Lease], None]] = []  # the renewal thread stops renewing it
        # Held by the renewal thread around one renewal and by release() while it marks the lease released: a
        # renewal already in flight finishes before the release deletes the key, and none starts after it.
        self.renewal_mutex = threading.Lock()

    @property
    def run_id(self) -> int | None:
        return self.holder.run_id

    @property
    def log_extra(self) -> dict:
        """Names this lease's job and run (and the run's trigger, once the runner has said it) on the lines logged
        about it, mostly from the renewal thread."""
        extra = lock_log_extra(self.key, self.run_id)
        if self.trigger:
            extra["trigger"] = self.trigger
        return extra

    @property
    def backend_name(self) -> str:
        return self.backend.name

    def stop_by(self) -> float:
        """Monotonic time by which an unconfirmed holder must stop: a margin (a tenth of the lease, at most 1 s)
        before anyone else may take over, for clocks that differ between hosts."""
        return self.confirmed_at + self.lease_seconds - min(1.0, self.lease_seconds / 10)

    def unconfirmed_too_long(self) -> bool:
        """Past `stop_by` with no confirmation. Reads only the clock: it is what stops a run whose renewal thread is
        stuck in a network call (a cut link, a connection without a TCP timeout)."""
        return time.monotonic() >= self.stop_by()

    def lost_unconfirmed_reason(self) -> str:
        return f"could not renew in Redis or the database for a whole lease ({self.lease_seconds:g} s)"

    def mark_lost(self, reason: str) -> None:
        if self.lost:
            return
        self.lost = True
        self.lost_reason = reason
        if not self.on_lost:  # a run's own callback logs it with both fencing tokens
            logger.error("Lock lost for job: %s: %s", self.key, reason, extra=self.log_extra)
        for callback in self.on_lost:
            _safe(callback, self)

    def fire_deadline(self) -> None:
        self.deadline_fired = True
        for callback in self.on_deadline:
            _safe(callback, self)

    def release(self) -> bool | None:
        """Owner-only release. False when the lock is no longer ours (a late finisher deletes nothing);
        None when the backend could not be reached (the key then expires within the lease)."""
        with self.renewal_mutex:
            if self.released:
                return None
            self.released = True
        for callback in self.on_release:
            _safe(callback, self)
        try:
            return self.backend.release(self.key, self.holder)
        except BackendUnavailable as exc:
            logger.error("Failed to release %s lock for job: %s (%s); it expires within the lease",
                         self.backend.name, self.key, exc, extra=self.log_extra)
            return None


def _safe(callback, lease: Lease) -> None:
    try:
        callback(lease)
    except Exception:  # noqa: BLE001 - one failing callback must not stop the others or the renewal thread
        logger.exception("Lock callback failed", extra=lease.log_extra)
