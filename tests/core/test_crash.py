"""kill -9 of a runjob mid-run: the key goes within the lease, the reaper marks the run ABANDONED."""

from __future__ import annotations

import os
import signal
import time

import pytest
from django.core.management import call_command

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


def test_killed_holder_frees_its_lock_within_the_lease(real_redis, subprocess_env, settings):
    lease = 2.0
    settings.LOCK_LEASE_SECONDS = lease
    env = {**subprocess_env, "LOCK_LEASE_SECONDS": str(lease)}
    proc = manage("runjob", "hold_job", "--param", "seconds=60", env=env)
    try:
        run = wait_until(lambda: JobRun.objects.filter(job_id="hold_job", status="RUNNING").first(), 30)
        assert run is not None, proc.stderr.read() if proc.poll() is not None else "no RUNNING run"
        assert real_redis.exists("job_lock:hold_job")
        time.sleep(lease)  # it has renewed at least once: the key outlives a single lease while alive
        assert real_redis.exists("job_lock:hold_job")
        os.kill(proc.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        proc.wait(5)
        gone = wait_until(lambda: not real_redis.exists("job_lock:hold_job"), lease + 1)
        assert gone and time.monotonic() - killed_at <= lease + 1
        # The run row is still RUNNING; once its heartbeat is older than 2 x lease the reaper abandons it.
        time.sleep(max(0.0, 2 * lease - (time.monotonic() - killed_at)) + 0.8)
        call_command("locks", "clear-stale")
        run.refresh_from_db()
        assert run.status == JobRun.Status.ABANDONED
        # And the job can run again at once.
        again = manage("runjob", "hold_job", "--param", "seconds=0", env=env)
        out, err = again.communicate(timeout=60)
        assert again.returncode == 0, err
    finally:
        if proc.poll() is None:
            proc.kill()
