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
