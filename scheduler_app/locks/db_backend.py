"""Database lease fallback: a DatabaseLock row taken by compare-and-swap (after django-q2's ORM lease).

Used only while Redis is unreachable and LOCK_FALLBACK=database. Its CAS also refuses while the database shows a
RUNNING run of the key with a fresh heartbeat, so a Redis outage never admits a run beside a Redis holder.
"""

from __future__ import annotations

import time
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from scheduler_app.locks.base import Holder, LockState, RenewResult


def _models():
    from scheduler_app.models import DatabaseLock, JobRun

    return DatabaseLock, JobRun


class DatabaseLockBackend:
    name = "database"
    poll_seconds = 0.05  # fallback mode only; Redis mode wakes on release

    def _ensure_row(self, key: str) -> None:
        DatabaseLock, _ = _models()
        if DatabaseLock.objects.filter(key=key).exists():
            return
        try:
            with transaction.atomic():
                DatabaseLock.objects.create(key=key)
        except IntegrityError:
            pass  # created concurrently

    def acquire(self, key: str, holder: Holder, lease_seconds: float) -> tuple[bool, Holder | None, float | None]:
        DatabaseLock, JobRun = _models()
        self._ensure_row(key)
        now = timezone.now()
        fresh_after = now - timedelta(seconds=2 * settings.LOCK_LEASE_SECONDS)
        live_run = JobRun.objects.filter(
            lock_key=OuterRef("key"), status=JobRun.Status.RUNNING, heartbeat_at__gte=fresh_after
        ).exclude(pk=holder.run_id)
        taken = (
            DatabaseLock.objects.filter(key=key)
            .filter(Q(token="") | Q(expires_at__lt=now))
            .filter(~Exists(live_run))
            .update(
                token=holder.token,
                holder=holder.as_dict(),
                expires_at=now + timedelta(seconds=lease_seconds),
                fence=F("fence") + 1,
            )
        )
        row = DatabaseLock.objects.get(key=key)
        if taken:
            holder.fence = row.fence
            DatabaseLock.objects.filter(key=key, token=holder.token).update(holder=holder.as_dict())
            return True, holder, None
        if row.token and row.expires_at and row.expires_at >= now:
            return False, Holder.parse_dict(row.holder), (row.expires_at - now).total_seconds()
        run = JobRun.objects.filter(lock_key=key, status=JobRun.Status.RUNNING).order_by("-id").first()
        if run is None:  # the live run finished between the two queries: let the caller retry
            return False, None, 0.0
        return False, holder_of_run(run), None

    def release(self, key: str, holder: Holder) -> bool:
        DatabaseLock, _ = _models()
        return bool(
            DatabaseLock.objects.filter(key=key, token=holder.token).update(token="", holder=None, expires_at=None)
        )

    def extend(self, key: str, holder: Holder, lease_seconds: float) -> str:
        DatabaseLock, _ = _models()
        ok = DatabaseLock.objects.filter(key=key, token=holder.token).update(
            expires_at=timezone.now() + timedelta(seconds=lease_seconds)
        )
        return RenewResult.RENEWED if ok else RenewResult.LOST

    def _state(self, row) -> LockState:
        ttl = (row.expires_at - timezone.now()).total_seconds() if row.expires_at else None
        return LockState(key=row.key, holder=Holder.parse_dict(row.holder), ttl_seconds=ttl, backend=self.name)

    def inspect(self, key: str) -> LockState | None:
        DatabaseLock, _ = _models()
        row = DatabaseLock.objects.filter(key=key, expires_at__gte=timezone.now()).exclude(token="").first()
        return self._state(row) if row else None

    def list(self) -> list[LockState]:
        DatabaseLock, _ = _models()
        rows = DatabaseLock.objects.filter(expires_at__gte=timezone.now()).exclude(token="").order_by("key")
        return [self._state(row) for row in rows]

    def force_release(self, key: str) -> bool:
        DatabaseLock, _ = _models()
        return bool(DatabaseLock.objects.filter(key=key).exclude(token="").update(token="", holder=None,
                                                                                  expires_at=None))

    def release_if_unchanged(self, state: LockState) -> bool:
        if state.holder is None:
            return False
        return self.release(state.key, state.holder)

    def release_listener(self, key: str) -> PollingListener:
        return PollingListener(self.poll_seconds)

    def current_fence(self, key: str) -> int | None:
        DatabaseLock, _ = _models()
        return DatabaseLock.objects.filter(key=key).values_list("fence", flat=True).first()


def holder_of_run(run) -> Holder:
    return Holder(
        token=run.lock_token, run_id=run.pk, host=run.host, pid=run.pid or 0,
        acquired_at=run.started_at.timestamp() if run.started_at else 0, fence=run.fencing_token,
    )


class PollingListener:
    """Fallback mode only: the database has no wake-up, so a waiter looks again every `poll_seconds`."""

    def __init__(self, poll_seconds: float) -> None:
        self.poll_seconds = poll_seconds

    def wait(self, timeout: float) -> None:
        time.sleep(max(0.0, min(timeout, self.poll_seconds)))

    def close(self) -> None:
        pass
