import pickle
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from scheduler_app.models import JobDefinition
from scheduler_app.scheduler import triggers

UTC = ZoneInfo("UTC")


def _definition(**kw) -> JobDefinition:
    return JobDefinition(job_id="x", name="x", timeout_minutes=1, **kw)


def test_cron_next_and_recent_slot(settings):
    settings.TIME_ZONE = "UTC"
    trigger = triggers.trigger_build(_definition(cron="*/30 * * * *"))
    now = datetime(2026, 2, 8, 23, 0, 20, tzinfo=UTC)
    assert triggers.next_fire_time(trigger, now=now) == datetime(2026, 2, 8, 23, 30, tzinfo=UTC)
    assert triggers.recent_slot(trigger, now=now, window_seconds=60) == datetime(2026, 2, 8, 23, 0, tzinfo=UTC)
    assert triggers.recent_slot(trigger, now=now + timedelta(minutes=2), window_seconds=60) is None


def test_cron_in_time_zone(settings):
    settings.TIME_ZONE = "Europe/Berlin"
    trigger = triggers.trigger_build(_definition(cron="0 9 * * *"))
    nxt = triggers.next_fire_time(trigger, now=datetime(2026, 2, 8, 12, 0, tzinfo=UTC))
    assert nxt.astimezone(UTC) == datetime(2026, 2, 9, 8, 0, tzinfo=UTC)


def test_interval_slots_are_the_same_in_every_process():
    """Two schedulers building the trigger at different moments agree on the slots (the per-slot guard needs it)."""
    a = triggers.trigger_build(_definition(trigger_type="interval", interval_seconds=7))
    b = triggers.trigger_build(_definition(trigger_type="interval", interval_seconds=7))
    now = datetime(2026, 2, 8, 23, 0, 20, 123456, tzinfo=UTC)
    slot = triggers.recent_slot(a, now=now, window_seconds=7)
    assert slot == triggers.recent_slot(b, now=now + timedelta(seconds=0.5), window_seconds=7)
    assert slot is not None and slot.microsecond == 0 and (slot - triggers.INTERVAL_ANCHOR).total_seconds() % 7 == 0
    assert triggers.next_fire_time(a, now=now) == slot + timedelta(seconds=7)


@pytest.mark.parametrize("kw", [dict(cron="not a cron"), dict(trigger_type="interval", interval_seconds=None)])
def test_bad_definitions_raise_value_error(kw):
    with pytest.raises(ValueError):
        triggers.trigger_build(_definition(**kw))


def test_on_demand_definitions_have_no_schedule():
    assert not triggers.has_schedule(_definition(cron=""))
    assert triggers.schedule_text(_definition(cron="")) == "on demand"


def test_slots_between_lists_the_slots_a_coalesced_fire_folds_away(settings):
    settings.TIME_ZONE = "UTC"
    trigger = triggers.trigger_build(_definition(cron="*/10 * * * *"))
    start = datetime(2026, 2, 8, 23, 0, tzinfo=UTC)
    latest = datetime(2026, 2, 8, 23, 40, tzinfo=UTC)
    assert triggers.slots_between(trigger, start, latest, limit=100) == [start + timedelta(minutes=m)
                                                                          for m in (0, 10, 20, 30)]
    assert triggers.slots_between(trigger, latest, latest, limit=100) == []  # nothing folded: the usual fire
    assert len(triggers.slots_between(trigger, start, start + timedelta(days=30), limit=50)) == 50


# --- time zones and daylight saving (the rule is in ZonedCronTrigger's docstring and the README) ----------------------

def _utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def _fires(cron: str, zone: str, start: datetime, count: int) -> list[datetime]:
    trigger = triggers.trigger_build(_definition(cron=cron, time_zone=zone))
    return triggers.next_fire_times(trigger, now=start, count=count)


@pytest.mark.parametrize("zone, start, expected", [
    # 02:30 does not exist: once, at the transition (03:00 local), then 02:30 again the next day
    ("Europe/Berlin", _utc(2026, 3, 27, 12), [_utc(2026, 3, 28, 1, 30), _utc(2026, 3, 29, 1),
                                              _utc(2026, 3, 30, 0, 30)]),
    ("Europe/Berlin", _utc(2027, 3, 26, 12), [_utc(2027, 3, 27, 1, 30), _utc(2027, 3, 28, 1),
                                              _utc(2027, 3, 29, 0, 30)]),
    ("America/New_York", _utc(2026, 3, 7, 0), [_utc(2026, 3, 7, 7, 30), _utc(2026, 3, 8, 7), _utc(2026, 3, 9, 6, 30)]),
    ("America/New_York", _utc(2027, 3, 13, 0), [_utc(2027, 3, 13, 7, 30), _utc(2027, 3, 14, 7),
                                                _utc(2027, 3, 15, 6, 30)]),
    # 02:30 occurs twice: once, at the first (CEST) occurrence
    ("Europe/Berlin", _utc(2026, 10, 23, 12), [_utc(2026, 10, 24, 0, 30), _utc(2026, 10, 25, 0, 30),
                                               _utc(2026, 10, 26, 1, 30)]),
    ("Europe/Berlin", _utc(2027, 10, 29, 12), [_utc(2027, 10, 30, 0, 30), _utc(2027, 10, 31, 0, 30),
                                               _utc(2027, 11, 1, 1, 30)]),
])
def test_a_daily_0230_fires_once_at_each_transition(zone, start, expected):
    assert _fires("30 2 * * *", zone, start, 3) == expected


def test_from_the_spring_forward_instant_itself_the_missing_time_fires_there():
    assert _fires("30 2 * * *", "Europe/Berlin", _utc(2026, 3, 29, 1), 2) == [_utc(2026, 3, 29, 1),
                                                                             _utc(2026, 3, 30, 0, 30)]
    assert _fires("30 2 * * *", "Europe/Berlin", _utc(2026, 3, 29, 1, 0, 0, 1), 1) == [_utc(2026, 3, 30, 0, 30)]


@pytest.mark.parametrize("start, expected", [
    (_utc(2026, 10, 31, 0), [_utc(2026, 10, 31, 5, 30), _utc(2026, 11, 1, 5, 30), _utc(2026, 11, 2, 6, 30)]),
    (_utc(2027, 11, 6, 0), [_utc(2027, 11, 6, 5, 30), _utc(2027, 11, 7, 5, 30), _utc(2027, 11, 8, 6, 30)]),
])
def test_new_yorks_0130_fires_once_at_the_fall_back_at_its_edt_occurrence(start, expected):
    assert _fires("30 1 * * *", "America/New_York", start, 3) == expected


@pytest.mark.parametrize("zone, start, expected_hours", [
    # fall-back: both passes of the repeated hour, one real hour apart
    ("Europe/Berlin", _utc(2026, 10, 24, 22, 30), [(10, 24, 23), (10, 25, 0), (10, 25, 1), (10, 25, 2)]),
    ("America/New_York", _utc(2026, 11, 1, 3, 30), [(11, 1, 4), (11, 1, 5), (11, 1, 6), (11, 1, 7)]),
    # spring-forward: the hour that does not exist has nothing, and the fires stay one real hour apart
    ("Europe/Berlin", _utc(2026, 3, 28, 22, 30), [(3, 28, 23), (3, 29, 0), (3, 29, 1), (3, 29, 2)]),
    ("America/New_York", _utc(2026, 3, 8, 4, 30), [(3, 8, 5), (3, 8, 6), (3, 8, 7), (3, 8, 8)]),
])
def test_an_hourly_job_fires_every_real_hour_across_a_transition(zone, start, expected_hours):
    assert _fires("0 * * * *", zone, start, 4) == [_utc(2026, *hour) for hour in expected_hours]


def test_a_fixed_hour_with_every_minute_fires_once_per_wall_time():
    # */15 in hour 2: the spring-forward's four missing times are one fire at 03:00; the fall-back's repeat is skipped
    assert _fires("*/15 2 * * *", "Europe/Berlin", _utc(2026, 3, 28, 23), 2) == [_utc(2026, 3, 29, 1),
                                                                                _utc(2026, 3, 30, 0)]
    assert _fires("*/15 2 * * *", "Europe/Berlin", _utc(2026, 10, 24, 23), 5) == [
        _utc(2026, 10, 25, 0), _utc(2026, 10, 25, 0, 15), _utc(2026, 10, 25, 0, 30), _utc(2026, 10, 25, 0, 45),
        _utc(2026, 10, 26, 1)]


def test_fire_times_are_instants_in_utc_whatever_the_zone(settings):
    """Aware times in one zone compare by wall clock (PEP 495), which is wrong within the repeated hour: a fire at
    02:00 CET (01:00 UTC) would look due at 02:50 CEST (00:50 UTC), the scheduler's `now` in TIME_ZONE. The triggers
    return UTC, so the scheduler's `next_run_time <= now` compares instants."""
    settings.TIME_ZONE = "Europe/Berlin"
    now = datetime(2026, 10, 25, 2, 50, tzinfo=ZoneInfo("Europe/Berlin"))  # the first pass: 00:50 UTC
    for definition in (_definition(cron="0 * * * *", time_zone="Europe/Berlin"),
                       _definition(trigger_type="interval", interval_seconds=1800)):
        fire = triggers.next_fire_time(triggers.trigger_build(definition), now=now)
        assert fire == _utc(2026, 10, 25, 1)  # 02:00 CET, the second pass
        assert not fire <= now  # not due yet


@pytest.mark.parametrize("zone, start", [("Europe/Berlin", _utc(2026, 10, 24, 23)),
                                         ("Europe/Berlin", _utc(2027, 3, 28, 0)),
                                         ("America/New_York", _utc(2026, 11, 1, 4)),
                                         ("America/New_York", _utc(2027, 3, 14, 5))])
def test_interval_fires_stay_n_seconds_apart_across_a_transition(settings, zone, start):
    settings.TIME_ZONE = zone
    trigger = triggers.trigger_build(_definition(trigger_type="interval", interval_seconds=1800, time_zone=zone))
    fires = triggers.next_fire_times(trigger, now=start, count=8)  # four hours, the transition in them
    assert fires == [start + timedelta(minutes=30 * n) for n in range(8)]


def test_the_zone_is_part_of_the_triggers_str_and_survives_pickling(settings):
    """process.py tells an edited schedule by str(stored) != str(built): a zone change is an edit; a rebuild is not."""
    settings.TIME_ZONE = "UTC"
    berlin = triggers.trigger_build(_definition(cron="30 2 * * *", time_zone="Europe/Berlin"))
    assert str(berlin) == "cron[month='*', day='*', day_of_week='*', hour='2', minute='30', timezone='Europe/Berlin']"
    assert str(triggers.trigger_build(_definition(cron="30 2 * * *", time_zone="Europe/Berlin"))) == str(berlin)
    assert str(triggers.trigger_build(_definition(cron="30 2 * * *", time_zone="America/New_York"))) != str(berlin)
    assert str(triggers.trigger_build(_definition(cron="30 2 * * *"))).endswith("timezone='UTC']")
    stored = pickle.loads(pickle.dumps(berlin))
    assert type(stored) is triggers.ZonedCronTrigger and str(stored) == str(berlin)
    start = _utc(2026, 3, 28, 12)
    assert triggers.next_fire_times(stored, now=start, count=2) == triggers.next_fire_times(berlin, now=start, count=2)
    assert triggers.next_fire_times(stored, now=start, count=2) == [_utc(2026, 3, 29, 1), _utc(2026, 3, 30, 0, 30)]


def test_recent_slot_and_slots_between_follow_the_rule():
    trigger = triggers.trigger_build(_definition(cron="30 2 * * *", time_zone="Europe/Berlin"))
    # at the second 02:30 (01:30 UTC), the latest slot is the first one, an hour earlier: nothing to fire again
    assert triggers.recent_slot(trigger, now=_utc(2026, 10, 25, 1, 30), window_seconds=60) is None
    assert triggers.recent_slot(trigger, now=_utc(2026, 10, 25, 1, 30), window_seconds=7200) == _utc(2026, 10, 25, 0,
                                                                                                        30)
    assert triggers.recent_slot(trigger, now=_utc(2026, 3, 29, 1, 0, 30), window_seconds=60) == _utc(2026, 3, 29, 1)
    hourly = triggers.trigger_build(_definition(cron="0 * * * *", time_zone="America/New_York"))
    assert triggers.slots_between(hourly, _utc(2026, 11, 1, 4), _utc(2026, 11, 1, 8), limit=10) == [
        _utc(2026, 11, 1, hour) for hour in (4, 5, 6, 7)]


def test_an_unknown_stored_zone_cannot_be_built():
    with pytest.raises(ValueError, match="Unknown time zone 'Mars/Base'"):
        triggers.trigger_build(_definition(cron="0 9 * * *", time_zone="Mars/Base"))


def test_schedule_words_name_the_jobs_own_zone():
    assert triggers.schedule_words(_definition(cron="0 9 * * *", time_zone="Europe/Berlin")) == (
        "daily at 09:00 Europe/Berlin")
    assert triggers.schedule_words(_definition(cron="0 9 * * *")) == "daily at 09:00"
    assert triggers.schedule_words(_definition(trigger_type="interval", interval_seconds=60,
                                               time_zone="Europe/Berlin")) == "every 1 min"  # no DST for intervals
