"""What a job is doing now, as the console names it: idle, running (for N s of its timeout), silent, or locked.

The rule for "silent": the renewal thread writes a RUNNING run's heartbeat every lease/3, so a heartbeat older than
one and a half periods (lease/2), and at least one period plus a second (lease/3 + 1 s, for slow writes on short
leases), means the holder stopped beating. DESIGN.md counts it dead once the heartbeat is a whole lease old; until
the reaper or the next trigger abandons it, the run stays RUNNING and the console says "silent for N s, considered
dead at M s".
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings

from scheduler_app.models import JobRun

SUCCESS = (JobRun.Status.SUCCEEDED, JobRun.Status.PARTIAL)
FAILURE = (JobRun.Status.FAILED, JobRun.Status.TIMED_OUT, JobRun.Status.LOST_LOCK, JobRun.Status.ABANDONED)
SKIPS = (JobRun.Status.SKIPPED, JobRun.Status.MISSED)  # triggers that did not run: refused, or a missed slot


def silent_after_seconds() -> float:
    lease = settings.LOCK_LEASE_SECONDS
    return max(lease / 2, lease / 3 + 1.0)


def dead_after_seconds() -> float:
    return float(settings.LOCK_LEASE_SECONDS)


def _seconds(later: datetime, earlier: datetime | None) -> float | None:
    return None if earlier is None else round(max(0.0, (later - earlier).total_seconds()), 1)


def job_state(*, run: dict | None, locked: bool, timeout_minutes: float, now: datetime, queued: int = 0) -> dict:
    """The state of a job from its newest RUNNING run (`run`: id, started_at, heartbeat_at, host, pid and
    timeout_seconds as datetimes and numbers) and whether its lock key is held.

    `kind` is "running", "silent", "locked" (a key held with no RUNNING run: a direct holder, or a stale key),
    "queued" (`queued` triggers wait for the lock and nothing runs yet) or "idle". `queued` is also given beside a
    running or silent run. Ages are in seconds, rounded to a tenth.
    """
    if run is None:
        if queued:
            return {"kind": "queued", "queued": queued}
        return {"kind": "locked" if locked else "idle"}
    heartbeat_age = _seconds(now, run["heartbeat_at"] or run["started_at"])
    timeout = run.get("timeout_seconds") or timeout_minutes * 60
    state = {
        "kind": "running",
        "run_id": run["id"],
        "host": run.get("host") or "",
        "pid": run.get("pid"),
        "elapsed_seconds": _seconds(now, run["started_at"]),
        "timeout_seconds": round(timeout, 1),
        "heartbeat_age_seconds": heartbeat_age,
        "silent_after_seconds": round(silent_after_seconds(), 1),
        "dead_after_seconds": round(dead_after_seconds(), 1),
        "queued": queued,
    }
    if heartbeat_age is not None and heartbeat_age > state["silent_after_seconds"]:
        state["kind"] = "silent"
    return state


def state_text(state: dict) -> str:
    """One line for the admin and the CLI: "running for 12 s of 600 s", "silent for 14 s, considered dead at 30 s"."""
    kind = state["kind"]
    waiting = f"; {state['queued']} queued" if state.get("queued") else ""
    if kind == "silent":
        silent, dead = state["heartbeat_age_seconds"], state["dead_after_seconds"]
        return f"silent for {silent:.0f} s, considered dead at {dead:.0f} s{waiting}"
    if kind == "running":
        elapsed = state["elapsed_seconds"]
        return f"running for {elapsed or 0:.0f} s of {state['timeout_seconds']:.0f} s{waiting}"
    if kind == "queued":
        return f"queued: {state['queued']} waiting for the lock"
    if kind == "locked":
        return "lock held, no run"
    return "idle"


def pause_text(*, paused_by: str, paused_at: datetime | None, reason: str) -> str:
    """"paused by X since T: reason" for a paused schedule (T in TIME_ZONE, to the second); "" when not paused."""
    if paused_at is None:
        return ""
    since = paused_at.astimezone(ZoneInfo(settings.TIME_ZONE)).isoformat(timespec="seconds")
    return f"paused by {paused_by or 'an operator'} since {since}: {reason}"
