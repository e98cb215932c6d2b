from __future__ import annotations

import signal
import subprocess
import tempfile

import pytest
from django.utils import timezone

from scheduler_app.models import SchedulerInstance
from tests.conftest import manage
from tests.waiting import wait_for

__all__ = ["fresh_instances", "wait_for"]  # wait_for: tests here import it from this module too


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def scheduler_process(subprocess_env):
    """Start `manage.py runscheduler` subprocesses (small heartbeat); SIGTERM them at the end.

    Their output goes to a file, not a pipe: a long-lived process that logs tracebacks (a database outage) would
    fill a pipe nobody reads until the end, and block in the middle of a log call.
    """
    started: list[subprocess.Popen] = []

    def output(proc: subprocess.Popen) -> str:
        proc.output_file.seek(0)
        return proc.output_file.read()

    def start(**env_overrides: str) -> subprocess.Popen:
        env = {**subprocess_env, "SCHEDULER_HEARTBEAT_SECONDS": "0.5", **env_overrides}
        output_file = tempfile.TemporaryFile("w+")
        proc = manage("runscheduler", env=env, stdout=output_file, stderr=subprocess.STDOUT)
        proc.output_file = output_file
        started.append(proc)
        wait_for(lambda: proc.poll() is not None or SchedulerInstance.objects.filter(
            pid=proc.pid, stopped_at__isnull=True).exists(), timeout=30, message="scheduler registration")
        if proc.poll() is not None:
            raise AssertionError(f"runscheduler exited {proc.returncode}: {output(proc)}")
        return proc

    def stop(proc: subprocess.Popen, timeout: float = 15) -> tuple[int, str]:
        """SIGTERM, then the exit code and everything the process printed."""
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        return proc.returncode, output(proc)

    start.stop = stop  # type: ignore[attr-defined]
    yield start
    for proc in started:
        stop(proc)
        proc.output_file.close()


def fresh_instances() -> int:
    from datetime import timedelta

    from django.conf import settings

    cutoff = timezone.now() - timedelta(seconds=settings.SCHEDULER_STALE_SECONDS)
    return SchedulerInstance.objects.filter(heartbeat_at__gte=cutoff, stopped_at__isnull=True).count()
