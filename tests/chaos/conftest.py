"""Fixtures of the chaos suite.

Every scenario gets: its own redis-server (free port, nothing on disk, so a restart comes back empty), its own
record file, the `chaos_write` table (created with raw SQL, dropped at the end), and a process registry whose
members are all killed in the fixture's finally, stopped ones included. Subprocesses load the test job through
EXTRA_JOB_MODULES and get short timeouts through env settings only.

Env knobs (reduced profile defaults for `make test`; `make chaos` raises them):
  CHAOS_TRIALS            randomised trials of the pause scenarios (default 3; make chaos: >= 50)
  CHAOS_STORM_TRIGGERS    triggers in the mixed-trigger storm (default 160; make chaos: >= 1000)
  CHAOS_QUORUM_STORM_TRIGGERS  triggers in the storm's quorum-mode run (default 60; make chaos: >= 1000)
  CHAOS_REDIS_LATENCY_MS  reply delay on the frozen writer's Redis link in the pause scenario
                          (default 15 on PostgreSQL, 0 on SQLite)
  CHAOS_SEED              seed of the scenarios' random choices (default: random, printed on failure)
  CHAOS_ARTIFACTS         where each scenario's record file and process outputs go (default
                          $TMPDIR/jobsite-chaos); kept when the scenario fails, removed when it passes
"""

from __future__ import annotations

import os
import random
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from tests.chaos import chaos_jobs  # noqa: F401  (registers chaos_writer in this process too)
from tests.chaos.harness import (
    Processes,
    Record,
    RedisServer,
    SlowLink,
    create_table,
    drop_table,
    redis_client,
)
from tests.conftest import _real_client, require

JOB_MODULES = "tests.jobs_for_tests,tests.chaos.chaos_jobs"


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value not in (None, "") else default


def point_lock_at(url: str | None) -> None:
    """Point this process's execution lock at a Redis (None: back to the suite's REDIS_URL).

    The one place that knows how the core is told which Redis to use: adapt it here if that API changes.
    """
    from scheduler_app import locks

    if url is None:
        locks.use_redis_client(_real_client())
    else:
        locks.use_redis_client(redis_client(url, socket_timeout=django_settings.REDIS_SOCKET_TIMEOUT))


def point_lock_at_quorum(settings, urls: list[str]) -> None:
    """Point this process's execution lock at a quorum of masters (REDIS_MODE=quorum, LOCK_REDIS_URLS)."""
    from scheduler_app import locks
    from scheduler_app.locks import topology
    from scheduler_app.locks.factory import redis_backend_build

    settings.REDIS_MODE = "quorum"
    settings.LOCK_REDIS_URLS = urls
    topology.reset_clients()
    locks.lock().use_primary(redis_backend_build())


@dataclass
class Chaos:
    env: dict
    record_path: Path
    workdir: Path
    redis: RedisServer
    procs: Processes
    settings: object
    seed: int
    vendor: str
    links: list[SlowLink] = field(default_factory=list)
    masters: object = None  # IndependentMasters, once use_quorum() is called
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def set_lease(self, seconds: float) -> None:
        """The lease for subprocesses (env) and for in-process triggers (settings)."""
        self.env["LOCK_LEASE_SECONDS"] = str(seconds)
        self.settings.LOCK_LEASE_SECONDS = seconds

    def record(self) -> Record:
        return Record.read(self.record_path)

    def slow_link(self, delay: float) -> SlowLink:
        link = SlowLink(self.redis.port, delay)
        self.links.append(link)
        return link

    def restart_redis(self) -> None:
        self.redis.restart()

    def use_quorum(self, count: int = 3):
        """Locks on `count` independent masters of the scenario's own (REDIS_MODE=quorum), for this process and
        every subprocess started after; REDIS_URL (the cache) stays on the scenario's own server."""
        from tests.redis_servers import IndependentMasters

        self.masters = IndependentMasters(self.workdir, count)
        self.env.update(REDIS_MODE="quorum", LOCK_REDIS_URLS=self.masters.setting)
        point_lock_at_quorum(self.settings, self.masters.urls)
        return self.masters

    def where(self) -> str:
        return f"(seed {self.seed}, record {self.record_path}, outputs in {self.workdir})"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.chaos_failed = report.failed


@pytest.fixture
def chaos_dir(request):
    """The scenario's own directory (pytest's numbered tmp dirs are pruned by other sessions on a shared host)."""
    base = Path(os.environ.get("CHAOS_ARTIFACTS") or Path(tempfile.gettempdir()) / "jobsite-chaos")
    base.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)[:60]
    path = Path(tempfile.mkdtemp(prefix=f"{time.strftime('%Y%m%d-%H%M%S')}-{name}-", dir=base))
    yield path
    if not getattr(request.node, "chaos_failed", True):
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def chaos(subprocess_env, chaos_dir, settings, monkeypatch):
    require(shutil.which("redis-server") is not None, "redis-server binary not installed")
    from django.db import connection

    tmp_path = chaos_dir
    seed = env_int("CHAOS_SEED", random.SystemRandom().randrange(1 << 30))
    record_path = tmp_path / "record.txt"
    server = RedisServer(tmp_path)
    server.start()
    env = {
        **subprocess_env,
        "EXTRA_JOB_MODULES": JOB_MODULES,
        "CHAOS_RECORD": str(record_path),
        "REDIS_URL": server.url,
        "LOG_DIR": str(tmp_path / "logs"),
        "LOCK_REDIS_RETRY_SECONDS": "0.2",
        "REDIS_SOCKET_TIMEOUT": "0.5",
    }
    monkeypatch.setenv("CHAOS_RECORD", str(record_path))  # the in-process triggers' runs record too
    settings.LOCK_REDIS_RETRY_SECONDS = 0.2
    procs = Processes(env, tmp_path)
    create_table()
    point_lock_at(server.url)
    state = Chaos(env=env, record_path=record_path, workdir=tmp_path, redis=server, procs=procs,
                  settings=settings, seed=seed, vendor=connection.vendor)
    try:
        yield state
    finally:
        procs.kill_all()  # before the table goes: a stopped writer may hold a transaction open on it
        for link in state.links:
            link.close()
        server.stop()
        if state.masters is not None:
            state.masters.close()
            settings.REDIS_MODE = "standalone"
            from scheduler_app.locks import topology

            topology.reset_clients()
        point_lock_at(None)
        drop_table()
