"""What operators do to locks: force-release, clear stale ones, and the scheduler's minute reaper."""

from __future__ import annotations

import logging

from scheduler_app import locks, runs, selectors
from scheduler_app.locks import LockState
from scheduler_app.models import DatabaseLock

logger = logging.getLogger("scheduler_app")


def lock_force_release(*, key: str) -> bool:
    """Delete a lock whoever holds it (an operator's decision). Logged."""
    released = locks.force_release(key)
    if released:
        logger.warning("Lock for job: %s force-released by an operator", key)
    return released


def job_locks_force_release(*, job_id: str) -> list[str]:
    """Force-release every lock of a job: its own key and, for a team-scoped job, each team's key. Logged."""
    states, _redis_ok = locks.list_locks()
    keys = sorted({state.key for state in states if state.job_id == job_id} | {job_id})
    return [key for key in keys if lock_force_release(key=key)]


def locks_clear_stale() -> list[LockState]:
    """Reap dead runs, then delete the locks that are stale (holder's run finished/abandoned, or no TTL).

    Deletion is compare-and-delete on the stale holder's token, so a lock that changed hands meanwhile stays.
    A live holder's lock is never stale and never removed.
    """
    runs.runs_reap_abandoned()
    cleared = []
    for state in selectors.lock_states():
        if not state.extra.get("stale"):
            continue
        if locks.release_if_unchanged(state):
            logger.warning("Stale lock for job: %s cleared (%s)", state.key, state.extra.get("stale_reason"))
            cleared.append(state)
    return cleared


def database_locks_cleanup(*, keys: list[str] | None = None) -> list[str]:
    """Delete leftover database lease rows (released, never set, or expired: rows left after an outage), of `keys`
    if given, and return the keys deleted. A live lease is never deleted, selected or not: the DELETE itself checks
    that the row is leftover, so a lease taken meanwhile stays. (A later fallback acquire creates its row again.)"""
    leftover = selectors.database_locks_leftover(keys=keys)
    found = list(leftover.values_list("key", flat=True))
    if not found:
        return []
    leftover.filter(key__in=found).delete()
    remaining = set(DatabaseLock.objects.filter(key__in=found).values_list("key", flat=True))
    deleted = sorted(set(found) - remaining)
    if deleted:
        logger.warning("Leftover database lock rows deleted by an operator: %s", ", ".join(deleted))
    return deleted


def reaper_run() -> dict:
    """What the scheduler runs every minute: abandoned runs, then stale locks."""
    abandoned = runs.runs_reap_abandoned()
    cleared = locks_clear_stale()
    return {"abandoned": abandoned, "locks_cleared": [state.key for state in cleared]}
