"""What operators do to locks: force-release, clear stale ones, and the scheduler's minute reaper."""

from __future__ import annotations

import logging

from scheduler_app import locks, runs, selectors
from scheduler_app.locks import LockState

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
            logger.warning("Stale lock for job: %s cleared (%s)", state.key, state.extra.get("stale_reason"),
                           extra=locks.lock_log_extra(state.key, state.holder.run_id if state.holder else None))
            cleared.append(state)
    return cleared


def reaper_run() -> dict:
    """What the scheduler runs every minute: abandoned runs, then stale locks."""
    abandoned = runs.runs_reap_abandoned()
    cleared = locks_clear_stale()
    return {"abandoned": abandoned, "locks_cleared": [state.key for state in cleared]}
