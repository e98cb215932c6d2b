"""Redis outages (seed guide Test 6): a closed port and a stopped server, before and during a run.

No crash, the fallback engages and logs `Failed to acquire Redis lock`, every trigger is recorded, and the
database guard never lets a second run start beside one that still runs.
"""

from __future__ import annotations

import json
import logging
import shutil
import socket
import subprocess
import threading
import time

import pytest
import redis

from scheduler_app import locks, services
from scheduler_app.models import DatabaseLock, JobRun
from tests.conftest import NO_RETRY, manage, require
from tests.conftest import _real_client as real_client
from tests.waiting import wait_for

pytestmark = pytest.mark.django_db(transaction=True)
S = JobRun.Status


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SpareRedis:
    """A redis-server of the test's own, to stop and start again."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no"], stdout=subprocess.DEVNULL)
        client = self.client()

        def answers() -> bool:
            try:
                return client.ping()
            except redis.exceptions.ConnectionError:
                return False

        wait_for(answers, timeout=30, message=f"the spare redis-server on port {self.port} to answer")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.2, socket_timeout=0.5,
                           retry=NO_RETRY)


@pytest.fixture
def spare_redis():
    require(shutil.which("redis-server") is not None, "redis-server binary not installed")
    server = SpareRedis()
    server.start()
    locks.use_redis_client(server.client())
    yield server
    server.stop()
    locks.use_redis_client(real_client())


def errors(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR and r.name == "scheduler_app"]


def run_in_thread(**kwargs):
    box: dict = {}
    thread = threading.Thread(target=lambda: box.setdefault("run", services.job_run(**kwargs)))
    thread.start()
    return thread, box


def wait_running(job_id: str) -> JobRun:
    return wait_for(lambda: JobRun.objects.filter(job_id=job_id, status=S.RUNNING).first(), timeout=30,
                    interval=0.02, message=f"a RUNNING run of {job_id}")


def still_running(run: JobRun) -> None:
    """The holder must outlive the test's steps; if it did not, the machine was too slow, not the guard wrong."""
    assert JobRun.objects.get(pk=run.pk).status == S.RUNNING, "the holder ended before the test's steps did"


def test_closed_port_falls_back_to_the_database_lease(dead_redis, caplog):
    caplog.set_level(logging.INFO, logger="scheduler_app")
    run = services.job_run(job_id="quick_job", trigger="api")
    assert run.status == S.SUCCEEDED and run.lock_backend == "database"
    assert any(m.startswith("Failed to acquire Redis lock for job: quick_job") for m in errors(caplog))
    assert DatabaseLock.objects.get(key="quick_job").token == ""  # released


def test_closed_port_fallback_still_excludes(dead_redis):
    thread, box = run_in_thread(job_id="hold_job", trigger="api", params={"seconds": 0.8})
    wait_running("hold_job")
    second = services.job_run(job_id="hold_job", trigger="api")
    thread.join()
    assert second.status == S.SKIPPED and second.skip_reason == "lock_held"
    assert box["run"].status == S.SUCCEEDED


def test_outage_during_a_run_never_admits_a_second_run(spare_redis, fast_lease, caplog):
    caplog.set_level(logging.INFO, logger="scheduler_app")
    thread, box = run_in_thread(job_id="hold_job", trigger="scheduled", params={"seconds": 6})
    first = wait_running("hold_job")
    started = time.monotonic()
    assert first.lock_backend == "redis"
    spare_redis.stop()  # Redis dies mid-run
    wait_for(lambda: any("Failed to renew redis lock for job: hold_job" in m for m in errors(caplog)), timeout=10,
             message="the renewal to fail (logged) while the heartbeat goes on")
    second = services.job_run(job_id="hold_job", trigger="api")
    assert second.status == S.SKIPPED and second.blocked_by["holder"]["run_id"] == first.pk
    # Beyond 2 x lease from the start: only a live heartbeat can still be refusing.
    wait_for(lambda: time.monotonic() - started >= 2 * fast_lease.LOCK_LEASE_SECONDS + 0.1, timeout=10,
             message="two leases to pass")
    third = services.job_run(job_id="hold_job", trigger="api")
    assert third.status == S.SKIPPED and third.blocked_by["holder"]["run_id"] == first.pk
    still_running(first)
    thread.join()
    assert box["run"].status == S.SUCCEEDED  # the run went on, guarded by its heartbeat
    assert any("Failed to renew redis lock for job: hold_job" in m for m in errors(caplog))
    assert any(m.startswith("Failed to acquire Redis lock for job: hold_job") for m in errors(caplog))
    after = services.job_run(job_id="hold_job", trigger="api")
    assert after.status == S.SUCCEEDED and after.lock_backend == "database"


def test_redis_coming_back_restores_the_holders_key(spare_redis, fast_lease, caplog):
    thread, box = run_in_thread(job_id="hold_job", trigger="api", params={"seconds": 5})
    first = wait_running("hold_job")
    spare_redis.stop()
    wait_for(lambda: any("Failed to renew redis lock for job: hold_job" in m for m in errors(caplog)), timeout=10,
             message="the renewal to meet the outage")
    spare_redis.start()  # empty: a Redis that keeps nothing on disk
    client = spare_redis.client()
    raw = wait_for(lambda: client.get("job_lock:hold_job"), timeout=10, message="renewal to set the key again")
    assert json.loads(raw)["token"] == first.lock_token  # with its own token
    blocked = services.job_run(job_id="hold_job", trigger="api")
    still_running(first)
    thread.join()
    assert blocked.status == S.SKIPPED
    assert box["run"].status == S.SUCCEEDED


def test_fallback_holder_blocks_a_redis_trigger_when_redis_returns(spare_redis, fast_lease, settings):
    spare_redis.stop()
    thread, box = run_in_thread(job_id="hold_job", trigger="api", params={"seconds": 5})
    first = wait_running("hold_job")
    assert first.lock_backend == "database"
    spare_redis.start()
    time.sleep(settings.LOCK_REDIS_RETRY_SECONDS + 0.1)  # the fallback's retry interval (a sleep is never short)
    second = services.job_run(job_id="hold_job", trigger="api")  # acquires Redis, refused by the database guard
    still_running(first)
    thread.join()
    assert second.status == S.SKIPPED and second.blocked_by["holder"]["run_id"] == first.pk
    assert second.blocked_by["refused_by"] == "database"  # it went through Redis, not the database lease
    assert not spare_redis.client().exists("job_lock:hold_job")  # it gave the Redis lock back


def test_fail_mode_refuses_and_records(dead_redis, settings):
    settings.LOCK_FALLBACK = "fail"
    run = services.job_run(job_id="quick_job", trigger="api")
    assert run.status == S.SKIPPED and run.skip_reason == "lock_unavailable"
    assert "unavailable" in run.error.lower()


def test_runjob_with_redis_down_does_not_crash(subprocess_env):
    env = {**subprocess_env, "REDIS_URL": "redis://127.0.0.1:1/0"}
    proc = manage("runjob", "quick_job", env=env)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "Failed to acquire Redis lock for job: quick_job" in err and "SUCCEEDED" in out
    assert "Traceback" not in err
