"""A holder killed (kill -9) or stopped for a deploy (SIGTERM) mid-run, as a real runjob process."""

from __future__ import annotations

import os
import signal
import time

import pytest

from scheduler_app.models import JobRun
from tests.conftest import manage

pytestmark = [pytest.mark.slow, pytest.mark.real_redis]


def wait_until(predicate, timeout: float, step: float = 0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()


def test_killed_holder_stops_blocking_within_the_lease_plus_one_second(real_redis, subprocess_env, settings):
    """kill -9 of a holder: within one lease (+1 s) the key is gone and the next trigger runs, taking the dead run
    over itself (ABANDONED) without waiting for the reaper."""
    from scheduler_app import services

    lease = 2.0
    settings.LOCK_LEASE_SECONDS = lease
    env = {**subprocess_env, "LOCK_LEASE_SECONDS": str(lease)}
    proc = manage("runjob", "hold_job", "--param", "seconds=60", env=env)
    try:
        run = wait_until(lambda: JobRun.objects.filter(job_id="hold_job", status="RUNNING").first(), 30)
        assert run is not None, proc.stderr.read() if proc.poll() is not None else "no RUNNING run"
        assert real_redis.exists("job_lock:hold_job")
        # It has renewed at least once: the key outlives a single lease while the holder lives.
        first_renewal = wait_until(lambda: JobRun.objects.get(pk=run.pk).heartbeat_at > run.heartbeat_at, 30)
        assert first_renewal and real_redis.exists("job_lock:hold_job")
        os.kill(proc.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        proc.wait(5)
        refused = services.job_run(job_id="hold_job", trigger="cli")
        assert refused.status == JobRun.Status.SKIPPED  # the dead holder still blocks: its lease is not over
        again = wait_until(lambda: _ran(services.job_run(job_id="hold_job", trigger="cli")), lease + 5, step=0.1)
        took = time.monotonic() - killed_at
        assert again is not None and again.status == JobRun.Status.SUCCEEDED
        assert took <= lease + 1, f"the killed holder blocked for {took:.2f} s (lease {lease} s)"
        run.refresh_from_db()
        assert run.status == JobRun.Status.ABANDONED and f"taken over by run {again.pk}" in run.error
        assert not real_redis.exists("job_lock:hold_job")
    finally:
        if proc.poll() is None:
            proc.kill()


def _ran(run: JobRun) -> JobRun | None:
    return run if run.status != JobRun.Status.SKIPPED else None


def test_sigterm_cancels_the_run_releases_the_lock_and_exits(real_redis, subprocess_env):
    """A deploy stops runjob with SIGTERM: the run ends CANCELLED at its next ctx.check(), the lock is released, and
    the process exits (1); the heartbeat went on while the job ran."""
    proc = manage("runjob", "hold_job", "--param", "seconds=60", env=subprocess_env)
    try:
        run = wait_until(lambda: JobRun.objects.filter(job_id="hold_job", status="RUNNING").first(), 30)
        assert run is not None, proc.stderr.read() if proc.poll() is not None else "no RUNNING run"
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 1, err
        run.refresh_from_db()
        assert run.status == JobRun.Status.CANCELLED and "shutdown" in run.error
        assert "Traceback" not in err
        assert not real_redis.exists("job_lock:hold_job")
    finally:
        if proc.poll() is None:
            proc.kill()
