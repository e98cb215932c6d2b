"""Deploys and downtime against real `manage.py runscheduler` processes and the real Redis: a scheduler that stops
just before a slot and one that starts just after it run the slot exactly once (and the reverse overlap), and a
scheduler started after a downtime applies each job's catch-up policy.

The judge of "once" is the record that the job body itself appends to (jobs_record.py), outside the project's
tables, plus the JobRun rows.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from apscheduler.job import Job
from django.utils import timezone

from scheduler_app import services
from scheduler_app.models import JobDefinition, JobRun, SchedulerInstance
from scheduler_app.scheduler import triggers
from scheduler_app.scheduler.fire import job_fire
from scheduler_app.scheduler.jobstore import ClaimingJobStore
from tests.scheduler_app.scheduler import jobs_record
from tests.scheduler_app.scheduler.conftest import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.real_redis]

WARM_MANAGE = Path(__file__).resolve().parents[2] / "chaos" / "warm_manage.py"
PERIOD = 6  # seconds: the deploy job's interval (slots anchored at a fixed UTC instant, so the test knows them)


@pytest.fixture
def record_env(subprocess_env, real_redis, tmp_path):
    """Only the record jobs are enabled; the schedulers register them (EXTRA_JOB_MODULES) and append to `record`."""
    services.job_definitions_sync()
    JobDefinition.objects.update(enabled=False)
    record = tmp_path / "record.log"
    env = {**subprocess_env, "EXTRA_JOB_MODULES": f"{subprocess_env['EXTRA_JOB_MODULES']},{jobs_record.__name__}",
           jobs_record.RECORD_ENV: str(record), "LOG_DB_ENABLED": "false"}
    return env, record


def _define(job_id: str, seconds: int, **fields) -> JobDefinition:
    return JobDefinition.objects.create(job_id=job_id, name=job_id, trigger_type="interval", interval_seconds=seconds,
                                        timeout_minutes=1, **fields)


class WarmScheduler:
    """A `runscheduler` whose Django is imported ahead of time (tests/chaos/warm_manage.py): `go()` starts the
    command itself, which registers within a fraction of a second instead of the seconds a cold start takes."""

    def __init__(self, env: dict):
        self.output_file = tempfile.TemporaryFile("w+")
        self.proc = subprocess.Popen([sys.executable, str(WARM_MANAGE)], env=env, stdin=subprocess.PIPE,
                                     stdout=self.output_file, stderr=subprocess.STDOUT, text=True)
        self.pid = self.proc.pid

    def output(self) -> str:
        self.output_file.seek(0)
        return self.output_file.read()

    def wait_ready(self) -> None:
        wait_for(lambda: "ready" in self.output() or self.proc.poll() is not None, timeout=60,
                 message="the warm scheduler to import Django")
        assert self.proc.poll() is None, self.output()

    def go(self) -> None:
        self.proc.stdin.write(json.dumps(["runscheduler"]) + "\n")
        self.proc.stdin.flush()

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        output = self.output()
        self.output_file.close()
        return output


@pytest.fixture
def warm_scheduler():
    started: list[WarmScheduler] = []

    def start(env: dict) -> WarmScheduler:
        scheduler = WarmScheduler(env)
        started.append(scheduler)
        return scheduler

    yield start
    for scheduler in started:
        if scheduler.proc.poll() is None:
            scheduler.stop()


def _registered(pid: int) -> bool:
    return SchedulerInstance.objects.filter(pid=pid, stopped_at__isnull=True).exists()


def _sleep_until(moment: datetime) -> None:
    """Timing the signal, not waiting for an outcome: the assertions wait for conditions."""
    time.sleep(max(0.0, (moment - timezone.now()).total_seconds()))


def _slot_after(moment: datetime) -> datetime:
    return triggers.next_fire_time(triggers.trigger_build(JobDefinition(
        job_id="slot_record_job", trigger_type="interval", interval_seconds=PERIOD)), now=moment)


def _assert_each_slot_once(record: Path, job_id: str, first: datetime, last: datetime) -> dict:
    """Every slot from `first` to `last` ran exactly once (record and rows alike), none missed. Returns
    slot -> the pid that ran it."""
    lines = [line for line in jobs_record.record_read(record) if line[0] == job_id]
    slots = [first + timedelta(seconds=PERIOD * i) for i in range(int((last - first).total_seconds()) // PERIOD + 1)]
    counts = Counter(slot for _, slot, _, _ in lines)
    assert {slot: counts[slot] for slot in slots} == {slot: 1 for slot in slots}, lines
    runs = JobRun.objects.filter(job_id=job_id, scheduled_for__gte=first, scheduled_for__lte=last)
    counted = Counter(runs.exclude(status__in=["SKIPPED", "MISSED"]).values_list("scheduled_for", flat=True))
    assert counted == Counter(slots), list(runs.values_list("scheduled_for", "status", "skip_reason"))
    assert not JobRun.objects.filter(job_id=job_id, status="MISSED").exists()
    return {slot: pid for _, slot, _, pid in lines if slot in slots}


def test_a_deploy_that_stops_before_a_slot_and_starts_after_it_runs_the_slot_once(scheduler_process, warm_scheduler,
                                                                                  record_env):
    """The old scheduler gets SIGTERM 0.1 s before slot S and the new one starts 0.5 s after S: S runs exactly once
    (in whichever process fired it), and the slots before and after it once each.

    A cold `manage.py runscheduler` spends seconds importing Django, so a process started at S + 0.5 would
    register at an instant nobody controls. The new scheduler is therefore started ahead of time with Django
    imported (warm_manage.py), and its command is launched at S + 0.5 exactly: it registers a fraction of a second
    later, well before the next slot (S + 6 s), so its start is "after S" deterministically and the slot's fate
    depends only on the hand-over through the shared job store (the old process left S unclaimed, or ran it)."""
    env, record = record_env
    _define("slot_record_job", PERIOD)
    new = warm_scheduler(env)
    old = scheduler_process(**env)
    new.wait_ready()
    first = wait_for(lambda: next((slot for job_id, slot, _, pid in jobs_record.record_read(record)
                                   if pid == old.pid), None), timeout=3 * PERIOD, message="a slot run by the old one")
    slot = _slot_after(timezone.now() + timedelta(seconds=1))  # at least a second to aim the signal
    _sleep_until(slot - timedelta(seconds=0.1))
    old.send_signal(signal.SIGTERM)
    _sleep_until(slot + timedelta(seconds=0.5))
    new.go()
    old.wait(timeout=20)
    code, output = scheduler_process.stop(old)
    assert code == 0, output
    wait_for(lambda: _registered(new.pid) or new.proc.poll() is not None, timeout=10, message="the new one")
    after = slot + timedelta(seconds=PERIOD)
    wait_for(lambda: any(s == after for _, s, _, _ in jobs_record.record_read(record)), timeout=3 * PERIOD,
             message="the slot after S, run by the new scheduler")
    output = new.stop()
    ran_by = _assert_each_slot_once(record, "slot_record_job", first, after)
    assert ran_by[after] == new.pid, output
    assert ran_by[slot] in (old.pid, new.pid)


def test_a_deploy_whose_new_scheduler_starts_before_the_old_one_stops_runs_each_slot_once(scheduler_process,
                                                                                         record_env):
    """The reverse overlap: the new scheduler is up before slot S and the old one stops 0.5 s after S. Both could
    fire S; the slot claim gives it to one of them, and the per-slot guard stands behind it."""
    env, record = record_env
    _define("slot_record_job", PERIOD)
    old = scheduler_process(**env)
    first = wait_for(lambda: next((slot for _, slot, _, pid in jobs_record.record_read(record) if pid == old.pid),
                                  None), timeout=3 * PERIOD, message="a slot run by the old one")
    new = scheduler_process(**env)
    slot = _slot_after(timezone.now() + timedelta(seconds=0.5))
    _sleep_until(slot + timedelta(seconds=0.5))
    code, output = scheduler_process.stop(old)
    assert code == 0, output
    after = slot + timedelta(seconds=PERIOD)
    wait_for(lambda: any(s == after for _, s, _, _ in jobs_record.record_read(record)), timeout=3 * PERIOD,
             message="the slot after S, run by the new scheduler")
    ran_by = _assert_each_slot_once(record, "slot_record_job", first, after)
    assert ran_by[after] == new.pid


def _store_behind(definition: JobDefinition, first_due: datetime) -> None:
    """The job's store row as a scheduler that went down before `first_due` left it."""
    scheduler = SimpleNamespace(timezone=triggers.tz())  # all a Job needs of its scheduler here
    job = Job(scheduler, id=definition.job_id, func=job_fire, trigger=triggers.trigger_build(definition),
              executor="default", args=[definition.job_id], kwargs={}, name=definition.name,
              misfire_grace_time=120, coalesce=True, max_instances=1, next_run_time=first_due)
    ClaimingJobStore().add_job(job)


def test_a_scheduler_started_after_downtime_applies_each_jobs_catch_up_policy(scheduler_process, record_env):
    """Three 60 s jobs whose store rows are five slots behind (L - 240 s to L, the latest slot L under 35 s ago,
    the misfire grace 120 s) when a scheduler starts:

    - latest: L runs; the four before it are one MISSED row (coalesced);
    - none: nothing runs; the five are one MISSED row, and the next run is L + 60 s;
    - all_within 150 s (+ L's age): L - 120, L - 60 and L run, in that order, each for its own slot (L - 120 is
      past the grace time: the window decides); L - 240 and L - 180 are one MISSED row."""
    env, record = record_env
    now = timezone.now()
    latest_slot = triggers.next_fire_time(triggers.trigger_build(JobDefinition(
        trigger_type="interval", interval_seconds=60)), now=now - timedelta(seconds=60))
    if (latest_slot + timedelta(seconds=60) - now).total_seconds() < 25:  # room for the start before the next slot
        _sleep_until(latest_slot + timedelta(seconds=60.5))
        now, latest_slot = timezone.now(), latest_slot + timedelta(seconds=60)
    age = int((now - latest_slot).total_seconds()) + 1
    first_due = latest_slot - timedelta(seconds=240)
    for job_id, policy in (("slot_record_latest", "latest"), ("slot_record_none", "none"),
                           ("slot_record_all", "all_within")):
        window = 150 + age if policy == "all_within" else None
        _store_behind(_define(job_id, 60, catch_up_policy=policy, catch_up_window_seconds=window), first_due)
    slot = {k: latest_slot - timedelta(seconds=60 * k) for k in range(5)}  # slot[k]: k periods before L
    proc = scheduler_process(**env)
    rows = JobRun.objects.filter(scheduled_for__lte=latest_slot)
    wait_for(lambda: rows.filter(job_id="slot_record_latest", status="SUCCEEDED").exists()
             and rows.filter(job_id="slot_record_all", status="SUCCEEDED").count() == 3
             and rows.filter(job_id="slot_record_none", status="MISSED").exists(), timeout=30,
             message="the catch-up of the three jobs")
    code, output = scheduler_process.stop(proc)
    assert code == 0, output
    ran = [(job_id, s) for job_id, s, _, _ in jobs_record.record_read(record) if s <= latest_slot]
    assert sorted(ran) == sorted([("slot_record_latest", slot[0])] + [("slot_record_all", slot[k]) for k in range(3)])
    assert [s for job_id, s in ran if job_id == "slot_record_all"] == [slot[2], slot[1], slot[0]]  # oldest first

    def rows_of(job_id):
        return sorted(rows.filter(job_id=job_id).values_list("scheduled_for", "status", "skip_reason"))

    assert rows_of("slot_record_latest") == [(slot[4], "MISSED", "coalesced"), (slot[0], "SUCCEEDED", "")]
    assert rows_of("slot_record_none") == [(slot[4], "MISSED", "coalesced")]
    assert rows_of("slot_record_all") == sorted([(slot[4], "MISSED", "coalesced"), (slot[2], "SUCCEEDED", ""),
                                                 (slot[1], "SUCCEEDED", ""), (slot[0], "SUCCEEDED", "")])
    errors = {job_id: rows.get(job_id=job_id, status="MISSED").error for job_id in
              ("slot_record_latest", "slot_record_none", "slot_record_all")}
    assert errors["slot_record_latest"].startswith(f"4 scheduled run(s) from {slot[4].isoformat()} to "
                                                   f"{slot[1].isoformat()}")
    assert errors["slot_record_none"].startswith(f"5 scheduled run(s) from {slot[4].isoformat()} to "
                                                 f"{slot[0].isoformat()}")
    assert "catch-up policy is none" in errors["slot_record_none"]
    assert errors["slot_record_all"].startswith(f"2 scheduled run(s) from {slot[4].isoformat()} to "
                                                f"{slot[3].isoformat()}")
    assert "catch-up window" in errors["slot_record_all"]
    stored = {job.id: job.next_run_time for job in ClaimingJobStore().get_all_jobs()}
    assert all(stored[f"slot_record_{p}"] >= latest_slot + timedelta(seconds=60) for p in ("latest", "none", "all"))


def test_a_scheduler_stopped_during_a_jitter_wait_hands_the_slot_to_the_next_one(scheduler_process, record_env):
    """A real SIGTERM while a fire waits out its jitter (up to an hour here): the process exits promptly, the
    row ends MISSED saying why, the slot is back in the job store, and the next scheduler runs it, once."""
    from django_apscheduler.models import DjangoJob

    env, record = record_env
    definition = _define("slot_record_job", 3600, jitter_seconds=3600)
    slot = (timezone.now() - timedelta(seconds=1)).replace(microsecond=0)
    _store_behind(definition, slot)
    old = scheduler_process(**env)
    fired = wait_for(lambda: JobRun.objects.filter(job_id="slot_record_job", scheduled_for=slot).exclude(
        status="QUEUED").first() or JobRun.objects.filter(job_id="slot_record_job", status="QUEUED").first(),
        timeout=15, message="the jittered fire's row")
    if fired.status != "QUEUED":
        pytest.skip("the jitter drawn was too short to stop the scheduler during it")  # about 1 in 1,000
    began = time.monotonic()
    code, output = scheduler_process.stop(old)
    assert code == 0 and time.monotonic() - began < 15, output
    missed = JobRun.objects.get(pk=fired.pk)
    assert (missed.status, missed.scheduled_for) == ("MISSED", slot), output
    assert "handed back to the job store" in missed.error
    assert DjangoJob.objects.get(id="slot_record_job").next_run_time == slot
    JobDefinition.objects.filter(job_id="slot_record_job").update(jitter_seconds=0)
    new = scheduler_process(**env)
    wait_for(lambda: jobs_record.record_read(record), timeout=15, message="the slot's run in the new scheduler")
    code, output = scheduler_process.stop(new)
    assert [(job_id, s, pid) for job_id, s, _, pid in jobs_record.record_read(record)] == [
        ("slot_record_job", slot, new.pid)]
    assert sorted(JobRun.objects.filter(job_id="slot_record_job").values_list("status", flat=True)) == [
        "MISSED", "SUCCEEDED"]
