"""APScheduler triggers built from JobDefinition rows, and the schedule slots they produce.

Every scheduler process must compute the same slots (the per-slot guard compares them), so interval triggers are
anchored at a fixed instant instead of "now".

Cron triggers run in the job's own time zone (`JobDefinition.time_zone`, blank: TIME_ZONE) with one rule for
daylight saving (ZonedCronTrigger). Interval triggers ignore it: they count seconds from a UTC anchor.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from django.conf import settings

from scheduler_app.models import INTERVAL_SECONDS_MAX, JobDefinition
from scheduler_app.zones import zone_get

UTC = ZoneInfo("UTC")
INTERVAL_ANCHOR = datetime(2000, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)
_MICROSECOND = timedelta(microseconds=1)
_PROBE_STEP_SECONDS = 86400  # no zone changes its offset twice within a day


def _instant(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def tz() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def zone_name(definition) -> str:
    """The name of the zone a definition's cron schedule runs in: its own, or TIME_ZONE. (Some callers pass
    namespaces without the field.)"""
    return getattr(definition, "time_zone", "") or settings.TIME_ZONE


def job_zone(definition) -> ZoneInfo:
    """The zone a definition's cron schedule runs in; ValueError for a stored name that is not an IANA zone."""
    return zone_get(definition.time_zone) if getattr(definition, "time_zone", "") else tz()


class ZonedCronTrigger(CronTrigger):
    """A crontab in a time zone, with one rule at daylight-saving transitions (APScheduler's own CronTrigger runs a
    02:30 job twice at fall-back and at 03:30 at spring-forward, and returns zone-local times that compare by wall
    clock, not by instant, within the repeated hour):

    - a wall-clock time that occurs twice (fall-back) fires once, at its first occurrence;
    - a wall-clock time that does not exist (spring-forward) fires once, at the first valid instant after the gap
      (the transition: 02:30 Europe/Berlin fires at 03:00 CEST);
    - an expression whose hour field matches every hour (`0 * * * *`, `*/15 * * * *`) follows real time instead: it
      fires in both passes of the repeated hour and has nothing to fire in the hour that does not exist, so it fires
      every real hour throughout.

    Fire times are returned in UTC, so that every comparison is between instants. `str()` names the zone: the
    scheduler compares str() of the stored and the built trigger to tell whether a schedule was edited.
    """

    # The same fields in UTC: a clock without transitions, to find the next matching wall-clock time.
    __slots__ = ("_wall_clock",)

    def __str__(self) -> str:
        options = [f"{field.name}='{field}'" for field in self.fields if not field.is_default]
        return f"cron[{', '.join([*options, f'timezone={str(self.timezone)!r}'])}]"

    def __setstate__(self, state):
        super().__setstate__(state)
        self._wall_clock = None

    def wall_next(self, wall: datetime) -> datetime | None:
        """The first wall-clock time at or after the naive `wall` that the expression matches (naive)."""
        clock = getattr(self, "_wall_clock", None)
        if clock is None:
            clock = CronTrigger.__new__(CronTrigger)
            CronTrigger.__setstate__(clock, {**CronTrigger.__getstate__(self), "timezone": UTC, "start_date": None,
                                             "end_date": None, "jitter": None})
            self._wall_clock = clock
        found = CronTrigger.get_next_fire_time(clock, None, wall.replace(tzinfo=UTC))
        return None if found is None else found.replace(tzinfo=None)

    def every_hour(self) -> bool:
        """Whether the hour field matches every hour of the day (such an expression follows real time)."""
        hour = self.fields[self.FIELD_NAMES.index("hour")]
        return all(hour.get_next_value(datetime(2000, 1, 1, h)) == h for h in range(24))

    def _offset(self, instant: datetime) -> timedelta:
        return instant.astimezone(self.timezone).utcoffset()

    def transition(self, start: datetime, end: datetime) -> datetime | None:
        """The first instant in (start, end] (UTC) at which the zone's offset changes, or None. Zones change on whole
        seconds: probe a day at a time, then bisect whole seconds."""
        offset = self._offset(start)
        low, last = math.floor(start.timestamp()), math.ceil(end.timestamp())
        while low < last:
            high = min(low + _PROBE_STEP_SECONDS, last)
            if self._offset(_instant(high)) != offset:
                while high - low > 1:
                    middle = (low + high) // 2
                    low, high = (low, middle) if self._offset(_instant(middle)) != offset else (middle, high)
                return _instant(high)
            low = high
        return None

    def _second_pass(self, wall: datetime, offset: timedelta) -> bool:
        """Whether `wall` at `offset` is the second occurrence of a wall-clock time that occurs twice."""
        first = wall.replace(tzinfo=self.timezone, fold=0).utcoffset()
        return first != wall.replace(tzinfo=self.timezone, fold=1).utcoffset() and offset < first

    def get_next_fire_time(self, previous_fire_time, now):
        if previous_fire_time is not None:
            # As CronTrigger: from just after the previous fire, unless `now` is earlier.
            start = min(now.astimezone(UTC), previous_fire_time.astimezone(UTC) + _MICROSECOND)
        else:
            start = now.astimezone(UTC)
            if self.start_date is not None:
                start = max(start, self.start_date.astimezone(UTC))
        fire = self._next_instant(start)
        if fire is None or (self.end_date is not None and fire > self.end_date):
            return None
        return self._apply_jitter(fire, self.jitter, now) if self.jitter else fire

    def _next_instant(self, start: datetime) -> datetime | None:
        """The first fire at or after `start` (UTC), walking the zone's offset segments from it."""
        every_hour = self.every_hour()
        before = self._offset(start - _MICROSECOND)
        if not every_hour and before < self._offset(start):  # `start` is a spring-forward instant itself
            missing = self.wall_next((start + before).replace(tzinfo=None))
            if missing is not None and missing < (start + self._offset(start)).replace(tzinfo=None):
                return start
        cursor = start
        while True:
            offset = self._offset(cursor)
            wall = self.wall_next((cursor + offset).replace(tzinfo=None))
            if wall is None:
                return None
            instant = (wall - offset).replace(tzinfo=UTC)
            change = self.transition(cursor, instant)
            if change is None:
                if not every_hour and self._second_pass(wall, offset):
                    cursor = instant + _SECOND  # its first occurrence was the fire
                    continue
                return instant
            if not every_hour and self._offset(change) > offset and wall < (change + self._offset(change)).replace(
                    tzinfo=None):
                return change  # `wall` does not exist: the first valid instant after the gap
            cursor = change


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
        # UTC: a fixed number of seconds apart across daylight saving, and fire times that compare as instants.
        return IntervalTrigger(seconds=definition.interval_seconds, start_date=INTERVAL_ANCHOR, timezone=UTC)
    return ZonedCronTrigger.from_crontab(definition.cron, timezone=job_zone(definition))


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
    followed by the job's own time zone when it has one ("daily at 09:00 Europe/Berlin"; without one, TIME_ZONE,
    which the console names in its header); other shapes read "cron" (the console shows the expression beside it).
    Interval schedules have no zone: they ignore daylight saving."""
    if not has_schedule(definition):
        return "on demand"
    if definition.trigger_type == JobDefinition.TriggerType.INTERVAL:
        return f"every {_duration_words(definition.interval_seconds)}"
    words = _cron_words(definition.cron)
    zone = getattr(definition, "time_zone", "")
    return f"{words} {zone}" if zone else words


def _cron_words(cron: str) -> str:
    fields = cron.split()
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
