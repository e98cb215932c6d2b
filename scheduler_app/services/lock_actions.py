"""What operators do to locks: force-release, clear stale ones, and the scheduler's minute reaper."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings

from scheduler_app import locks, runner, runs, selectors
from scheduler_app.locks import LockState
from scheduler_app.models import DatabaseLock, JobRun, OperatorAction
from scheduler_app.services.operator_actions import operator_action_record

logger = logging.getLogger("scheduler_app")


def lock_force_release(*, key: str) -> bool:
    """Delete a lock whoever holds it (an operator's decision). Logged, naming the holder's run: the line then
    shows in that run's logs (`?run_id=N`)."""
    state = locks.inspect(key)
    released = locks.force_release(key)
    if released:
        run_id = state.holder.run_id if state and state.holder else None
        logger.warning("Lock for job: %s force-released by an operator", key,
                       extra=locks.lock_log_extra(key, run_id))
    return released


@dataclass(frozen=True)
class LockClear:
    """What clearing one key did. `holder_live`: its holder's run is RUNNING, so the holder's renewal sets the key
    again (within lease/3) and the database guard keeps other runs out meanwhile: clearing does not stop it."""

    key: str
    released: bool
    holder_run_id: int | None
    holder_live: bool
    message: str

    def as_dict(self) -> dict:
        return {"key": self.key, "released": self.released, "holder_run_id": self.holder_run_id,
                "holder_live": self.holder_live, "message": self.message}


def lock_holders_live(*, job_id: str) -> list[LockState]:
    """The job's locks whose holder's run is still RUNNING (what a clear would not stop)."""
    return [state for state in selectors.lock_states() if state.job_id == job_id and not state.extra.get("stale")
            and state.extra.get("run_status") == JobRun.Status.RUNNING]


def lock_clear(*, key: str, user=None, source: str) -> LockClear:
    """An operator's clear of one key, whoever holds it; recorded, with an honest account of what follows."""
    state = next((s for s in selectors.lock_states() if s.key == key), None)
    run_id = state.holder.run_id if state is not None and state.holder else None
    live = state is not None and not state.extra.get("stale") and state.extra.get("run_status") == JobRun.Status.RUNNING
    released = lock_force_release(key=key)
    if not released:
        message = f"No lock was held for {key}."
    elif live:
        message = (f"job_lock:{key} deleted, but its holder, run #{run_id}, is alive: its renewal sets the key "
                   f"again within {settings.LOCK_LEASE_SECONDS / 3:g} s, and the database keeps other runs out "
                   "meanwhile. To stop it, cancel the run.")
    else:
        why = state.extra.get("stale_reason") if state is not None else ""
        message = f"job_lock:{key} cleared" + (f" ({why})." if why else ".")
    operator_action_record(user=user, source=source, action=OperatorAction.Action.CLEAR_LOCK,
                           job_id=key.split(":team:")[0], run_id=run_id, outcome=message)
    return LockClear(key=key, released=released, holder_run_id=run_id, holder_live=live, message=message)


def job_locks_clear(*, job_id: str, user=None, source: str) -> list[LockClear]:
    """Clear every lock of a job: its own key and, for a team-scoped job, each team's key."""
    states, _redis_ok = locks.list_locks()
    keys = sorted({state.key for state in states if state.job_id == job_id}) or [job_id]
    return [lock_clear(key=key, user=user, source=source) for key in keys]


def locks_clear_stale(*, user=None, source: str | None = None) -> list[LockState]:
    """Reap dead runs, then delete the locks that are stale (holder's run finished/abandoned, or no TTL).

    Deletion is compare-and-delete on the stale holder's token, so a lock that changed hands meanwhile stays.
    A live holder's lock is never stale and never removed. Recorded as an operator action when `source` says
    whose (the scheduler's own reaper passes none).
    """
    runs.runs_reap_abandoned()
    cleared = []
    for state in selectors.lock_states():
        if not state.extra.get("stale"):
            continue
        if locks.release_if_unchanged(state):
            logger.warning("Stale lock for job: %s cleared (%s)", state.key, state.extra.get("stale_reason"),
                           extra=locks.lock_log_extra(state.key, state.holder.run_id if state.holder else None))
            cleared.append(state)
    if source is not None:
        keys = ", ".join(state.key for state in cleared) or "none were stale"
        operator_action_record(user=user, source=source, action=OperatorAction.Action.CLEAR_STALE_LOCKS,
                               outcome=f"{len(cleared)} stale lock(s) cleared: {keys}")
    return cleared


def database_locks_cleanup(*, keys: list[str] | None = None, user=None, source: str | None = None) -> list[str]:
    """Delete leftover database lease rows (released, never set, or expired: rows left after an outage), of `keys`
    if given, and return the keys deleted. A live lease is never deleted, selected or not: the DELETE itself checks
    that the row is leftover, so a lease taken meanwhile stays. (A later fallback acquire creates its row again.)"""
    leftover = selectors.database_locks_leftover(keys=keys)
    found = list(leftover.values_list("key", flat=True))
    deleted: list[str] = []
    if found:
        leftover.filter(key__in=found).delete()
        remaining = set(DatabaseLock.objects.filter(key__in=found).values_list("key", flat=True))
        deleted = sorted(set(found) - remaining)
    if deleted:
        logger.warning("Leftover database lock rows deleted by an operator: %s", ", ".join(deleted))
    if source is not None:
        operator_action_record(user=user, source=source, action=OperatorAction.Action.CLEAN_DATABASE_LOCKS,
                               outcome=f"{len(deleted)} leftover database lock row(s) deleted: "
                                       f"{', '.join(deleted) or 'none were leftover'}")
    return deleted


def reaper_run() -> dict:
    """What the scheduler runs every minute: abandoned runs, stale locks, then queued (queue_one) runs whose
    waiting process is gone and whose key is free: they start here."""
    abandoned = runs.runs_reap_abandoned()
    cleared = locks_clear_stale()
    queued = runner.runs_queued_adopt()
    return {"abandoned": abandoned, "locks_cleared": [state.key for state in cleared], "queued_started": queued}
