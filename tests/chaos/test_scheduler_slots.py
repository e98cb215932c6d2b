"""Chaos: many jobs due together, real `manage.py runscheduler` processes. Schedulers claim each slot before they
fire it, so several split the work and a loser writes nothing; a reload while a slot drains fires nothing twice
and records nothing as missed; and the heartbeat goes on through a reload.

CHAOS_BULK_JOBS sets how many jobs are due together (default 60; `make chaos` sets 300). Each job keeps a record of
its own runs (tests/chaos/bulk_jobs.py), outside the project's tables: the judge of "once".
"""

from __future__ import annotations

import os
import shutil
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.db import close_old_connections
from django_apscheduler.models import DjangoJob

from scheduler_app import services
from scheduler_app.models import JobDefinition, JobRun, SchedulerInstance
from tests.chaos import bulk_jobs
from tests.chaos import scheduler_support as support
from tests.conftest import require

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

JOBS = bulk_jobs.JOB_IDS  # from CHAOS_BULK_JOBS; the module registers them only in a scheduler (CHAOS_BULK_RECORD)
INTERVAL = 60  # seconds: one slot per job in each phase, long enough for it to drain on a loaded machine
HEARTBEAT = 1.0


def record_read(path: Path) -> list[tuple[str, datetime, int, int, float, float]]:
    if not path.exists():
        return []
    lines = []
    for raw in path.read_text().splitlines():
        job_id, slot, run_id, pid, start, end = raw.split()
        lines.append((job_id, datetime.fromisoformat(slot), int(run_id), int(pid), float(start), float(end)))
    return lines


@pytest.fixture
def own_redis(tmp_path):
    require(shutil.which("redis-server") is not None, "redis-server is not installed")
    server = support.RedisServer(tmp_path)
    yield server
    server.stop()


@pytest.fixture
def bulk(subprocess_env, own_redis, tmp_path):
    """The bulk jobs' definitions (made here: the test process does not register the jobs), all on one interval,
    and the schedulers' environment."""
    services.job_definitions_sync()
    JobDefinition.objects.update(enabled=False)  # only the bulk jobs fire
    JobDefinition.objects.bulk_create([JobDefinition(job_id=job_id, name=job_id, trigger_type="interval",
                                                     interval_seconds=INTERVAL, timeout_minutes=1)
                                       for job_id in JOBS])
    record = tmp_path / "record.log"
    env = {**subprocess_env, "REDIS_URL": own_redis.url, "SCHEDULER_HEARTBEAT_SECONDS": str(HEARTBEAT),
           "EXTRA_JOB_MODULES": f"{subprocess_env['EXTRA_JOB_MODULES']},{bulk_jobs.__name__}",
           bulk_jobs.RECORD_ENV: str(record), "LOG_LEVEL": "WARNING", "LOG_DB_ENABLED": "false"}
    return env, record


def _wait(predicate, *, timeout: float, message: str, schedulers=()):
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
        time.sleep(0.05)
        close_old_connections()


def _start(env, tmp_path, count: int, first_index: int = 0) -> list[support.Scheduler]:
    schedulers = [support.Scheduler(env=env, workdir=tmp_path, index=first_index + i) for i in range(count)]
    pids = [s.pid for s in schedulers]
    _wait(lambda: SchedulerInstance.objects.filter(pid__in=pids, stopped_at__isnull=True).count() == count,
          timeout=90, message=f"{count} scheduler(s) to register", schedulers=schedulers)
    return schedulers


def _stop(schedulers) -> dict[int, str]:
    codes = {s.pid: s.stop() for s in schedulers}
    outputs = {s.pid: s.output() for s in schedulers}
    assert all(code == 0 for code in codes.values()), (codes, {pid: out[-3000:] for pid, out in outputs.items()})
    for output in outputs.values():
        assert "Traceback" not in output, output[-5000:]
    return outputs


def _early_in_a_slot() -> None:
    """Wait, if need be, until the current minute (a slot of INTERVAL) is at most 30 s old. A phase fires the
    slot its load finds (the restart rule, within the misfire grace) and must drain before the next one: started
    late in a minute, the load's slot could be past its grace when it fires, or the next slot could come due while
    it drains, and the fires it folds away would be recorded MISSED. Waiting for the clock, not sleeping a guess."""
    while datetime.now(UTC).timestamp() % INTERVAL > 30:
        time.sleep(0.2)


def _drained(record: Path, slots_per_job: int) -> bool:
    per_job = Counter(line[0] for line in record_read(record))
    return len(per_job) == len(JOBS) and min(per_job.values()) >= slots_per_job


def _assert_each_slot_once(record: Path) -> list:
    lines = record_read(record)
    twice = [key for key, n in Counter((line[0], line[1]) for line in lines).items() if n > 1]
    assert not twice, f"(job, slot) whose body ran more than once: {twice[:10]}"
    runs = list(JobRun.objects.filter(job_id__in=JOBS).exclude(status__in=["SKIPPED", "MISSED"]))
    assert sorted(line[2] for line in lines) == sorted(run.pk for run in runs)  # the record and the history agree
    assert all(run.status == JobRun.Status.SUCCEEDED for run in runs), Counter(run.status for run in runs)
    not_run = Counter(f"{r.status}/{r.skip_reason}" for r in JobRun.objects.filter(status__in=["SKIPPED", "MISSED"]))
    assert not not_run, f"rows for fires that did not run: {dict(not_run)}"  # no duplicate_slot, no false MISSED
    return lines


def _first_slots(lines) -> list:
    """Each job's first slot's line (a phase that crosses a minute boundary fires the next slot too)."""
    first: dict[str, tuple] = {}
    for line in lines:
        if line[0] not in first or line[1] < first[line[0]][1]:
            first[line[0]] = line
    assert sorted(first) == sorted(JOBS), f"{len(first)} of {len(JOBS)} jobs ran"
    return list(first.values())


def _drain_seconds(lines) -> float:
    lines = _first_slots(lines)
    return max(line[5] for line in lines) - min(line[4] for line in lines)


def test_a_reload_while_a_slot_drains_fires_nothing_again_and_the_heartbeat_goes_on(bulk, tmp_path):
    env, record = bulk
    # Each body takes 0.3 s: ten workers drain the slot over seconds, long enough to reload in the middle of it.
    _early_in_a_slot()
    [scheduler] = _start({**env, "CHAOS_BULK_BODY_SECONDS": "0.3", "LOG_LEVEL": "INFO"}, tmp_path, 1)
    try:
        instance = SchedulerInstance.objects.get(pid=scheduler.pid)
        # The first slot of each job is its load's (now): the pool drains them, a few at a time.
        _wait(lambda: record_read(record), timeout=60, message="the slot to start draining", schedulers=[scheduler])
        beats: list[datetime] = []
        services.scheduler_reload_request()  # a restart (all definitions re-read) while the slot drains
        JobDefinition.objects.filter(job_id=JOBS[0]).update(name="renamed")  # and an edit
        services.scheduler_reload_request()
        assert len(record_read(record)) < len(JOBS), "the slot had drained before the reloads: nothing tested"
        deadline = time.monotonic() + 300
        watch_until = time.monotonic() + 5 * HEARTBEAT
        while not _drained(record, 1) or time.monotonic() < watch_until:
            beat = SchedulerInstance.objects.values_list("heartbeat_at", flat=True).get(pk=instance.pk)
            if not beats or beat != beats[-1]:
                beats.append(beat)
            assert scheduler.proc.poll() is None, scheduler.output()[-5000:]
            assert time.monotonic() < deadline, "the slot did not drain in 300 s"
            time.sleep(0.05)
            close_old_connections()
        # Let every store row's next run (a minute on) stand: nothing more fires before the stop.
        _wait(lambda: not JobRun.objects.filter(status__in=["QUEUED", "RUNNING"]).exists(), timeout=60,
              message="the slot's last runs to end", schedulers=[scheduler])
        reloads = scheduler.output().count("Scheduler loaded")
    finally:
        _stop([scheduler])
    _first_slots(_assert_each_slot_once(record))
    gaps = [(b - a).total_seconds() for a, b in zip(beats, beats[1:], strict=False)]
    assert gaps and max(gaps) <= 2 * HEARTBEAT + 0.5, f"heartbeat gaps: {sorted(gaps)[-5:]}"
    # The first load, then about one per change (a load during which a slot fires asks for one more): no storm.
    assert 2 <= reloads <= 6, f"{reloads} loads for two requests and an edit"


def test_three_schedulers_split_the_slots(bulk, tmp_path):
    env, record = bulk
    _early_in_a_slot()
    one = _start(env, tmp_path, 1)
    try:
        _wait(lambda: _drained(record, 1), timeout=300, message="one scheduler's slot", schedulers=one)
    finally:
        _stop(one)
    alone = record_read(record)
    record.rename(tmp_path / "record-one.log")
    # Every job new to the store again, its slot without a run, for three schedulers this time. The jobs come
    # back only once all three have loaded (a scheduler that loaded first would drain the slot alone), and each
    # body takes 1 s, so one pool (20 fires at a time) cannot take them all before the others claim theirs.
    DjangoJob.objects.all().delete()
    JobRun.objects.all().delete()
    JobDefinition.objects.filter(job_id__in=JOBS).update(enabled=False)
    three = _start({**env, "CHAOS_BULK_BODY_SECONDS": "1.0", "LOG_LEVEL": "INFO"}, tmp_path, 3, first_index=1)
    try:
        _wait(lambda: all("Scheduler loaded" in s.output() for s in three), timeout=90,
              message="three schedulers' first loads", schedulers=three)
        _early_in_a_slot()
        JobDefinition.objects.filter(job_id__in=JOBS).update(enabled=True)
        services.scheduler_reload_request()
        _wait(lambda: _drained(record, 1), timeout=300, message="three schedulers' slot", schedulers=three)
        _wait(lambda: not JobRun.objects.filter(status__in=["QUEUED", "RUNNING"]).exists(), timeout=60,
              message="the last runs to end", schedulers=three)
    finally:
        _stop(three)
    lines = _first_slots(_assert_each_slot_once(record))
    by_pid = Counter(line[3] for line in lines)
    assert len(by_pid) >= 2, f"one scheduler fired everything: {by_pid}"
    one_s, three_s = _drain_seconds(alone), _drain_seconds(lines)
    print(f"{len(JOBS)} jobs: one scheduler drained its slot in {one_s:.2f} s, three in {three_s:.2f} s "
          f"(runs per pid: {dict(by_pid)})")
    # How fast is benchmarks/bench_scheduler.py's to say (a timed assertion here fails on a busy machine).


def test_the_bulk_jobs_are_not_registered_in_this_process():
    from scheduler_app import registry

    assert not any(spec.job_id in JOBS for spec in registry.all_specs())
    assert os.environ.get(bulk_jobs.RECORD_ENV) is None
