"""Database lease fallback: a DatabaseLock row taken by compare-and-swap (after django-q2's ORM lease).

Used only while Redis is unreachable and LOCK_FALLBACK=database. It knows nothing of runs: the run recorder's
guard (one RUNNING run per key, in the database) is what keeps a Redis holder and a fallback holder apart.
"""

from __future__ import annotations

import time
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from scheduler_app.locks.base import Holder, LockBackend, LockState, RenewResult
from scheduler_app.models import DatabaseLock


class DatabaseLockBackend(LockBackend):
    name = "database"
    poll_seconds = 0.05  # fallback mode only; Redis mode wakes on release

    def _ensure_row(self, key: str) -> None:
        if DatabaseLock.objects.filter(key=key).exists():
            return
        try:
            with transaction.atomic():
                DatabaseLock.objects.create(key=key)
        except IntegrityError:
            pass  # created concurrently

    def acquire(self, key: str, holder: Holder, lease_seconds: float) -> tuple[bool, Holder | None, float | None]:
        self._ensure_row(key)
        now = timezone.now()
        taken = (
            DatabaseLock.objects.filter(key=key)
            .filter(Q(token="") | Q(expires_at__lt=now))
            .update(token=holder.token, holder=holder.as_dict(), expires_at=now + timedelta(seconds=lease_seconds))
        )
        if taken:
            return True, holder, None
        row = DatabaseLock.objects.filter(key=key).values_list("holder", "expires_at").first()
        if row is None or row[1] is None:  # released between the two queries: let the caller retry
            return False, None, 0.0
        return False, Holder.parse_dict(row[0]), max(0.0, (row[1] - now).total_seconds())

    def release(self, key: str, holder: Holder) -> bool:
        return bool(
            DatabaseLock.objects.filter(key=key, token=holder.token).update(token="", holder=None, expires_at=None)
        )

    def extend(self, key: str, holder: Holder, lease_seconds: float) -> str:
        ok = DatabaseLock.objects.filter(key=key, token=holder.token).update(
            expires_at=timezone.now() + timedelta(seconds=lease_seconds)
        )
        if ok:
            return RenewResult.RENEWED
        # Gone (an operator cleared it) or expired and taken: set it again only if it is free.
        restored = DatabaseLock.objects.filter(key=key).filter(Q(token="") | Q(expires_at__lt=timezone.now())).update(
            token=holder.token, holder=holder.as_dict(), expires_at=timezone.now() + timedelta(seconds=lease_seconds))
        return RenewResult.RESTORED if restored else RenewResult.HELD_BY_OTHER

    def _state(self, row) -> LockState:
        ttl = (row.expires_at - timezone.now()).total_seconds() if row.expires_at else None
        return LockState(key=row.key, holder=Holder.parse_dict(row.holder), ttl_seconds=ttl, backend=self.name)

    def inspect(self, key: str) -> LockState | None:
        row = DatabaseLock.objects.filter(key=key, expires_at__gte=timezone.now()).exclude(token="").first()
        return self._state(row) if row else None

    def list(self) -> list[LockState]:
        rows = DatabaseLock.objects.filter(expires_at__gte=timezone.now()).exclude(token="").order_by("key")
        return [self._state(row) for row in rows]

    def force_release(self, key: str) -> bool:
        return bool(DatabaseLock.objects.filter(key=key).exclude(token="").update(token="", holder=None,
                                                                                  expires_at=None))

    def release_if_unchanged(self, state: LockState) -> bool:
        if state.holder is None:
            return False
        return self.release(state.key, state.holder)

    def release_listener(self, key: str) -> PollingListener:
        return PollingListener(self.poll_seconds)

    def ping(self) -> bool:
        return True


class PollingListener:
    """Fallback mode only: the database has no wake-up, so a waiter looks again every `poll_seconds`."""

    def __init__(self, poll_seconds: float) -> None:
        self.poll_seconds = poll_seconds

    def wait(self, timeout: float) -> None:
        time.sleep(max(0.0, min(timeout, self.poll_seconds)))

    def close(self) -> None:
        pass
