"""A job's next fire times, with their offsets and daylight-saving notes: the one preview that the CLI
(`schedule preview`), the API (`jobs/<id>/next-runs`) and the admin's job page show."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from django.utils import timezone

from scheduler_app.models import JobDefinition
from scheduler_app.scheduler import triggers

NEXT_RUNS_MAX = 100
START_YEARS = (1970, 9000)  # far from Python's last date, where the fire times would overflow
_SECOND = timedelta(seconds=1)
_LEAP_SECOND = re.compile(r"(T\d\d:\d\d):60")


def next_runs_start_parse(text: str) -> datetime:
    """A preview's start from ISO 8601 / RFC 3339 text (naive stays naive: the job's zone); ValueError says what is
    wrong. Every RFC 3339 date-time is accepted: lower-case t and z, a leap second (read as :59), and a year outside
    START_YEARS, which is moved to the nearest of them (a preview from year 1 starts in 1970)."""
    cleaned = text.strip().upper()
    cleaned = _LEAP_SECOND.sub(r"\1:59", cleaned)
    try:
        start = datetime.fromisoformat(cleaned)
    except ValueError:
        raise ValueError(f"Not an ISO 8601 date-time: {text!r} (e.g. 2026-10-25T01:30 or "
                         f"2026-10-25T01:30:00+02:00).") from None
    if START_YEARS[0] <= start.year <= START_YEARS[1]:
        return start
    year = START_YEARS[0] if start.year < START_YEARS[0] else START_YEARS[1]
    return datetime(year, 1, 1, tzinfo=UTC if start.tzinfo is not None else None)


def job_next_runs(*, job_id: str, start: datetime | None = None, count: int = 10) -> dict | None:
    """The preview of a job's next `count` fires from `start` (default now; naive means the job's zone), or None
    when no definition has this id. See `definition_next_runs`."""
    definition = JobDefinition.objects.filter(job_id=job_id).first()
    if definition is None:
        return None
    return definition_next_runs(definition=definition, start=start, count=count)


def definition_next_runs(*, definition: JobDefinition, start: datetime | None = None, count: int = 10) -> dict:
    """`{job_id, time_zone, schedule, schedule_words, from, count, runs: [...], reason}`.

    Each run: `at` (ISO 8601 in the job's zone, with its offset), `utc`, `local` (the wall time), `utc_offset`,
    `abbreviation`, and `note` (set at or near a daylight-saving transition, else ""). `runs` is empty and `reason`
    says why for a job that does not fire (on demand, disabled, a schedule that cannot be built).
    """
    if not 1 <= count <= NEXT_RUNS_MAX:
        raise ValueError(f"count must be from 1 to {NEXT_RUNS_MAX}")
    out = {"job_id": definition.job_id, "time_zone": triggers.zone_name(definition),
           "schedule": triggers.schedule_text(definition), "schedule_words": triggers.schedule_words(definition),
           "from": None, "count": count, "runs": [], "reason": None}
    try:
        zone = triggers.job_zone(definition)
    except ValueError as exc:
        return {**out, "reason": str(exc)}
    start = start or timezone.now()
    if timezone.is_naive(start):
        start = start.replace(tzinfo=zone)  # fold 0: an ambiguous wall time means its first occurrence
    out["from"] = start.astimezone(zone).isoformat()
    if not triggers.has_schedule(definition):
        return {**out, "reason": "The job has no schedule: it runs on demand only (API, admin, CLI)."}
    if not definition.enabled:
        return {**out, "reason": "The job is disabled: its schedule does not fire."}
    try:
        trigger = triggers.trigger_build(definition)
    except ValueError as exc:
        return {**out, "reason": f"The schedule cannot be built: {exc}"}
    fires = triggers.next_fire_times(trigger, now=start, count=count)
    runs, previous = [], start
    for fire in fires:
        try:
            runs.append(_entry(fire, zone=zone, trigger=trigger, since=previous))
        except OverflowError:  # near Python's last date
            break
        previous = fire
    return {**out, "runs": runs}


def _entry(fire: datetime, *, zone, trigger, since: datetime) -> dict:
    local = fire.astimezone(zone)
    offset = local.utcoffset()
    return {"at": local.isoformat(), "utc": fire.astimezone(triggers.UTC).isoformat(),
            "local": local.strftime("%Y-%m-%d %H:%M:%S"), "utc_offset": _offset_text(offset),
            "abbreviation": local.tzname(), "note": _note(local, zone=zone, trigger=trigger, since=since)}


def _offset_text(offset: timedelta) -> str:
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _change_label(before: datetime, after: datetime) -> str:
    if before.dst() == after.dst():
        return "UTC offset changes"
    return "DST starts" if after.utcoffset() > before.utcoffset() else "DST ends"


def _hhmm(value: datetime) -> str:
    return value.strftime("%H:%M")


def _note(local: datetime, *, zone, trigger, since: datetime) -> str:
    """What this fire has to do with a transition: the repeated hour, a time that does not exist, or an offset that
    changed since the previous fire."""
    wall = local.replace(tzinfo=None)
    first, second = wall.replace(tzinfo=zone, fold=0), wall.replace(tzinfo=zone, fold=1)
    zoned = isinstance(trigger, triggers.ZonedCronTrigger)
    if first.utcoffset() != second.utcoffset():  # this wall time occurs twice
        label = _change_label(first, second)
        if local.fold == 0:
            repeat = "" if not zoned or trigger.every_hour() else "; the second is skipped"
            return f"first of two {_hhmm(local)} ({label}){repeat}"
        if not zoned:
            return f"second {_hhmm(local)} ({label}); interval fires stay {trigger.interval_length:g} s apart"
        return f"second {_hhmm(local)} ({label}): an every-hour schedule fires in both passes of the repeated hour"
    before = (local - _SECOND).astimezone(zone)
    if before.utcoffset() < local.utcoffset() and zoned and not trigger.every_hour():
        gap_start = (local.astimezone(triggers.UTC) + before.utcoffset()).replace(tzinfo=None)
        missing = trigger.wall_next(gap_start)
        if missing is not None and missing < wall:
            return f"{_hhmm(missing)} does not exist ({_change_label(before, local)}); runs at {_hhmm(local)}"
    previous = since.astimezone(zone)
    if previous.utcoffset() != local.utcoffset():
        label = _change_label(previous, local)
        if not zoned:
            return (f"{label}: UTC offset {_offset_text(previous.utcoffset())} -> {_offset_text(local.utcoffset())}; "
                    f"interval fires stay {trigger.interval_length:g} s apart")
        return (f"UTC offset {_offset_text(previous.utcoffset())} -> {_offset_text(local.utcoffset())} since the "
                f"previous fire ({label})")
    return ""
