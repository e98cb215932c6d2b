"""APScheduler triggers built from JobDefinition rows, and the schedule slots they produce.

Every scheduler process must compute the same slots (the per-slot guard compares them), so interval triggers are
anchored at a fixed instant instead of "now".
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from django.conf import settings

from scheduler_app.models import INTERVAL_SECONDS_MAX, JobDefinition

INTERVAL_ANCHOR = datetime(2000, 1, 1, tzinfo=ZoneInfo("UTC"))


def tz() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def has_schedule(definition: JobDefinition) -> bool:
    if definition.trigger_type == JobDefinition.TriggerType.INTERVAL:
        return bool(definition.interval_seconds)
    return bool(definition.cron.strip())


def trigger_build(definition: JobDefinition) -> BaseTrigger:
    """Raises ValueError for a definition whose schedule cannot be built (a row stored before its range was
    checked included: it must not break the status page or the scheduler's reload of every other job)."""
    if definition.trigger_type == JobDefinition.TriggerType.INTERVAL:
        if not definition.interval_seconds:
            raise ValueError(f"{definition.job_id}: interval trigger without interval_seconds")
        if not 1 <= definition.interval_seconds <= INTERVAL_SECONDS_MAX:
            raise ValueError(f"{definition.job_id}: interval_seconds must be from 1 to {INTERVAL_SECONDS_MAX}")
        return IntervalTrigger(seconds=definition.interval_seconds, start_date=INTERVAL_ANCHOR, timezone=tz())
    return CronTrigger.from_crontab(definition.cron, timezone=tz())


def next_fire_time(trigger: BaseTrigger, *, now: datetime) -> datetime | None:
    """None when there is none, or when it lies past the last date Python can hold."""
    try:
        return trigger.get_next_fire_time(None, now)
    except OverflowError:
        return None


def next_fire_times(trigger: BaseTrigger, *, now: datetime, count: int) -> list[datetime]:
    """The next `count` fire times after `now` (fewer when the trigger ends or passes Python's last date)."""
    fires: list[datetime] = []
    fire = next_fire_time(trigger, now=now)
    while fire is not None and len(fires) < count:
        fires.append(fire)
        try:
            fire = trigger.get_next_fire_time(fire, fire + timedelta(microseconds=1))
        except OverflowError:
            fire = None
    return fires


def recent_slot(trigger: BaseTrigger, *, now: datetime, window_seconds: float) -> datetime | None:
    """The latest fire time in (now - window, now], or None."""
    start = now - timedelta(seconds=window_seconds)
    slot = None
    fire = trigger.get_next_fire_time(None, start)
    while fire is not None and fire <= now:
        if fire > start:
            slot = fire
        fire = trigger.get_next_fire_time(fire, fire + timedelta(microseconds=1))
    return slot


def slots_between(trigger: BaseTrigger, start: datetime, end: datetime, *, limit: int) -> list[datetime]:
    """The fire times in [start, end), at most `limit` of them (start is a fire time: a job's stored next run)."""
    slots: list[datetime] = []
    fire: datetime | None = start
    while fire is not None and fire < end and len(slots) < limit:
        slots.append(fire)
        fire = trigger.get_next_fire_time(fire, fire + timedelta(microseconds=1))
    return slots


def schedule_text(definition: JobDefinition) -> str:
    if not has_schedule(definition):
        return "on demand"
    if definition.trigger_type == JobDefinition.TriggerType.INTERVAL:
        return f"every {definition.interval_seconds} s"
    return definition.cron


_DAYS = {"0": "Sun", "1": "Mon", "2": "Tue", "3": "Wed", "4": "Thu", "5": "Fri", "6": "Sat", "7": "Sun"}


def _duration_words(seconds: int) -> str:
    for unit, size in (("day", 86400), ("h", 3600), ("min", 60)):
        if seconds % size == 0 and seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if unit == 'day' and count > 1 else ''}"
    return f"{seconds} s"


def schedule_words(definition: JobDefinition) -> str:
    """The schedule in words for the common crontab shapes ("every 30 min", "daily at 09:00", "hourly at :15"),
    in TIME_ZONE; other shapes read "cron" (the console shows the expression beside it)."""
    if not has_schedule(definition):
        return "on demand"
    if definition.trigger_type == JobDefinition.TriggerType.INTERVAL:
        return f"every {_duration_words(definition.interval_seconds)}"
    fields = definition.cron.split()
    if len(fields) != 5:
        return "cron"
    minute, hour, day, month, weekday = fields
    if (day, month, weekday) != ("*", "*", "*") and not (day == month == "*" and weekday in _DAYS):
        return "cron"
    on = f" on {_DAYS[weekday]}" if weekday != "*" else ""
    if minute == hour == "*":
        return f"every minute{on}"
    if hour == "*" and minute.startswith("*/") and minute[2:].isdigit():
        return f"every {minute[2:]} min{on}"
    if hour == "*" and minute.isdigit():
        return f"hourly at :{int(minute):02d}{on}"
    if minute.isdigit() and hour.isdigit():
        return f"{'weekly' if on else 'daily'} at {int(hour):02d}:{int(minute):02d}{on}"
    if minute.isdigit() and hour.startswith("*/") and hour[2:].isdigit():
        return f"every {hour[2:]} h at :{int(minute):02d}{on}"
    return "cron"
