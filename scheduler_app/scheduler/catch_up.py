"""Catch-up policies: which slots a scheduler fires when a job's stored next run time is behind (the scheduler was
down, or the job store unavailable), and which it records MISSED.

Computed by the executor when a claimed job is submitted, from the job's earliest due slot (its stored next run
time) and its latest due slot. Every due slot is either fired or listed as missed (one MISSED row covers them):

- `latest`: the latest due slot runs (within the misfire grace time, as every fire); the ones before it fold into
  it (APScheduler's coalesce).
- `none`: with one due slot, it fires as usual (a fire late by less than a period is not a catch-up); with more,
  none runs, and the next run is the next future slot.
- `all_within`: every due slot within the last `window_seconds` runs, oldest first, each for its own slot (the
  per-slot guard holds for each); the latest due slot also runs within the misfire grace time. Older ones are
  missed. At most `limit` (CATCH_UP_RUNS_MAX) run: the newest of them.

The job store's claim already moved the job's next run time past every due slot, so no other scheduler fires them.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from apscheduler.triggers.base import BaseTrigger

from scheduler_app.models import JobDefinition
from scheduler_app.scheduler import triggers

Policy = JobDefinition.CatchUpPolicy
CATCH_UP_RUNS_MAX = 1000  # all_within runs per catch-up; and the MISSED row lists at most this many slots


@dataclass(frozen=True)
class JobPolicy:
    """What the executor needs of a job's definition, as the last reload read it."""

    catch_up: str = Policy.LATEST
    window_seconds: int | None = None
    jitter_seconds: int = 0

    @classmethod
    def of(cls, definition: JobDefinition) -> JobPolicy:
        return cls(catch_up=definition.catch_up_policy, window_seconds=definition.catch_up_window_seconds,
                   jitter_seconds=definition.jitter_seconds or 0)


@dataclass
class Plan:
    run: list[datetime]  # slots to fire, oldest first
    missed: list[datetime] = field(default_factory=list)  # slots to record MISSED, oldest first (capped)
    capped: bool = False  # more slots were missed than `missed` lists
    because: str | None = None  # why the missed slots did not run; None: they folded into the latest (coalesce)
    no_grace: bool = False  # the slots in `run` fire however late (the window chose them, not the grace time)


def catch_up_plan(*, policy: JobPolicy, trigger: BaseTrigger, first_due: datetime, latest: datetime,
                  now: datetime, limit: int = CATCH_UP_RUNS_MAX) -> Plan:
    """`limit`: the most slots a plan lists (walking the trigger is in the scheduler's loop)."""
    if policy.catch_up == Policy.ALL_WITHIN and policy.window_seconds:
        return _all_within(policy.window_seconds, trigger, first_due, latest, now, limit)
    before = triggers.slots_between(trigger, first_due, latest, limit=limit)
    capped = len(before) >= limit
    if policy.catch_up == Policy.NONE and before:
        missed = before if capped else [*before, latest]
        return Plan(run=[], missed=missed, capped=capped,
                    because="none of them ran: the job's catch-up policy is none (the next run is its next slot)")
    return Plan(run=[latest], missed=before, capped=capped)


def _all_within(window: int, trigger: BaseTrigger, first_due: datetime, latest: datetime, now: datetime,
                limit: int) -> Plan:
    # One walk from the stored next run time, as APScheduler's own (`Job._get_run_times`) walks every due slot.
    cutoff = now - timedelta(seconds=window)
    within: deque[datetime] = deque(maxlen=limit)
    missed: list[datetime] = []  # older than the window, then within it but beyond the most that run
    count = 0
    fire: datetime | None = first_due
    while fire is not None and fire <= latest:
        if fire < cutoff or len(within) == limit:
            dropped = fire if fire < cutoff else within[0]
            count += 1
            if len(missed) < limit:
                missed.append(dropped)
        if fire >= cutoff:
            within.append(fire)
        fire = trigger.get_next_fire_time(fire, fire + timedelta(microseconds=1))
    because = f"they are older than the job's catch-up window ({window} s)"
    if not within:  # even the latest due slot is older than the window: it still has the misfire grace time
        if missed and missed[-1] == latest:
            missed.pop()
        return Plan(run=[latest], missed=missed, capped=count - 1 > len(missed), because=because)
    run = list(within)
    return Plan(run=run, missed=missed, capped=count > len(missed), no_grace=True,
                because=f"{because}; {len(run)} slot(s) within it run one after another")
