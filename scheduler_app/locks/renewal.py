"""One long-lived renewal thread per process renews every held lease (not one thread per lock).

It also fires each lease's deadline (the job's timeout) and loss callbacks, and runs tick hooks (the run recorder's
database heartbeat). Every step is guarded: a failing renewal is logged and retried, the thread never dies silently,
and if it ever does die it is restarted on the next registration.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from scheduler_app.locks.base import BackendUnavailable, RenewResult

if TYPE_CHECKING:
    from scheduler_app.locks import Lease

logger = logging.getLogger("scheduler_app")


class LeaseRenewer:
    def __init__(self) -> None:
        self._leases: dict[int, Lease] = {}
        self._mutex = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._hooks: list[Callable[[list[Lease]], None]] = []
        self._next_wake = 0.0  # when the sleeping thread will look again on its own
        self._generation = 0  # bumped by add(): a tick that raced an add runs again at once
        self.paused = False  # tests hold renewal off to play a late finisher

    def add_tick_hook(self, hook: Callable[[list[Lease]], None]) -> None:
        if hook not in self._hooks:
            self._hooks.append(hook)

    def add(self, lease: Lease) -> None:
        with self._mutex:
            self._leases[id(lease)] = lease
            self._generation += 1
            if self._thread is None or not self._thread.is_alive():
                if self._thread is not None:
                    logger.error("Lease renewal thread had stopped; starting a new one")
                self._thread = threading.Thread(target=self._loop, name="lease-renewer", daemon=True)
                self._thread.start()
            # Wake the thread only if this lease is due before it would look anyway: on the hot path of
            # acquire+release that is almost never, and waking a thread costs more than the Redis round trip.
            wake = min(lease.next_renewal, lease.deadline) < self._next_wake
        if wake:
            self._wake.set()

    def remove(self, lease: Lease) -> None:
        with self._mutex:
            self._leases.pop(id(lease), None)

    def held(self) -> list[Lease]:
        with self._mutex:
            return list(self._leases.values())

    def _loop(self) -> None:
        while True:
            with self._mutex:
                generation = self._generation
            try:
                wait = self.tick()
            except BaseException:  # noqa: BLE001 - this thread must outlive any one failure
                logger.exception("Lease renewal tick failed; renewal goes on")
                wait = 0.5
            with self._mutex:
                if self._generation != generation:
                    wait = 0.0
                self._next_wake = time.monotonic() + wait
            self._wake.wait(timeout=wait)
            self._wake.clear()

    def tick(self) -> float:
        """Renew what is due, fire deadlines; return seconds until the next thing is due."""
        leases = self.held()
        now = time.monotonic()
        renewed: list[Lease] = []
        next_due = now + 5.0
        for lease in leases:
            if not lease.deadline_fired and now >= lease.deadline:
                lease.fire_deadline()
                continue
            if not self.paused and now >= lease.next_renewal:
                if self._renew(lease):
                    renewed.append(lease)
            if not lease.lost and not lease.released:
                next_due = min(next_due, lease.next_renewal, lease.deadline)
        if renewed:
            for hook in self._hooks:
                try:
                    hook(renewed)
                except Exception:  # noqa: BLE001
                    logger.exception("Lease tick hook failed")
        return max(0.01, next_due - time.monotonic())

    def _renew(self, lease: Lease) -> bool:
        lease.next_renewal = time.monotonic() + lease.lease_seconds / 3
        if lease.released or lease.lost:
            return False
        try:
            result = lease.backend.extend(lease.key, lease.holder, lease.lease_seconds)
        except BackendUnavailable as exc:
            # The run goes on; its database heartbeat keeps it guarded until Redis is back.
            logger.error("Failed to renew %s lock for job: %s (%s); run continues under its database heartbeat",
                         lease.backend.name, lease.key, exc)
            return True
        except Exception:  # noqa: BLE001
            logger.exception("Failed to renew lock for job: %s", lease.key)
            return True
        if result == RenewResult.LOST:
            lease.mark_lost()
            return False
        if result == RenewResult.RESTORED:
            logger.warning("Lock for job: %s was gone (Redis restarted?); set again for its holder", lease.key)
        return True


renewer = LeaseRenewer()
