"""Catch-up policies after downtime (latest, none, all_within): the plan itself, then an in-process scheduler (the
same wiring as runscheduler) whose store row is set behind, one scheduler and two, and editing a schedule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.triggers.interval import IntervalTrigger
from django.core.exceptions import ValidationError
from django.utils import timezone

from scheduler_app import services
from scheduler_app.models import JobDefinition, JobRun
from scheduler_app.scheduler.catch_up import JobPolicy, catch_up_plan
from scheduler_app.scheduler.process import SchedulerProcess
from scheduler_app.scheduler.triggers import INTERVAL_ANCHOR
from tests.scheduler_app.scheduler import jobs_slow
from tests.scheduler_app.scheduler.conftest import wait_for
from tests.scheduler_app.scheduler.test_process import _four_slots_behind, _interval, _settle, process  # noqa: F401

MINUTE = IntervalTrigger(seconds=60, start_date=INTERVAL_ANCHOR, timezone=UTC)
L = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)  # the latest due slot in the plan tests


def _slots(*minutes_before: int) -> list[datetime]:
    return [L - timedelta(minutes=m) for m in minutes_before]


@pytest.mark.parametrize(("policy", "run", "missed"), [
    (JobPolicy(), _slots(0), _slots(4, 3, 2, 1)),
    (JobPolicy(catch_up="none"), [], _slots(4, 3, 2, 1, 0)),
    (JobPolicy(catch_up="all_within", window_seconds=150), _slots(2, 1, 0), _slots(4, 3)),
    (JobPolicy(catch_up="all_within", window_seconds=3600), _slots(4, 3, 2, 1, 0), []),
])
def test_plan_of_each_policy_five_slots_behind(policy, run, missed):
    plan = catch_up_plan(policy=policy, trigger=MINUTE, first_due=L - timedelta(minutes=4), latest=L,
                         now=L + timedelta(seconds=10))
    assert (plan.run, plan.missed, plan.capped) == (run, missed, False)
    assert plan.no_grace == (policy.catch_up == "all_within")


@pytest.mark.parametrize("policy", [JobPolicy(), JobPolicy(catch_up="none"),
                                    JobPolicy(catch_up="all_within", window_seconds=5)])
def test_one_due_slot_is_a_late_fire_not_a_catch_up(policy):
    """A single due slot fires as usual whatever the policy (the misfire grace time judges how late it may be):
    a deploy that straddles a slot must not lose it."""
    plan = catch_up_plan(policy=policy, trigger=MINUTE, first_due=L, latest=L, now=L + timedelta(seconds=30))
    assert plan.run == [L] and plan.missed == []
    assert plan.no_grace is False  # all_within: older than its window, the slot still has the grace time


def test_all_within_runs_the_newest_slots_when_the_window_holds_more_than_the_limit():
    plan = catch_up_plan(policy=JobPolicy(catch_up="all_within", window_seconds=3600), trigger=MINUTE,
                         first_due=L - timedelta(minutes=10), latest=L, now=L, limit=4)
    assert plan.run == _slots(3, 2, 1, 0)
    assert plan.missed == _slots(10, 9, 8, 7)  # the oldest four of the seven missed, listed
    assert plan.capped is True


@pytest.mark.django_db
def test_all_within_needs_a_window_in_the_model_and_the_api(staff_api):
    services.job_definitions_sync()
    definition = JobDefinition.objects.get(job_id="quick_job")
    definition.catch_up_policy = "all_within"
    with pytest.raises(ValidationError) as raised:
        definition.full_clean()
    assert "catch_up_window_seconds" in raised.value.message_dict
    url = "/api/v1/scheduler/jobs/quick_job"
    for body, field in [({"catch_up_policy": "all_within"}, "catch_up_window_seconds"),
                        ({"catch_up_policy": "sometimes"}, "catch_up_policy"),
                        ({"catch_up_window_seconds": 0}, "catch_up_window_seconds"),
                        ({"jitter_seconds": 3601}, "jitter_seconds")]:
        response = staff_api.patch(url, body, format="json")
        assert response.status_code == 400 and field in response.json(), (body, response.json())
    response = staff_api.patch(url, {"catch_up_policy": "all_within", "catch_up_window_seconds": 600,
                                     "jitter_seconds": 30}, format="json")
    assert response.status_code == 200, response.json()
    body = staff_api.get(url).json()
    assert (body["catch_up_policy"], body["catch_up_window_seconds"], body["jitter_seconds"]) == (
        "all_within", 600, 30)


pytestmark_db = pytest.mark.django_db(transaction=True)


def _rows(job_id: str) -> list:
    return sorted(JobRun.objects.filter(job_id=job_id).values_list("scheduled_for", "status", "skip_reason"))


@pytestmark_db
def test_none_runs_nothing_and_records_every_missed_slot(process, fake_redis, settings):  # noqa: F811
    settings.SCHEDULER_MISFIRE_GRACE_SECONDS = 300
    _interval("quick_job", 300, catch_up_policy="none")
    proc = process(paused=True)
    overdue, latest = _four_slots_behind(proc, "quick_job")
    proc.scheduler.resume()
    missed = wait_for(lambda: JobRun.objects.filter(job_id="quick_job", status="MISSED").first(), timeout=15,
                      message="the MISSED row")
    _settle(proc, "quick_job")
    assert _rows("quick_job") == [(overdue, "MISSED", "coalesced")]  # nothing ran, the latest slot neither
    assert missed.error.startswith(f"4 scheduled run(s) from {overdue.isoformat()} to {latest.isoformat()}")
    assert "catch-up policy is none" in missed.error
    assert proc.scheduler.get_job("quick_job").next_run_time == latest + timedelta(seconds=300)  # the next slot


@pytestmark_db
def test_all_within_runs_each_slot_of_the_window_oldest_first(process, real_redis, settings):  # noqa: F811
    """Slots 1050, 750, 450 and 150 s ago; a 500 s window: the 450 s one (past the 300 s grace time: the window
    decides) and the latest run, oldest first, each with its own slot and the lock; the older two are one row."""
    settings.SCHEDULER_MISFIRE_GRACE_SECONDS = 300
    _interval("quick_job", 300, catch_up_policy="all_within", catch_up_window_seconds=500)
    proc = process(paused=True)
    overdue, latest = _four_slots_behind(proc, "quick_job")
    proc.scheduler.resume()
    ran = JobRun.objects.filter(job_id="quick_job", status="SUCCEEDED")
    wait_for(lambda: ran.count() == 2, timeout=15, message="the two catch-up runs")
    _settle(proc, "quick_job")
    middle = latest - timedelta(seconds=300)
    assert _rows("quick_job") == [(overdue, "MISSED", "coalesced"), (middle, "SUCCEEDED", ""),
                                  (latest, "SUCCEEDED", "")]
    first, second = ran.order_by("started_at")
    assert (first.scheduled_for, second.scheduled_for) == (middle, latest)  # one after another, oldest first
    assert first.finished_at <= second.started_at and first.lock_backend == "redis"
    missed = JobRun.objects.get(status="MISSED")
    assert missed.error.startswith(f"2 scheduled run(s) from {overdue.isoformat()} to "
                                   f"{(overdue + timedelta(seconds=300)).isoformat()}")
    assert "catch-up window (500 s)" in missed.error
    assert real_redis.get("job_lock:quick_job") is None


@pytestmark_db
def test_all_within_with_two_schedulers_runs_each_slot_once(process, real_redis, settings):  # noqa: F811
    """Both schedulers see the job behind; the slot claim gives the whole catch-up to one, and the per-slot guard
    would refuse a second run of any slot."""
    settings.SCHEDULER_MISFIRE_GRACE_SECONDS = 300
    _interval("quick_job", 300, catch_up_policy="all_within", catch_up_window_seconds=1200)
    first, second = process(paused=True), process(paused=True)
    overdue, latest = _four_slots_behind(first, "quick_job")
    first.scheduler.resume()
    second.scheduler.resume()
    slots = [overdue + timedelta(seconds=300 * i) for i in range(4)]
    wait_for(lambda: JobRun.objects.filter(job_id="quick_job", status="SUCCEEDED").count() >= 4, timeout=20,
             message="the four catch-up runs")
    _settle(first, "quick_job")
    _settle(second, "quick_job")
    counted = JobRun.objects.filter(job_id="quick_job").exclude(status__in=["SKIPPED", "MISSED"])
    assert sorted(counted.values_list("scheduled_for", flat=True)) == slots
    assert not JobRun.objects.filter(job_id="quick_job", status="MISSED").exists()


@pytestmark_db
@pytest.mark.parametrize(("policy", "window"), [("latest", None), ("none", None), ("all_within", 100_000)])
def test_editing_a_schedule_never_replays_slots_from_before_the_edit(process, fake_redis, settings, policy,  # noqa: F811
                                                                     window):
    """The store row is four slots behind (all of them within the all_within window) when the schedule is edited:
    the reload starts the new schedule from now, and no slot from before the edit runs or is recorded."""
    settings.SCHEDULER_MISFIRE_GRACE_SECONDS = 300
    _interval("quick_job", 300, catch_up_policy=policy, catch_up_window_seconds=window)
    proc = process(paused=True)
    _four_slots_behind(proc, "quick_job")
    edited_at = timezone.now()
    _interval("quick_job", 240)
    proc.reload()
    assert proc.scheduler.get_job("quick_job").next_run_time > edited_at
    proc.scheduler.resume()
    proc.scheduler.wakeup()
    _settle(proc, "quick_job")
    assert not JobRun.objects.filter(job_id="quick_job", scheduled_for__lte=edited_at).exists()


def test_the_policy_is_read_at_each_load():
    definition = JobDefinition(job_id="x", catch_up_policy="all_within", catch_up_window_seconds=60,
                               jitter_seconds=5)
    assert JobPolicy.of(definition) == JobPolicy(catch_up="all_within", window_seconds=60, jitter_seconds=5)
    assert SchedulerProcess(blocking=False).executor.policy_of("unknown") == JobPolicy()


def test_all_within_when_even_the_latest_slot_is_older_than_the_window():
    plan = catch_up_plan(policy=JobPolicy(catch_up="all_within", window_seconds=10), trigger=MINUTE,
                         first_due=L - timedelta(minutes=2), latest=L, now=L + timedelta(seconds=30))
    assert (plan.run, plan.missed, plan.capped, plan.no_grace) == ([L], _slots(2, 1), False, False)


@pytestmark_db
def test_an_all_within_catch_up_that_meets_a_running_run_leaves_a_row_for_every_slot(process, fake_redis,  # noqa: F811
                                                                                      settings):
    """APScheduler's max-instances event names only the latest slot (SKIPPED): the older slots of the window get
    the MISSED row, so none of them is silent."""
    settings.SCHEDULER_MISFIRE_GRACE_SECONDS = 300
    _interval("gated_job", 300, catch_up_policy="all_within", catch_up_window_seconds=1200)
    jobs_slow.GATE.clear()
    proc = process(paused=True)
    holder_slot = timezone.now().replace(microsecond=0) - timedelta(seconds=1)
    proc.scheduler.modify_job("gated_job", jobstore="default", next_run_time=holder_slot)
    proc.scheduler.resume()
    wait_for(lambda: JobRun.objects.filter(job_id="gated_job", status="RUNNING").exists(), timeout=15,
             message="the gated run to start")
    overdue, latest = _four_slots_behind(proc, "gated_job")
    skipped = wait_for(lambda: JobRun.objects.filter(job_id="gated_job", scheduled_for=latest).first(), timeout=15,
                       message="the catch-up fire's row")
    assert skipped.status == "SKIPPED" and skipped.skip_reason == "max_instances"
    missed = JobRun.objects.get(job_id="gated_job", status="MISSED")
    assert missed.scheduled_for == overdue and missed.skip_reason == "coalesced"
    assert missed.error.startswith(f"3 scheduled run(s) from {overdue.isoformat()}") and "max instances" in missed.error
    jobs_slow.GATE.set()
    _settle(proc, "gated_job")
