"""SlotThreadPoolExecutor: each fire learns its slot, and coalesced (dropped) slots are reported."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from scheduler_app.scheduler import executor as executor_module
from scheduler_app.scheduler.executor import SlotThreadPoolExecutor
from scheduler_app.scheduler.triggers import INTERVAL_ANCHOR
from tests.waiting import wait_for

fired: list[dict] = []
done = threading.Event()


def slot_job(**kwargs):
    fired.append(kwargs)
    done.set()


slot_job.wants_slot = True


def plain_job(**kwargs):
    fired.append(kwargs)
    done.set()


@pytest.fixture
def scheduler():
    fired.clear()
    done.clear()
    reported: list = []
    sched = BackgroundScheduler(timezone=UTC, executors={"default": SlotThreadPoolExecutor(
        max_workers=2, on_coalesced=lambda job_id, dropped, latest: reported.append((job_id, dropped, latest)))})
    sched.reported = reported
    yield sched
    if sched.running:
        sched.shutdown(wait=True)


def _minute_trigger():
    return IntervalTrigger(seconds=60, start_date=INTERVAL_ANCHOR, timezone=UTC)


def _behind(trigger, minutes: int) -> datetime:
    """The trigger's slot `minutes` back (a scheduler that was down that long); with 0, the latest due slot."""
    return trigger.get_next_fire_time(None, datetime.now(UTC) - timedelta(minutes=minutes, seconds=60))


def test_a_fire_gets_the_latest_due_slot_and_the_dropped_ones_are_reported(scheduler):
    trigger = _minute_trigger()
    first = _behind(trigger, 5)
    scheduler.add_job(slot_job, trigger=trigger, id="quick_job", kwargs={"x": 1}, coalesce=True,
                      misfire_grace_time=None, next_run_time=first)
    scheduler.start()
    wait_for(done.is_set, message="the coalesced fire")
    [kwargs] = fired
    latest = kwargs["scheduled_for"]
    assert kwargs["x"] == 1
    assert latest > first and latest <= datetime.now(UTC)
    [(job_id, dropped, reported_latest)] = wait_for(lambda: scheduler.reported, message="the report")
    assert job_id == "quick_job" and reported_latest == latest
    assert dropped[0] == first
    assert latest not in dropped
    assert dropped == [first + timedelta(minutes=i) for i in range(len(dropped))]
    assert dropped[-1] + timedelta(minutes=1) == latest


def test_a_fire_on_time_reports_nothing(scheduler):
    trigger = _minute_trigger()
    scheduler.add_job(slot_job, trigger=trigger, id="quick_job", coalesce=True, misfire_grace_time=None,
                      next_run_time=_behind(trigger, 0))
    scheduler.start()
    wait_for(done.is_set, message="the fire")
    assert "scheduled_for" in fired[0]
    assert scheduler.reported == []


def test_a_function_that_does_not_want_the_slot_gets_its_own_kwargs_only(scheduler):
    trigger = _minute_trigger()
    scheduler.add_job(plain_job, trigger=trigger, id="plain", kwargs={"y": 2}, coalesce=True,
                      misfire_grace_time=None, next_run_time=_behind(trigger, 0))
    scheduler.start()
    wait_for(done.is_set, message="the fire")
    assert fired == [{"y": 2}]


def test_without_coalesce_nothing_is_reported(scheduler):
    trigger = _minute_trigger()
    scheduler.add_job(slot_job, trigger=trigger, id="quick_job", coalesce=False, misfire_grace_time=None,
                      max_instances=10, next_run_time=_behind(trigger, 3))
    scheduler.start()
    wait_for(lambda: len(fired) >= 4, message="every due slot to fire")
    assert scheduler.reported == []


def test_the_report_is_capped(scheduler, monkeypatch):
    monkeypatch.setattr(executor_module, "COALESCED_COUNT_LIMIT", 3)
    trigger = _minute_trigger()
    scheduler.add_job(slot_job, trigger=trigger, id="quick_job", coalesce=True, misfire_grace_time=None,
                      next_run_time=_behind(trigger, 10))
    scheduler.start()
    [(_, dropped, _)] = wait_for(lambda: scheduler.reported, message="the report")
    assert len(dropped) == 3
