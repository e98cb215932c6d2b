"""One long-lived renewal thread per process renews every held lease (not one thread per lock).

Each tick it first confirms the leases' runs in the database (one UPDATE that is also their heartbeat), then
extends their keys. A lease whose run the database no longer names as RUNNING is lost. A lease that neither Redis
nor the database has confirmed for a whole lease (less a margin) stops itself (lost), before anyone may take it
over; the job's own `ctx.check()` and `ctx.atomic()` read the same clock, so a renewal thread stuck in a network call
cannot keep a run going. The thread
also fires each lease's deadline (the job's timeout). Every step is guarded: a failure is logged and retried, and
if the thread ever dies it is restarted on the next registration.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from scheduler_app.locks.base import BackendUnavailable, RenewResult
from scheduler_app.locks.lease import Lease

logger = logging.getLogger("scheduler_app")

# Given the run ids of the leases due, return {run_id: still RUNNING?}, or None when the database is unreachable.
RunConfirmer = Callable[[list[int]], "dict[int, bool] | None"]


class LeaseRenewer:
    def __init__(self) -> None:
        self._leases: dict[int, Lease] = {}
        self._mutex = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._confirm_runs: RunConfirmer | None = None
        self._next_wake = 0.0  # when the sleeping thread will look again on its own
        self._generation = 0  # bumped by add(): a tick that raced an add runs again at once
        self.paused = False  # tests hold renewal off to play a late finisher

    def set_run_confirmer(self, confirm: RunConfirmer) -> None:
        self._confirm_runs = confirm

    def add(self, lease: Lease) -> None:
        lease.on_release.append(self.remove)
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
        now = time.monotonic()
        due: list[Lease] = []
        for lease in self.held():
            if lease.deadline_fired:
                continue  # held as long as it may be: never renewed again, so its key expires within the lease
            if now >= lease.deadline:
                lease.fire_deadline()
            elif self.paused or lease.released or lease.lost:
                continue
            elif now >= lease.next_renewal:
                due.append(lease)  # past stop_by too, a confirmation now still counts: it proves nobody took over
            elif now >= lease.stop_by():
                lease.mark_lost(lease.lost_unconfirmed_reason())
        if due:
            asked = time.monotonic()
            alive = self._confirm([lease.run_id for lease in due if lease.run_id is not None])
            confirmed = time.monotonic()
            for lease in due:
                self._renew(lease, alive, asked, confirmed)
        next_due = now + 5.0
        for lease in self.held():
            if not lease.lost and not lease.released and not lease.deadline_fired:
                next_due = min(next_due, lease.next_renewal, lease.deadline, lease.stop_by())
        return max(0.01, next_due - time.monotonic())

    def _confirm(self, run_ids: list[int]) -> dict[int, bool] | None:
        if not run_ids or self._confirm_runs is None:
            return None
        try:
            return self._confirm_runs(run_ids)
        except Exception:  # noqa: BLE001 - the confirmer reports None for an outage; anything else is a bug
            logger.exception("Run heartbeat failed")
            return None

    def _renew(self, lease: Lease, alive: dict[int, bool] | None, asked: float, confirmed: float) -> None:
        """Renew one lease, given the database's answer (`alive`), when it was asked for and when it came
        (`asked`, `confirmed`, monotonic)."""
        now = time.monotonic()
        lease.next_renewal = now + lease.lease_seconds / 3
        in_database = None if alive is None or lease.run_id is None else alive.get(lease.run_id)
        if in_database is False:
            lease.mark_lost(f"run {lease.run_id} is no longer RUNNING in the database (another holder took over, "
                            "or an operator ended it)")
            return
        # Only the check and the extend hold the lease's mutex (consequences such as mark_lost run outside it, as
        # they finish the run and release the lease): a release waits for an extend in flight, then deletes the
        # key it may have set again; an extend after a release never happens.
        with lease.renewal_mutex:
            if lease.released or lease.lost:
                return
            if time.monotonic() - confirmed > lease.lease_seconds / 3:
                # This thread stood still after the database answered (a paused process, a stalled host): the
                # answer is stale, and another holder may have taken over since. Ask the database again first.
                lease.next_renewal = time.monotonic()
                return
            extend_asked = time.monotonic()
            result = self._extend(lease)
        if result == RenewResult.RESTORED:
            logger.warning("Lock for job: %s was gone (Redis restarted?); set again for run %s", lease.key,
                           lease.run_id, extra=lease.log_extra)
        elif result == RenewResult.HELD_BY_OTHER:
            if lease.run_id is None:
                lease.mark_lost("another holder has the key")
                return
            if in_database:
                # A trigger that the database guard will refuse holds the key for a moment: our run is still the
                # key's holder in the database, so it goes on and sets the key again once it is free.
                logger.warning("Lock for job: %s is held by another token for now; the database still names run %s "
                               "its holder", lease.key, lease.run_id, extra=lease.log_extra)
        if in_database:
            lease.confirmed_at = max(lease.confirmed_at, asked)
        elif result in (RenewResult.RENEWED, RenewResult.RESTORED):
            lease.confirmed_at = max(lease.confirmed_at, extend_asked)
        elif time.monotonic() >= lease.stop_by():
            lease.mark_lost(lease.lost_unconfirmed_reason())

    @staticmethod
    def _extend(lease: Lease) -> RenewResult | None:
        try:
            return lease.backend.extend(lease.key, lease.holder, lease.lease_seconds)
        except BackendUnavailable as exc:
            # The run goes on; its database heartbeat keeps it guarded until Redis is back.
            logger.error("Failed to renew %s lock for job: %s (%s); run continues under its database heartbeat",
                         lease.backend.name, lease.key, exc, extra=lease.log_extra)
        except Exception:  # noqa: BLE001
            logger.exception("Failed to renew lock for job: %s", lease.key, extra=lease.log_extra)
        return None


renewer = LeaseRenewer()
