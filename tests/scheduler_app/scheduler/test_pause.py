"""A paused schedule records nothing per slot; manual triggers still run; on resume it fires from its next slot
after then, and no MISSED/SKIPPED row covers (and no run replays) the slots it skipped.

In this process (a BackgroundScheduler wired like runscheduler), then against a real `manage.py runscheduler`."""

from __future__ import annotations

import time

import pytest
from django.db.models import Q
from django.utils import timezone
from django_apscheduler.models import DjangoJob

from scheduler_app import services
from scheduler_app.models import JobDefinition, JobRun
from scheduler_app.scheduler import triggers
from scheduler_app.scheduler.process import SchedulerProcess
from tests.conftest import manage
from tests.scheduler_app.scheduler.conftest import wait_for

SKIPS = [JobRun.Status.SKIPPED, JobRun.Status.MISSED]


def _interval(job_id: str, seconds: int) -> None:
    JobDefinition.objects.filter(job_id=job_id).update(trigger_type="interval", interval_seconds=seconds, cron="")


def _store_next(job_id: str):
    return DjangoJob.objects.filter(id=job_id).values_list("next_run_time", flat=True).first()


def _stored(job_id: str) -> bool:
    return DjangoJob.objects.filter(id=job_id).exists()


def _nothing_for(seconds: float, rows) -> None:
    """The one bounded wait: watch `rows` for `seconds` (a few slots) and fail as soon as one appears."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert not rows.exists(), list(rows.values_list("id", "status", "skip_reason", "scheduled_for"))
        time.sleep(0.1)
    assert not rows.exists(), list(rows.values_list("id", "status", "skip_reason", "scheduled_for"))


@pytest.fixture
def process(settings, transactional_db):
    settings.SCHEDULER_HEARTBEAT_SECONDS = 0.2
    services.job_definitions_sync()
    started: list[SchedulerProcess] = []

    def start() -> SchedulerProcess:
        proc = SchedulerProcess(blocking=False, max_workers=4)
        started.append(proc)
        proc.register_and_run()
        return proc

    yield start
    for proc in started:
        proc.stop(wait=True)


def test_a_job_paused_before_start_is_stored_with_no_next_run_and_resumes_at_its_next_slot(process, fake_redis,
                                                                                           settings):
    """A new job's latest slot within the grace time fires at start (a scheduler starting just after a slot); a
    paused one's does not, and resume does not bring it back."""
    settings.SCHEDULER_MISFIRE_GRACE_SECONDS = 60
    _interval("quick_job", 1)
    services.job_schedule_pause(job_id="quick_job", reason="held", source="api")
    proc = process()  # its load is done when register_and_run returns
    assert _store_next("quick_job") is None
    assert not JobRun.objects.filter(job_id="quick_job").exists()

    resumed_at = timezone.now()
    services.job_schedule_resume(job_id="quick_job", source="api")
    proc.reload()
    reloaded_at = timezone.now()
    trigger = triggers.trigger_build(JobDefinition.objects.get(job_id="quick_job"))
    run = wait_for(lambda: JobRun.objects.filter(job_id="quick_job", status="SUCCEEDED").order_by("id").first(),
                   timeout=15, message="the first run after resume")
    # Its next slot after the resume: none before it, and none of the later ones skipped.
    assert resumed_at < run.scheduled_for <= triggers.next_fire_time(trigger, now=reloaded_at)
    assert not JobRun.objects.filter(job_id="quick_job", scheduled_for__lte=resumed_at).exists()
    assert not JobRun.objects.filter(job_id="quick_job", status__in=SKIPS).exists()


def test_pausing_a_stored_job_takes_its_next_run_away_and_a_reload_keeps_it_so(process, fake_redis):
    _interval("quick_job", 3600)
    proc = process()
    assert _store_next("quick_job") is not None
    services.job_schedule_pause(job_id="quick_job", reason="held", source="api")
    proc.reload()
    assert _stored("quick_job") and _store_next("quick_job") is None
    reloads = proc.reloads
    proc.reload()  # an unrelated reload: the paused row stands as it is
    # (>=: the reload thread may reload too, on a message some other process published on the shared channel)
    assert proc.reloads >= reloads + 1 and _store_next("quick_job") is None
    assert proc.scheduler.get_job("quick_job").next_run_time is None
    services.job_schedule_resume(job_id="quick_job", source="api")
    proc.reload()
    assert _store_next("quick_job") > timezone.now()


@pytest.mark.slow
@pytest.mark.real_redis
def test_a_live_scheduler_pauses_runs_manual_triggers_and_resumes_without_replaying(scheduler_process, real_redis,
                                                                                    subprocess_env):
    _interval("quick_job", 1)
    scheduled = JobRun.objects.filter(job_id="quick_job", trigger=JobRun.Trigger.SCHEDULED)
    scheduler_process()
    wait_for(lambda: scheduled.filter(status="SUCCEEDED").count() >= 2, timeout=30, message="scheduled runs")

    services.job_schedule_pause(job_id="quick_job", reason="maintenance", source="api")
    wait_for(lambda: _store_next("quick_job") is None, timeout=15,
             message="the scheduler to reload the paused job (no next run time in the store)")
    reloaded = timezone.now()
    # A slot claimed before the reload may still be finishing; nothing after the reload may be recorded at all.
    after_pause = scheduled.filter(scheduled_for__gt=reloaded)
    _nothing_for(3.5, after_pause)  # ~3 slots of a 1 s schedule

    manual = manage("runjob", "quick_job", env=subprocess_env)
    out, err = manual.communicate(timeout=60)
    assert manual.returncode == 0, err
    assert JobRun.objects.filter(job_id="quick_job", trigger=JobRun.Trigger.CLI, status="SUCCEEDED").count() == 1
    assert not after_pause.exists()

    resumed = timezone.now()
    services.job_schedule_resume(job_id="quick_job", source="api")
    wait_for(lambda: scheduled.filter(status="SUCCEEDED", scheduled_for__gt=resumed).count() >= 2, timeout=30,
             message="scheduled runs after resume")
    paused_slots = scheduled.filter(scheduled_for__gt=reloaded, scheduled_for__lte=resumed)
    assert not paused_slots.exists(), list(paused_slots.values_list("status", "skip_reason", "scheduled_for"))
    skips = scheduled.filter(Q(status__in=SKIPS), scheduled_for__gt=reloaded)
    assert not skips.exists(), list(skips.values_list("status", "skip_reason", "scheduled_for", "error"))
