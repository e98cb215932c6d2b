"""The scheduler process in this test process (a BackgroundScheduler with the same wiring as runscheduler)."""

from __future__ import annotations

import functools
from datetime import timedelta

import pytest
from django.utils import timezone

from scheduler_app import services
from scheduler_app.models import JobDefinition, JobRun, SchedulerInstance
from scheduler_app.scheduler.process import SchedulerProcess
from tests.scheduler_app.scheduler import jobs_slow  # registers slow_tick_job and gated_job
from tests.scheduler_app.scheduler.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def process(settings):
    settings.SCHEDULER_HEARTBEAT_SECONDS = 0.2
    services.job_definitions_sync()
    started: list[SchedulerProcess] = []

    def start(*, paused: bool = False) -> SchedulerProcess:
        """`paused`: APScheduler's own start(paused=True). Nothing fires (not even a slot due at start) until the
        test has set the job store up and calls `proc.scheduler.resume()`."""
        proc = SchedulerProcess(blocking=False, max_workers=4)
        if paused:
            proc.scheduler.start = functools.partial(proc.scheduler.start, paused=True)
        started.append(proc)
        proc.register_and_run()
        return proc

    yield start
    jobs_slow.GATE.set()  # a gated run still holding its instance must not hang stop(wait=True)
    for proc in started:
        proc.stop(wait=True)


def _settle(proc: SchedulerProcess, job_id: str) -> None:
    """No new fire from now on, and none still running: the rows are final."""
    proc.scheduler.pause()
    with proc.scheduler._jobstores_lock:  # a pass of the loop that began before the pause has ended
        pass
    wait_for(lambda: not proc.scheduler._executors["default"]._instances.get(job_id)
             and not JobRun.objects.filter(job_id=job_id, status__in=["QUEUED", "RUNNING"]).exists(),
             timeout=10, message=f"{job_id}'s fires to end")


def _interval(job_id: str, seconds: int, **fields) -> None:
    JobDefinition.objects.filter(job_id=job_id).update(trigger_type="interval", interval_seconds=seconds, **fields)


def test_misfire_becomes_missed_row(process, fake_redis, settings):
    """Scenario 11: a fire later than the grace time leaves a MISSED row, not only a log line."""
    settings.SCHEDULER_MISFIRE_GRACE_SECONDS = 1
    _interval("quick_job", 3600)
    proc = process()
    late = (timezone.now() - timedelta(seconds=30)).replace(microsecond=0)
    proc.scheduler.modify_job("quick_job", jobstore="default", next_run_time=late)  # as if the process stalled
    missed = wait_for(lambda: JobRun.objects.filter(job_id="quick_job", status="MISSED").first(), timeout=5,
                      message="MISSED row")
    assert missed.skip_reason == "misfire" and missed.trigger == "scheduled" and missed.scheduled_for == late
    assert "misfire grace" in missed.error
    assert not JobRun.objects.filter(job_id="quick_job", status="SUCCEEDED").exists()


@pytest.mark.django_db
def test_a_missed_slot_is_recorded_once_however_many_schedulers_see_it():
    from scheduler_app import services

    slot = timezone.now().replace(microsecond=0)
    rows = {services.job_run_record_not_started(job_id="quick_job", scheduled_for=slot, status="MISSED",
                                                skip_reason="misfire", error="late").pk for _ in range(2)}
    assert len(rows) == 1 and JobRun.objects.filter(status="MISSED").count() == 1


def test_a_missed_slot_is_recorded_once_when_schedulers_record_it_at_the_same_instant():
    """Three schedulers folding the same slots at once: the check and the insert are one transaction per job."""
    import threading

    from django.db import connection

    services.job_definitions_sync()
    slot = timezone.now().replace(microsecond=0)
    start = threading.Barrier(6)
    ids, errors = [], []

    def record() -> None:
        try:
            start.wait(timeout=10)
            ids.append(services.job_run_record_not_started(job_id="quick_job", scheduled_for=slot, status="MISSED",
                                                           skip_reason="coalesced", error="folded").pk)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=record) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors and len(ids) == 6
    assert len(set(ids)) == 1 and JobRun.objects.filter(status="MISSED").count() == 1


def test_a_late_fire_of_a_slot_another_scheduler_ran_is_a_duplicate_not_missed(process, fake_redis, settings):
    """Past the grace time, but the slot has its run (another scheduler's): SKIPPED duplicate_slot, not MISSED."""
    settings.SCHEDULER_MISFIRE_GRACE_SECONDS = 1
    _interval("quick_job", 3600)
    late = (timezone.now() - timedelta(seconds=30)).replace(microsecond=0)
    ran = JobRun.objects.create(job_id="quick_job", lock_key="quick_job", trigger="scheduled", status="SUCCEEDED",
                                scheduled_for=late, started_at=late, finished_at=late)
    proc = process(paused=True)
    proc.scheduler.modify_job("quick_job", jobstore="default", next_run_time=late)
    proc.scheduler.resume()
    row = wait_for(lambda: JobRun.objects.filter(job_id="quick_job").exclude(pk=ran.pk).first(), timeout=10,
                   message="the late fire's row")
    _settle(proc, "quick_job")
    assert row.status == "SKIPPED" and row.skip_reason == "duplicate_slot" and row.scheduled_for == late
    assert "s late" in row.error
    assert not JobRun.objects.filter(status="MISSED").exists()


def test_shutdown_during_a_pass_leaves_the_slot_due_for_the_other_schedulers(process, fake_redis):
    """SIGTERM while the loop wakes for a slot: shutdown() has shut the executors, so the pass cannot submit the
    fire. It must not move the shared job store's next run time either, or no other scheduler fires that slot."""
    from django_apscheduler.models import DjangoJob

    _interval("quick_job", 3600)
    proc = process(paused=True)
    due = timezone.now().replace(microsecond=0) - timedelta(seconds=1)
    proc.scheduler.modify_job("quick_job", jobstore="default", next_run_time=due)
    proc.scheduler.shutdown(wait=False)  # what SchedulerProcess.stop() does on SIGTERM
    proc.scheduler._process_jobs()  # the pass of a loop that woke just before the shutdown
    assert DjangoJob.objects.get(id="quick_job").next_run_time == due  # still due: another scheduler fires it
    assert not JobRun.objects.exists()


def test_a_reload_never_writes_back_a_slot_that_fired_while_it_ran(process, fake_redis):
    """A reload rewrites a renamed job from what it read at its start. If the job's slot fired meanwhile (a claim
    moved its row on), writing what was read would make the slot due again and fire it twice: the write is
    conditional, and one more reload applies the rename to the row as it now is."""
    from django_apscheduler.models import DjangoJob

    _interval("quick_job", 3600)
    proc = process(paused=True)
    read_at_start = DjangoJob.objects.get(id="quick_job").next_run_time
    claimed = read_at_start + timedelta(hours=1)
    real_stored_jobs = proc._stored_jobs

    def stored_jobs_then_a_claim():
        proc._stored_jobs = real_stored_jobs  # once: the next reload reads the row as it is
        jobs = real_stored_jobs()
        fired = proc.jobstore.lookup_job("quick_job")
        fired.next_run_time = claimed
        proc.jobstore.update_job(fired)  # another pass fired the slot: the row and its state move on
        return jobs

    proc._stored_jobs = stored_jobs_then_a_claim
    JobDefinition.objects.filter(job_id="quick_job").update(name="renamed")
    proc.reload()
    assert DjangoJob.objects.get(id="quick_job").next_run_time == claimed  # the fired slot is not brought back
    wait_for(lambda: proc.scheduler.get_job("quick_job").name == "renamed", timeout=10,
             message="the next reload to apply the rename")
    assert DjangoJob.objects.get(id="quick_job").next_run_time == claimed


def test_job_longer_than_interval_skips_and_records(process, fake_redis):
    """Scenarios 11 and 13: the next fire is skipped and recorded (max instances), not queued."""
    _interval("slow_tick_job", 1)
    process()
    skipped = wait_for(lambda: JobRun.objects.filter(job_id="slow_tick_job", skip_reason="max_instances").first(),
                       timeout=6, message="max_instances row")
    assert skipped.status == "SKIPPED" and skipped.scheduled_for is not None
    wait_for(lambda: JobRun.objects.filter(job_id="slow_tick_job", status="SUCCEEDED").exists(), timeout=6,
             message="first run to finish")
    # never two runs of one slot, and the skipped slot is not run later (not queued)
    ran = list(JobRun.objects.filter(job_id="slow_tick_job").exclude(status__in=["SKIPPED", "MISSED"])
               .values_list("scheduled_for", flat=True))
    assert len(ran) == len(set(ran))
    assert skipped.scheduled_for not in ran


def test_fires_carry_their_slot_and_use_the_lock(process, fake_redis):
    _interval("quick_job", 1)
    process()
    wait_for(lambda: JobRun.objects.filter(job_id="quick_job", status="SUCCEEDED").count() >= 2, timeout=6,
             message="two scheduled runs")
    runs = JobRun.objects.filter(job_id="quick_job", status="SUCCEEDED")
    for run in runs:
        assert run.trigger == "scheduled" and run.scheduled_for.microsecond == 0 and run.lock_backend == "redis"
        assert abs((run.started_at - run.scheduled_for).total_seconds()) < 1.5


def test_reload_on_redis_message_keeps_running_job(process, real_redis, settings):
    settings.SCHEDULER_HEARTBEAT_SECONDS = 60  # only the Redis message can trigger the reload here
    _interval("slow_tick_job", 3600)
    proc = process()
    wait_for(proc.control.subscribed.is_set, timeout=5, message="control subscription")
    proc.scheduler.modify_job("slow_tick_job", jobstore="default", next_run_time=timezone.now())
    running = wait_for(lambda: JobRun.objects.filter(job_id="slow_tick_job", status="RUNNING").first(), timeout=5,
                       message="slow run started")
    JobDefinition.objects.filter(job_id="slow_tick_job").update(enabled=False)
    reloads = proc.reloads
    services.scheduler_reload_request()
    wait_for(lambda: proc.reloads > reloads, timeout=3, message="reload after the Redis message")
    assert proc.scheduler.get_job("slow_tick_job") is None  # disabled: unscheduled
    running = wait_for(lambda: JobRun.objects.get(pk=running.pk).is_finished and JobRun.objects.get(pk=running.pk),
                       timeout=5, message="the running job to finish")
    assert running.status == "SUCCEEDED"  # not interrupted by the reload


def test_reload_from_database_version_when_redis_is_down(process, dead_redis, settings):
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": "redis://127.0.0.1:1/0"}}
    proc = process()
    assert not proc.control.subscribed.is_set()
    reloads = proc.reloads
    definition = JobDefinition.objects.get(job_id="quick_job")
    definition.trigger_type, definition.interval_seconds = "interval", 120
    definition.save()  # what the admin does
    wait_for(lambda: proc.reloads > reloads, timeout=3, message="reload from the database version")
    assert str(proc.scheduler.get_job("quick_job").trigger) == "interval[0:02:00]"


def test_heartbeat_and_clean_stop(process, fake_redis):
    proc = process()
    instance = SchedulerInstance.objects.get(pk=proc.instance_id)
    first = instance.heartbeat_at
    wait_for(lambda: SchedulerInstance.objects.get(pk=proc.instance_id).heartbeat_at > first, timeout=3,
             message="a heartbeat")
    proc.stop()
    instance.refresh_from_db()
    assert instance.stopped_at is not None
    from scheduler_app import selectors

    assert selectors.scheduler_status()["running"] is False


def test_reaper_marks_abandoned_and_clears_stale_lock(process, fake_redis, fast_lease, settings):
    settings.SCHEDULER_REAPER_SECONDS = 0.3
    old = timezone.now() - timedelta(seconds=30)
    dead = JobRun.objects.create(job_id="hold_job", lock_key="hold_job", trigger="api", status="RUNNING",
                                 started_at=old, heartbeat_at=old)
    from scheduler_app import locks

    fake_redis.set("job_lock:quick_job", "set by hand, no TTL")
    process()
    wait_for(lambda: JobRun.objects.get(pk=dead.pk).status == "ABANDONED", timeout=4, message="reaper")
    wait_for(lambda: locks.inspect("quick_job") is None, timeout=4, message="stale lock cleared")


def test_restart_fires_a_due_slot_once_and_skips_while_lock_held(process, fake_redis, settings):
    """DESIGN: restart reloads, and a job that is due then fires at once (SKIPPED if its lock is held)."""
    from scheduler_app import locks

    JobDefinition.objects.filter(job_id="quick_job").update(cron="* * * * *")
    lease = locks.acquire("quick_job", ttl_seconds=60)
    try:
        proc = process()
        scheduled = JobRun.objects.filter(job_id="quick_job", trigger="scheduled")
        first = wait_for(lambda: scheduled.exclude(status="QUEUED").first(), timeout=3,
                         message="the due slot fired at start")
        assert first.status == "SKIPPED" and first.skip_reason == "lock_held"
        assert first.blocked_by["holder"]["token"] == lease.holder.token
        proc.reload()
        wait_for(lambda: scheduled.filter(status="SKIPPED", skip_reason="lock_held").count() == 2, timeout=3,
                 message="the due slot fired again at reload")
    finally:
        lease.release()
    proc.reload()
    ran = wait_for(lambda: JobRun.objects.filter(job_id="quick_job", trigger="scheduled",
                                                 status="SUCCEEDED").first(), timeout=3, message="the slot runs")
    proc.reload()  # the slot has its run now: not due any more
    # A reload that made it due would leave next_run_time at or before now until the loop fires it: wait until the
    # stored next run is ahead (either it was not due, or its fire was submitted), then let any fire end.
    wait_for(lambda: proc.scheduler.get_job("quick_job", jobstore="default").next_run_time > timezone.now(),
             timeout=10, message="the stored next run to be ahead after the reload")
    _settle(proc, "quick_job")
    assert JobRun.objects.filter(job_id="quick_job", scheduled_for=ran.scheduled_for).exclude(
        status="SKIPPED").count() == 1


def _four_slots_behind(proc: SchedulerProcess, job_id: str):
    """Sets the stored next run time four 300 s slots back: (first, latest), with latest 150 s ago and the next
    slot 150 s ahead, so neither the misfire grace (300 s) nor the next slot is a matter of timing."""
    overdue = (timezone.now() - timedelta(seconds=3 * 300 + 150)).replace(microsecond=0)
    proc.scheduler.modify_job(job_id, jobstore="default", next_run_time=overdue)
    return overdue, overdue + timedelta(seconds=900)


def _assert_one_coalesced_row(job_id: str, overdue, latest) -> None:
    """The three slots folded into the latest did not run, and are not silent: one MISSED row, at the first."""
    behind = [overdue + timedelta(seconds=s) for s in (0, 300, 600)]
    missed = JobRun.objects.filter(job_id=job_id, scheduled_for__in=behind).get()
    assert missed.scheduled_for == overdue and missed.status == "MISSED" and missed.skip_reason == "coalesced"
    assert missed.trigger == "scheduled" and missed.finished_at is not None
    assert missed.error.startswith(f"3 scheduled run(s) from {overdue.isoformat()} to {behind[-1].isoformat()}")
    assert latest.isoformat() in missed.error
    assert JobRun.objects.filter(job_id=job_id, status="MISSED").count() == 1


def test_catch_up_after_downtime_runs_once(process, fake_redis, settings):
    """Scenario 12: a scheduler that comes back after missing several slots runs the job once, not once per slot,
    and records the slots it folded away."""
    settings.SCHEDULER_MISFIRE_GRACE_SECONDS = 300
    _interval("quick_job", 300)
    proc = process(paused=True)  # no start-up fire: nothing else holds the job's one instance at the catch-up
    overdue, latest = _four_slots_behind(proc, "quick_job")
    proc.scheduler.resume()
    wait_for(lambda: JobRun.objects.filter(job_id="quick_job", scheduled_for=latest, status="SUCCEEDED").exists(),
             timeout=15, message="the catch-up run")
    _settle(proc, "quick_job")
    rows = list(JobRun.objects.filter(job_id="quick_job").values_list("scheduled_for", "status"))
    assert sorted(rows) == [(overdue, "MISSED"), (latest, "SUCCEEDED")]  # one run, for the latest slot
    _assert_one_coalesced_row("quick_job", overdue, latest)


def test_coalesced_slots_are_recorded_when_the_catch_up_is_skipped_for_max_instances(process, fake_redis, settings):
    """Finding 8: the catch-up fire meets a run of the job still going (max_instances=1). APScheduler skips it
    before the executor sees it; the latest slot is SKIPPED (max_instances) and the three folded slots still leave
    their MISSED/coalesced row."""
    settings.SCHEDULER_MISFIRE_GRACE_SECONDS = 300
    _interval("gated_job", 300)
    jobs_slow.GATE.clear()
    proc = process(paused=True)
    holder_slot = timezone.now().replace(microsecond=0) - timedelta(seconds=1)
    proc.scheduler.modify_job("gated_job", jobstore="default", next_run_time=holder_slot)
    proc.scheduler.resume()
    holder = wait_for(lambda: JobRun.objects.filter(job_id="gated_job", status="RUNNING").first(), timeout=15,
                      message="the gated run to start")
    assert holder.scheduled_for == holder_slot
    assert proc.scheduler._executors["default"]._instances.get("gated_job") == 1
    overdue, latest = _four_slots_behind(proc, "gated_job")
    skipped = wait_for(lambda: JobRun.objects.filter(job_id="gated_job", scheduled_for=latest).first(),
                       timeout=15, message="the catch-up fire's row")
    assert skipped.status == "SKIPPED" and skipped.skip_reason == "max_instances"
    _assert_one_coalesced_row("gated_job", overdue, latest)
    jobs_slow.GATE.set()
    wait_for(lambda: JobRun.objects.get(pk=holder.pk).status == "SUCCEEDED", timeout=15, message="the gated run")
    _settle(proc, "gated_job")
    rows = list(JobRun.objects.filter(job_id="gated_job").values_list("scheduled_for", "status"))
    assert sorted(rows) == [(overdue, "MISSED"), (latest, "SKIPPED"), (holder_slot, "SUCCEEDED")]


def test_catch_up_leaves_out_the_folded_slots_another_scheduler_ran(process, fake_redis, settings):
    """A scheduler whose view of the shared store is behind folds slots that another scheduler has run: those are
    not missed. The MISSED row names only the ones that did not run."""
    settings.SCHEDULER_MISFIRE_GRACE_SECONDS = 300
    _interval("quick_job", 300)
    proc = process(paused=True)
    overdue, latest = _four_slots_behind(proc, "quick_job")
    elsewhere = overdue + timedelta(seconds=300)
    JobRun.objects.create(job_id="quick_job", lock_key="quick_job", trigger="scheduled", status="SUCCEEDED",
                          scheduled_for=elsewhere, started_at=elsewhere, finished_at=elsewhere)
    proc.scheduler.resume()
    wait_for(lambda: JobRun.objects.filter(job_id="quick_job", scheduled_for=latest, status="SUCCEEDED").exists(),
             timeout=15, message="the catch-up run")
    _settle(proc, "quick_job")
    missed = JobRun.objects.get(status="MISSED")
    assert missed.scheduled_for == overdue and missed.skip_reason == "coalesced"
    assert missed.error.startswith(f"2 scheduled run(s) from {overdue.isoformat()} to "
                                   f"{(overdue + timedelta(seconds=600)).isoformat()}")


def test_late_fire_of_a_slot_already_run_is_refused(fake_redis):
    """Scenario 6: a short job and a skewed clock. The second scheduler fires the same slot after the first run
    has finished (so the lock is free); the per-slot guard refuses it and records why."""
    from scheduler_app.scheduler.fire import job_fire

    slot = timezone.now().replace(microsecond=0)
    first = JobRun.objects.get(pk=job_fire("quick_job", scheduled_for=slot))
    assert first.status == "SUCCEEDED"
    late = JobRun.objects.get(pk=job_fire("quick_job", scheduled_for=slot))
    assert late.status == "SKIPPED" and late.skip_reason == "duplicate_slot"
    assert JobRun.objects.filter(scheduled_for=slot).exclude(status="SKIPPED").count() == 1
    nxt = JobRun.objects.get(pk=job_fire("quick_job", scheduled_for=slot + timedelta(seconds=1)))
    assert nxt.status == "SUCCEEDED"


def test_web_requests_never_start_a_scheduler(client, fake_redis, django_user_model):
    """Scenario 1: no scheduler in web workers or AppConfig.ready(); only runscheduler starts one."""
    import threading

    user = django_user_model.objects.create_user("staff", password="pw", is_staff=True)
    client.force_login(user)
    assert client.get("/api/v1/scheduler/status").json()["running"] is False
    assert client.get("/admin/").status_code == 200
    assert not SchedulerInstance.objects.exists()
    assert not any(t.name.startswith(("APScheduler", "scheduler-")) for t in threading.enumerate())
