"""Chaos: three `manage.py runscheduler` processes share the job store, the database and one Redis, and fire a job
on a 1-second schedule. Each slot runs exactly once, no two runs overlap, and no slot is lost without a record.

DESIGN.md "Several schedulers": APScheduler's job store has no cross-process coordination, so every process may fire
the same slot; the per-(job, slot) guard and the execution lock must make one of them run it and the others leave
a SKIPPED row. The test job keeps a record of its own (tests/chaos/scheduler_support.py), outside the project's
tables, so that a second run of a slot shows even if the run history were wrong.

CHAOS_SCHEDULER_SECONDS sets how long the three run (default 15; `make chaos` sets 60 or more).
CHAOS_SCHEDULER_MIN_RAN is the share of the window's slots that must have run (default 0.8); the rest may be
MISSED or SKIPPED, but each with a row.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from django.db import close_old_connections

from scheduler_app import services
from scheduler_app.models import JobDefinition, JobRun, SchedulerInstance
from tests.chaos import scheduler_support as support
from tests.conftest import require

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SCHEDULERS = 3
SECONDS = float(os.environ.get("CHAOS_SCHEDULER_SECONDS", "15"))
MIN_RAN = float(os.environ.get("CHAOS_SCHEDULER_MIN_RAN", "0.8"))
NOT_RUN = (JobRun.Status.SKIPPED, JobRun.Status.MISSED)
COALESCED_RANGE = re.compile(r"from (\S+) to (\S+) did not run")


def _wait_for(predicate, *, timeout: float, message: str, schedulers=()):
    """Poll until `predicate()` is true; fail at once, with its output, if a scheduler has exited."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        for scheduler in schedulers:
            if scheduler.proc.poll() is not None:
                raise AssertionError(f"runscheduler {scheduler.pid} exited {scheduler.proc.returncode} while "
                                     f"waiting for {message}:\n{scheduler.output()[-5000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message}")
        time.sleep(0.1)
        close_old_connections()


def _whole_seconds(start: datetime, end: datetime) -> list[datetime]:
    """The 1 s interval's slots in [start, end] (the interval trigger is anchored at a whole second)."""
    first = datetime.fromtimestamp(math.ceil(start.timestamp()), tz=UTC)
    return [first + timedelta(seconds=i) for i in range(int((end - first).total_seconds()) + 1)]


def _poll(predicate, *, timeout: float) -> bool:
    """Like _wait_for, but says whether the condition came instead of failing (the assertions tell what is wrong)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
        close_old_connections()
    return True


def _accounts(rows: list[JobRun]) -> tuple[set[datetime], dict[datetime, list[str]]]:
    """The slots that ran, and for every slot the SKIPPED/MISSED rows that account for it (a coalesced MISSED row
    stands for the range of slots its error names)."""
    ran = {row.scheduled_for for row in rows if row.status not in NOT_RUN}
    accounted: dict[datetime, list[str]] = defaultdict(list)
    for row in rows:
        if row.status in NOT_RUN:
            accounted[row.scheduled_for].append(f"{row.status}/{row.skip_reason}")
        if row.skip_reason == JobRun.SkipReason.COALESCED:
            first, last = (datetime.fromisoformat(v) for v in COALESCED_RANGE.search(row.error).groups())
            for slot in _whole_seconds(first, last):
                accounted[slot].append("MISSED/coalesced (range)")
    return ran, accounted


def _silent(window: list[datetime]) -> list[datetime]:
    ran, accounted = _accounts(list(JobRun.objects.filter(job_id=support.JOB_ID)))
    return [slot for slot in window if slot not in ran and not accounted.get(slot)]


def _overlaps(intervals: list[tuple[float, float, object]]) -> list[tuple[object, object]]:
    ordered = sorted(intervals, key=lambda item: item[0])
    return [(a[2], b[2]) for a, b in zip(ordered, ordered[1:], strict=False) if b[0] < a[1]]


@pytest.fixture
def own_redis(tmp_path):
    require(shutil.which("redis-server") is not None, "redis-server is not installed")
    server = support.RedisServer(tmp_path)
    yield server
    server.stop()


def test_three_schedulers_run_each_slot_exactly_once(subprocess_env, own_redis, tmp_path):
    services.job_definitions_sync()
    JobDefinition.objects.exclude(job_id=support.JOB_ID).update(enabled=False)  # only the 1 s job fires
    JobDefinition.objects.filter(job_id=support.JOB_ID).update(trigger_type="interval", interval_seconds=1,
                                                               enabled=True)
    record = tmp_path / "record.log"
    env = {**subprocess_env, "REDIS_URL": own_redis.url, "SCHEDULER_HEARTBEAT_SECONDS": "0.5",
           "EXTRA_JOB_MODULES": f"{subprocess_env['EXTRA_JOB_MODULES']},{support.__name__}",
           support.RECORD_ENV: str(record)}
    schedulers = [support.Scheduler(env=env, workdir=tmp_path, index=i) for i in range(SCHEDULERS)]
    try:
        pids = [s.pid for s in schedulers]
        _wait_for(lambda: SchedulerInstance.objects.filter(pid__in=pids, stopped_at__isnull=True).count()
                  == SCHEDULERS, timeout=60, message="three schedulers to register", schedulers=schedulers)
        # every process has loaded the schedule once a run starts after the last one registered
        registered = max(SchedulerInstance.objects.filter(pid__in=pids).values_list("started_at", flat=True))
        _wait_for(lambda: any(line.start > registered.timestamp() + 0.5 for line in support.record_read(record)),
                  timeout=30, message="a run after all three registered", schedulers=schedulers)
        window_start = datetime.now(UTC)
        until = time.monotonic() + SECONDS
        _wait_for(lambda: time.monotonic() >= until, timeout=SECONDS + 5, message=f"{SECONDS:g} s of slots",
                  schedulers=schedulers)
        window_end = datetime.now(UTC)
        window = _whole_seconds(window_start + timedelta(seconds=1), window_end - timedelta(seconds=1))
        # A loaded machine may fire the window's last slots late: let them land before the SIGTERM (a slot still
        # due when all three stop would have no row, and look lost).
        _poll(lambda: not _silent(window) and not JobRun.objects.filter(status__in=["QUEUED", "RUNNING"]).exists(),
              timeout=30)
    finally:
        codes = {s.pid: s.stop() for s in schedulers}
    outputs = {s.pid: s.output() for s in schedulers}
    assert all(code == 0 for code in codes.values()), (codes, outputs)
    assert SchedulerInstance.objects.filter(pid__in=pids, stopped_at__isnull=False).count() == SCHEDULERS

    rows = list(JobRun.objects.filter(job_id=support.JOB_ID))
    assert all(row.trigger == JobRun.Trigger.SCHEDULED and row.scheduled_for is not None for row in rows)
    runs = [row for row in rows if row.status not in NOT_RUN]
    lines = support.record_read(record)

    # 1. Every slot that ran, ran exactly once: in the run history and in the job's own record.
    twice = [slot for slot, n in Counter(run.scheduled_for for run in runs).items() if n > 1]
    assert not twice, f"slots with more than one run: {twice}"
    twice = [slot for slot, n in Counter(line.slot for line in lines).items() if n > 1]
    assert not twice, f"slots whose job body ran more than once: {twice}"
    assert all(run.status == JobRun.Status.SUCCEEDED for run in runs), Counter(run.status for run in runs)
    # the record and the history agree, run for run
    by_id = {run.pk: run for run in runs}
    assert sorted(line.run_id for line in lines) == sorted(by_id)
    for line in lines:
        run = by_id[line.run_id]
        assert (line.slot, line.pid) == (run.scheduled_for, run.pid), (line, run.scheduled_for, run.pid)

    # 2. No two runs overlapped: not in the job's own clock, not in the history.
    assert not _overlaps([(line.start, line.end, line.run_id) for line in lines])
    assert not _overlaps([(run.started_at.timestamp(), run.finished_at.timestamp(), run.pk) for run in runs])

    # 3. Nothing recorded as missed ran after all, and no missed slot is recorded twice.
    ran_slots = {run.scheduled_for for run in runs}
    missed = [row for row in rows if row.status == JobRun.Status.MISSED]
    false_missed = [row for row in missed if row.scheduled_for in ran_slots]
    assert not false_missed, "slots recorded MISSED that also ran:\n" + "\n".join(
        f"{row.pk} {row.scheduled_for.isoformat()} {row.skip_reason} created {row.created_at.isoformat()}: "
        f"{row.error} / the run: " + ", ".join(f"{run.pk} pid {run.pid} created {run.created_at.isoformat()}"
                                               for run in runs if run.scheduled_for == row.scheduled_for)
        for row in false_missed)
    twice = [key for key, n in Counter((row.scheduled_for, row.skip_reason) for row in missed).items() if n > 1]
    assert not twice, f"missed slots recorded more than once: {twice}"

    # 4. No slot lost en masse, and none silently: each slot of the window ran, or has its SKIPPED/MISSED row.
    _, accounted = _accounts(rows)
    silent = _silent(window)
    assert not silent, f"slots with neither a run nor a row: {silent}"
    ran = sum(1 for slot in window if slot in ran_slots)
    not_ran = {slot.isoformat(): accounted[slot] for slot in window if slot not in ran_slots}
    assert ran >= MIN_RAN * len(window), f"only {ran} of {len(window)} slots ran; the others: {not_ran}"
    assert len(window) >= SECONDS - 3

    # 5. None crashed or logged a traceback, and the slots were not all won by one of them.
    for output in outputs.values():
        assert "Scheduler started" in output and "Traceback" not in output, output[-5000:]
    assert len({run.pid for run in runs}) >= 2, Counter(run.pid for run in runs)
    summary = Counter(f"{row.status}/{row.skip_reason or '-'}" for row in rows)
    print(f"{len(window)} slots in the window, {ran} ran; rows: {dict(summary)}; "
          f"runs per pid: {dict(Counter(run.pid for run in runs))}")
