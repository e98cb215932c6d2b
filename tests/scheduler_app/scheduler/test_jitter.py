"""Jitter: scheduled starts spread over [slot, slot + N] with the slot kept, no wait for other triggers, and a
scheduler stop during the wait that neither loses the slot nor leaves it QUEUED. In-process schedulers (the same
wiring as runscheduler) and the real Redis where the lock matters."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone
from django_apscheduler.models import DjangoJob

from scheduler_app import registry, runs, services
from scheduler_app.job_wrapper import with_execution_lock
from scheduler_app.models import JobDefinition, JobRun
from scheduler_app.scheduler import jitter
from scheduler_app.scheduler.process import SchedulerProcess
from tests.scheduler_app.scheduler.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

JITTERED = [f"jitter_job_{i:02d}" for i in range(10)]


@pytest.fixture
def jitter_jobs(monkeypatch):
    """Ten no-op jobs registered for this test only, plus quick_job; every other definition disabled."""
    monkeypatch.setattr(registry, "_registry", dict(registry._registry))
    for job_id in JITTERED:
        with_execution_lock(timeout_minutes=1, job_id=job_id, name=job_id)(lambda: {"ok": True})
    services.job_definitions_sync()
    JobDefinition.objects.exclude(job_id__in=[*JITTERED, "quick_job"]).update(enabled=False)
    JobDefinition.objects.filter(job_id__in=[*JITTERED, "quick_job"]).update(trigger_type="interval",
                                                                             interval_seconds=3600)


@pytest.fixture
def scheduler(settings):
    settings.SCHEDULER_HEARTBEAT_SECONDS = 0.2
    started: list[SchedulerProcess] = []

    def start(*, paused: bool = False) -> SchedulerProcess:
        proc = SchedulerProcess(blocking=False, max_workers=12)  # every jittered fire waits in a worker of its own
        if paused:
            start_paused = proc.scheduler.start
            proc.scheduler.start = lambda: start_paused(paused=True)
        started.append(proc)
        proc.register_and_run()
        return proc

    yield start
    for proc in started:
        proc.stop(wait=True)


def _slot_for_all(proc: SchedulerProcess, job_ids: list[str], *, ahead: float = 1.5):
    slot = (timezone.now() + timedelta(seconds=ahead)).replace(microsecond=0)
    for job_id in job_ids:
        proc.scheduler.modify_job(job_id, jobstore="default", next_run_time=slot)
    return slot


def test_jittered_starts_spread_within_the_jitter_and_keep_their_slot(scheduler, jitter_jobs, fake_redis, caplog):
    JobDefinition.objects.filter(job_id__in=JITTERED).update(jitter_seconds=3)
    proc = scheduler(paused=True)
    slot = _slot_for_all(proc, [*JITTERED, "quick_job"])
    caplog.set_level("INFO", logger="scheduler_app")
    proc.scheduler.resume()
    done = JobRun.objects.filter(status="SUCCEEDED", trigger="scheduled")
    wait_for(lambda: done.count() == 11, timeout=20, message="the eleven runs")
    jittered = list(done.filter(job_id__in=JITTERED))
    assert {run.scheduled_for for run in jittered} == {slot}  # the slot stays the scheduled time
    starts = [(run.started_at - slot).total_seconds() for run in jittered]
    assert all(0 <= start <= 3 + 1.5 for start in starts), starts  # [slot, slot + N + margin]
    assert max(starts) - min(starts) >= 0.5, starts  # spread, not all at one instant
    for run in jittered:
        assert run.start_lateness_ms == pytest.approx((run.started_at - slot).total_seconds() * 1000, abs=50)
    plain = done.get(job_id="quick_job")
    assert plain.scheduled_for == slot and (plain.started_at - slot).total_seconds() < 1.5  # jitter 0: at once
    assert f"Jitter for job: {JITTERED[0]}: starts " in caplog.text
    assert "Jitter for job: quick_job" not in caplog.text


def test_other_triggers_never_wait_for_the_jitter(jitter_jobs, fake_redis):
    JobDefinition.objects.filter(job_id=JITTERED[0]).update(jitter_seconds=3600)
    began = time.monotonic()
    run = services.job_run(job_id=JITTERED[0], trigger="api")
    assert run.status == "SUCCEEDED" and time.monotonic() - began < 5


def test_a_stop_during_the_jitter_hands_the_slot_back_and_the_next_scheduler_runs_it(scheduler, jitter_jobs,
                                                                                      real_redis, settings,
                                                                                      monkeypatch):
    """The row is QUEUED (holding the slot) during the wait, and the lock is not taken yet. A stop cuts the wait
    short: the row ends MISSED, saying why, and the job store's next run time goes back to the slot, so the next
    scheduler runs it, once."""
    settings.SCHEDULER_MISFIRE_GRACE_SECONDS = 300
    job_id = JITTERED[0]
    JobDefinition.objects.filter(job_id=job_id).update(jitter_seconds=3600)
    monkeypatch.setattr(jitter.random, "uniform", lambda low, high: high)  # the longest wait: an hour
    first = scheduler(paused=True)
    slot = _slot_for_all(first, [job_id], ahead=0.5)
    first.scheduler.resume()
    queued = wait_for(lambda: JobRun.objects.filter(job_id=job_id, status="QUEUED").first(), timeout=10,
                      message="the jittered run's row")
    assert queued.scheduled_for == slot and real_redis.get(f"job_lock:{job_id}") is None
    began = time.monotonic()
    first.stop(wait=True)
    assert time.monotonic() - began < 10  # the wait ends with the stop, not an hour later
    missed = JobRun.objects.get(pk=queued.pk)
    assert (missed.status, missed.skip_reason, missed.started_at) == ("MISSED", "misfire", None)
    assert "jitter delay" in missed.error and "handed back to the job store" in missed.error
    assert DjangoJob.objects.get(id=job_id).next_run_time == slot
    JobDefinition.objects.filter(job_id=job_id).update(jitter_seconds=0)
    scheduler()
    ran = wait_for(lambda: JobRun.objects.filter(job_id=job_id, status="SUCCEEDED").first(), timeout=15,
                   message="the handed-back slot's run")
    assert ran.scheduled_for == slot
    assert sorted(JobRun.objects.filter(job_id=job_id).values_list("status", flat=True)) == ["MISSED", "SUCCEEDED"]


def test_a_hand_back_never_moves_a_store_that_moved_on(jitter_jobs):
    """A later claim (or an edited schedule) wrote something else than the slot's next fire: it stands."""
    from scheduler_app.scheduler.jobstore import slot_hand_back

    proc = SchedulerProcess(blocking=False)
    proc.reload()  # not started: the jobs are pending, so write one row by hand through the store
    proc.scheduler.start(paused=True)
    try:
        slot = (timezone.now() - timedelta(seconds=10)).replace(microsecond=0)
        proc.scheduler.modify_job(JITTERED[0], jobstore="default", next_run_time=slot + timedelta(seconds=7200))
        assert slot_hand_back(job_id=JITTERED[0], slot=slot) is False
        proc.scheduler.modify_job(JITTERED[0], jobstore="default", next_run_time=slot + timedelta(seconds=3600))
        assert slot_hand_back(job_id=JITTERED[0], slot=slot) is True
        assert DjangoJob.objects.get(id=JITTERED[0]).next_run_time == slot
        assert proc.jobstore.lookup_job(JITTERED[0]).next_run_time == slot  # the job's state too
    finally:
        proc.scheduler.shutdown(wait=False)


def test_the_reaper_leaves_a_scheduled_row_its_jitter(db):
    """A QUEUED scheduled row may wait up to JITTER_SECONDS_MAX before it waits for the lock: the reaper gives it
    that long more than other QUEUED rows."""
    old = timezone.now() - timedelta(seconds=runs.MAX_QUEUED_SECONDS + 120)
    ancient = old - timedelta(seconds=3600)
    rows = {name: JobRun.objects.create(job_id="quick_job", lock_key="quick_job", trigger=trigger, scheduled_for=slot)
            for name, trigger, slot in [("api", "api", None), ("jittering", "scheduled", old),
                                        ("dead", "scheduled", ancient)]}
    JobRun.objects.filter(pk__in=[rows["api"].pk, rows["jittering"].pk]).update(created_at=old)
    JobRun.objects.filter(pk=rows["dead"].pk).update(created_at=ancient)
    runs.runs_reap_abandoned()
    status = {name: JobRun.objects.get(pk=row.pk).status for name, row in rows.items()}
    assert status == {"api": "ABANDONED", "jittering": "QUEUED", "dead": "ABANDONED"}
