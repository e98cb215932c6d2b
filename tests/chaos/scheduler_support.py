"""Support for tests/chaos/test_schedulers.py: the job the schedulers fire, a Redis server of the test's own, and
`manage.py runscheduler` subprocesses.

`chaos_tick_job` is registered in the schedulers through EXTRA_JOB_MODULES (and in the test process by importing
this module). Each run appends one line to the file named by CHAOS_SCHEDULER_RECORD, outside the project's tables:

    <slot iso> <run_id> <pid> <start epoch> <end epoch>

written with one O_APPEND write, so lines of several processes never interleave.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import redis

from scheduler_app.context import current_job_context
from scheduler_app.job_wrapper import with_execution_lock

RECORD_ENV = "CHAOS_SCHEDULER_RECORD"
JOB_ID = "chaos_tick_job"
BODY_SECONDS = 0.1  # long enough that two overlapping runs would show in the record


@with_execution_lock(timeout_minutes=1, name="Chaos tick")
def chaos_tick_job() -> dict:
    from scheduler_app.models import JobRun

    ctx = current_job_context()
    start = time.time()
    slot = JobRun.objects.values_list("scheduled_for", flat=True).get(pk=ctx.run_id)
    time.sleep(BODY_SECONDS)
    end = time.time()
    line = f"{slot.isoformat() if slot else '-'} {ctx.run_id} {os.getpid()} {start:.6f} {end:.6f}\n"
    fd = os.open(os.environ[RECORD_ENV], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)
    return {"slot": line.split()[0]}


@dataclass(frozen=True)
class RecordLine:
    slot: datetime | None
    run_id: int
    pid: int
    start: float
    end: float


def record_read(path: Path) -> list[RecordLine]:
    if not path.exists():
        return []
    lines = []
    for raw in path.read_text().splitlines():
        slot, run_id, pid, start, end = raw.split()
        lines.append(RecordLine(None if slot == "-" else datetime.fromisoformat(slot), int(run_id), int(pid),
                                float(start), float(end)))
    return lines


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A redis-server of the test's own on a free port (the shared Redis is never touched)."""

    def __init__(self, workdir: Path):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log = open(workdir / f"redis-{self.port}.log", "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [shutil.which("redis-server") or "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(workdir)],
            stdout=self.log, stderr=subprocess.STDOUT)
        self.client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.5, socket_timeout=2)
        deadline = time.monotonic() + 15
        while True:
            try:
                self.client.ping()
                return
            except redis.exceptions.ConnectionError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise AssertionError(f"redis-server on port {self.port} did not start") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.client.close()
        self.log.close()


class Scheduler:
    """One `manage.py runscheduler` subprocess, its output in a file (a pipe nobody reads could fill and block it)."""

    def __init__(self, *, env: dict, workdir: Path, index: int):
        from tests.conftest import manage

        self.output_path = workdir / f"runscheduler-{index}.log"
        self._output = open(self.output_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = manage("runscheduler", env=env, stdout=self._output, stderr=subprocess.STDOUT)
        self.pid = self.proc.pid

    def output(self) -> str:
        return self.output_path.read_text()  # the child writes the file; this side never buffers anything

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM (a clean stop: running jobs finish), then the exit code; kill -9 only if it hangs."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._output.close()
        return self.proc.returncode
