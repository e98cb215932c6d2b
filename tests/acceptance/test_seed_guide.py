"""The seed guide's lock scenarios at the function and CLI level (Tests 2, 4, 5, 6, 9, 10), on fakeredis and on
the real Redis server. The HTTP forms of the same tests live with the API tests."""

from __future__ import annotations

import logging
import threading

import pytest

from scheduler_app import services
from scheduler_app.models import JobDefinition, JobRun
from tests.conftest import manage
from tests.waiting import wait_for

pytestmark = pytest.mark.django_db(transaction=True)
S = JobRun.Status


def lines(caplog, text: str) -> int:
    return sum(1 for r in caplog.records if r.name == "scheduler_app" and r.getMessage() == text)


def test_guide_9_five_concurrent_triggers_one_runs(lock_redis, caplog):
    caplog.set_level(logging.INFO, logger="scheduler_app")
    barrier = threading.Barrier(5)
    results = []

    def trigger():
        barrier.wait()
        results.append(services.job_run(job_id="hold_job", trigger="api", params={"seconds": 2}))

    threads = [threading.Thread(target=trigger) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = sorted(r.status for r in results)
    assert statuses == [S.SKIPPED] * 4 + [S.SUCCEEDED]
    assert lines(caplog, "Lock acquired for job: hold_job") == 1
    assert lines(caplog, "Failed to acquire lock for job: hold_job (already running)") == 4
    assert lines(caplog, "Job execution blocked by existing lock") == 4
    assert JobRun.objects.count() == 5  # every trigger left a row


def test_guide_2_manual_trigger_during_a_scheduled_run(lock_redis, caplog):
    caplog.set_level(logging.INFO, logger="scheduler_app")
    box = {}
    scheduled = threading.Thread(target=lambda: box.setdefault(
        "run", services.job_run(job_id="hold_job", trigger="scheduled", params={"seconds": 2})))
    scheduled.start()
    wait_for(lambda: JobRun.objects.filter(status=S.RUNNING).exists(), timeout=30, interval=0.01,
             message="the first run to be RUNNING")
    manual = services.job_run(job_id="hold_job", trigger="api")
    waiting = services.job_run(job_id="hold_job", trigger="api", wait_seconds=5)
    scheduled.join()
    assert manual.status == S.SKIPPED and manual.error == "Job is already running"
    assert waiting.status == S.SUCCEEDED and waiting.started_at >= box["run"].finished_at
    # The scheduled run's own lines, in order (the manual trigger's lines may interleave with them: two threads).
    order = [r.getMessage() for r in caplog.records
             if r.name == "scheduler_app" and getattr(r, "run_id", None) == box["run"].pk]
    assert order[:2] == ["Acquiring lock for job: hold_job", "Lock acquired for job: hold_job"]
    refused = [r.getMessage() for r in caplog.records
               if r.name == "scheduler_app" and getattr(r, "run_id", None) == manual.pk]
    assert refused == ["Acquiring lock for job: hold_job", "Failed to acquire lock for job: hold_job (already running)",
                       "Job execution blocked by existing lock"]


def test_guide_4_timeout_releases_and_the_next_trigger_runs(lock_redis):
    services.job_definitions_sync()
    JobDefinition.objects.filter(job_id="hold_job").update(timeout_minutes=0.01)
    first = services.job_run(job_id="hold_job", trigger="api", params={"seconds": 10})
    second = services.job_run(job_id="hold_job", trigger="api", params={"seconds": 0})
    assert first.status == S.TIMED_OUT and "Job exceeded timeout of 0.01 minutes" in first.error
    assert second.status == S.SUCCEEDED


def test_guide_5_different_jobs_do_not_interfere(lock_redis):
    box = {}
    long_job = threading.Thread(target=lambda: box.setdefault(
        "run", services.job_run(job_id="hold_job", trigger="api", params={"seconds": 0.5})))
    long_job.start()
    wait_for(lambda: JobRun.objects.filter(status=S.RUNNING).exists(), timeout=30, interval=0.01,
             message="the first run to be RUNNING")
    other = services.job_run(job_id="quick_job", trigger="api")
    long_job.join()
    assert other.status == S.SUCCEEDED and box["run"].status == S.SUCCEEDED


def test_guide_6_redis_down_does_not_crash(dead_redis, caplog):
    caplog.set_level(logging.INFO, logger="scheduler_app")
    run = services.job_run(job_id="quick_job", trigger="api")
    assert run.status == S.SUCCEEDED
    assert any(r.getMessage().startswith("Failed to acquire Redis lock") for r in caplog.records)


def test_guide_10_error_releases_the_lock(lock_redis):
    assert services.job_run(job_id="failing_job", trigger="api").status == S.FAILED
    assert services.job_run(job_id="failing_job", trigger="api").status == S.FAILED
    assert not lock_redis.keys("job_lock:*")


def test_guide_9_at_the_cli(real_redis, subprocess_env):
    """Five `runjob` processes at once: one runs (exit 0), four are refused (exit 3)."""
    procs = [manage("runjob", "hold_job", "--param", "seconds=3", env=subprocess_env) for _ in range(5)]
    codes = sorted(p.wait(timeout=120) for p in procs)
    for p in procs:
        p.stdout.close()
        p.stderr.close()
    assert codes == [0, 3, 3, 3, 3]
    assert JobRun.objects.filter(status=S.SKIPPED, skip_reason="lock_held").count() == 4
