"""Shared fixtures. Real services fail (not skip) when CI=true; elsewhere they skip with a clear reason."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import fakeredis
import pytest
import redis
import requests
from django.conf import settings as django_settings
from django_redis.exceptions import ConnectionInterrupted
from redis.backoff import NoBackoff
from redis.retry import Retry
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from scheduler_app import locks
from scheduler_app.models import JobRun
from scraping_app.models import Team
from tests import jobs_for_tests  # noqa: F401  (registers the test jobs)
from tests.waiting import wait_for

NO_RETRY = Retry(NoBackoff(), 0)  # as in settings: an outage must fail fast
ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require(condition: bool, reason: str) -> None:
    """Skip outside CI; fail in CI, where every real service must be there."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: tests needing real services must not skip)")
    pytest.skip(reason)


def _real_client() -> redis.Redis:
    return redis.Redis.from_url(django_settings.REDIS_URL, socket_connect_timeout=0.5,
                                socket_timeout=django_settings.REDIS_SOCKET_TIMEOUT, retry=NO_RETRY)


@pytest.fixture
def real_redis():
    client = _real_client()
    try:
        client.ping()
    except redis.exceptions.RedisError as exc:
        require(False, f"Redis not reachable at {django_settings.REDIS_URL}: {exc}")
    client.flushdb()
    locks.use_redis_client(client)
    yield client
    client.flushdb()
    locks.use_redis_client(_real_client())


@pytest.fixture
def fake_redis():
    client = fakeredis.FakeRedis()
    locks.use_redis_client(client)
    yield client
    locks.use_redis_client(_real_client())


@pytest.fixture(params=["fakeredis", "real"])
def lock_redis(request):
    """Runs a test twice: on fakeredis and on the real Redis server."""
    yield request.getfixturevalue("fake_redis" if request.param == "fakeredis" else "real_redis")


@pytest.fixture
def dead_redis():
    """A client on a closed port: every call fails the way an outage does."""
    client = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, socket_timeout=0.2, retry=NO_RETRY)
    locks.use_redis_client(client)
    yield client
    locks.use_redis_client(_real_client())


@pytest.fixture(autouse=True)
def _renewal_running():
    locks.renewer.paused = False
    yield
    locks.renewer.paused = False


@pytest.fixture
def fast_lease(settings):
    """Seconds, not minutes: a 1 s lease and fallback retry."""
    settings.LOCK_LEASE_SECONDS = 1.0
    settings.LOCK_REDIS_RETRY_SECONDS = 0.2
    return settings


def test_database_url() -> str:
    """A DATABASE_URL that points a subprocess at the test database this run uses."""
    from django.db import connection

    sd = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{sd['NAME']}"
    return f"postgres://{sd['USER']}@{sd['HOST'] or '127.0.0.1'}:{sd['PORT'] or 5432}/{sd['NAME']}"


@pytest.fixture
def subprocess_env(transactional_db):
    env = dict(os.environ)
    env.update(DATABASE_URL=test_database_url(), REDIS_URL=django_settings.REDIS_URL, PYTHONUNBUFFERED="1",
               DJANGO_SETTINGS_MODULE="jobsite.settings", EXTRA_JOB_MODULES="tests.jobs_for_tests")
    return env


def manage(*args: str, env: dict, **kwargs) -> subprocess.Popen:
    """`manage.py <args>` in a subprocess; output on pipes unless `stdout`/`stderr` say otherwise."""
    kwargs.setdefault("stdout", subprocess.PIPE)
    kwargs.setdefault("stderr", subprocess.PIPE)
    return subprocess.Popen([sys.executable, str(ROOT / "manage.py"), *args], env=env, cwd=ROOT, text=True,
                            **kwargs)


@pytest.fixture
def stale_and_live_locks(db):
    """Two held locks: quick_job's, whose holder's run has finished (stale), and hold_job's, held by a live run."""
    from django.utils import timezone

    from scheduler_app.models import JobRun

    finished = JobRun.objects.create(job_id="quick_job", lock_key="quick_job", trigger="api", status="SUCCEEDED")
    live = JobRun.objects.create(job_id="hold_job", lock_key="hold_job", trigger="api", status="RUNNING",
                                 started_at=timezone.now(), heartbeat_at=timezone.now())
    stale = locks.acquire("quick_job", ttl_seconds=60, run_id=finished.pk)
    alive = locks.acquire("hold_job", ttl_seconds=60, run_id=live.pk)
    yield
    stale.release()
    alive.release()


# --- API clients: a team, its users, token-authenticated clients --------------------------------------------------

@pytest.fixture(autouse=True)
def _fresh_throttle_history():
    """API throttles count in the cache (Redis at REDIS_URL) by user id or client IP, and the counts outlive a test:
    ids repeat across tests (SQLite reuses them after a rollback) and every test client is 127.0.0.1. Each test
    starts with none, as a fresh client would."""
    from django.core.cache import cache

    if hasattr(cache, "delete_pattern"):
        try:
            cache.delete_pattern("throttle_*")
        except (redis.exceptions.RedisError, ConnectionInterrupted):
            pass  # no Redis: nothing was counted there
    yield


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def team(db):
    return Team.objects.create(pk=1, name="Team one")


@pytest.fixture
def users(db, team, django_user_model):
    staff = django_user_model.objects.create_user("boss", password="pw", is_staff=True)
    member = django_user_model.objects.create_user("member", password="pw")
    outsider = django_user_model.objects.create_user("outsider", password="pw")
    team.members.add(member)
    return {"staff": staff, "member": member, "outsider": outsider}


def bearer(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token.key}")
    return client


@pytest.fixture
def staff_api(users):
    return bearer(users["staff"])


@pytest.fixture
def member_api(users):
    return bearer(users["member"])


def wait_finished(run_id: int, timeout: float = 60.0) -> JobRun:
    return wait_for(lambda: (run := JobRun.objects.get(pk=run_id)).is_finished and run, timeout=timeout,
                    message=f"run {run_id} to finish")


# -- a real web server: `manage.py runserver` on a free loopback port, on the test database (a file on SQLite, the
# test database on PostgreSQL), with the Redis at REDIS_URL --------------------------------------------------------
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def web_server_env(subprocess_env) -> dict:
    """The server's environment; a test may add to it before it asks for `web_server`."""
    return dict(subprocess_env)


@pytest.fixture
def web_server(web_server_env, tmp_path):
    port = free_port()
    output = (tmp_path / "runserver.log").open("w+")
    proc = manage("runserver", f"127.0.0.1:{port}", "--noreload", env=web_server_env, stdout=output,
                  stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            requests.get(f"{base}/healthz", timeout=1)
            return True
        except requests.ConnectionError:
            return proc.poll() is not None  # it exited: stop waiting, and say so below

    try:
        wait_for(answers, timeout=60, interval=0.2, message="runserver to answer")
        started = proc.poll() is None
    except AssertionError:
        started = False
    if not started:
        output.seek(0)
        raise AssertionError(f"runserver did not start: {output.read()}")
    yield base
    proc.terminate()
    proc.wait(timeout=15)
    output.close()


# --- Traces: the SDK's in-memory exporter ------------------------------------------------------------------------

_span_exporter = None


@pytest.fixture
def spans():
    """Traces on, into an in-memory exporter (cleared for each test); off again after the test. The SDK's global
    provider can be set once per process, so the first use sets it and later ones reuse it; tracing_decide then
    finds a provider already set and, as it does under opentelemetry-instrument, adds none of its own."""
    global _span_exporter
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from scheduler_app import tracing

    if _span_exporter is None:
        _span_exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(_span_exporter))
        trace.set_tracer_provider(provider)
    _span_exporter.clear()
    tracing.tracing_decide({"OTEL_TRACES_EXPORTER": "console"})
    yield _span_exporter
    tracing.tracing_decide({})


def _redis_topology(request, tmp_path, build):
    from tests.redis_servers import redis_binaries_present

    require(redis_binaries_present(), "redis-server and redis-cli are needed to start Redis topologies")
    topology = build(tmp_path)
    request.addfinalizer(topology.close)
    return topology


@pytest.fixture
def redis_masters(request, tmp_path):
    """Three independent real masters on ports of their own (the quorum lock's)."""
    from tests.redis_servers import IndependentMasters

    return _redis_topology(request, tmp_path, IndependentMasters)


@pytest.fixture
def redis_cluster(request, tmp_path):
    """A real 3-master Redis Cluster on ports of its own."""
    from tests.redis_servers import ClusterServers

    return _redis_topology(request, tmp_path, ClusterServers)


@pytest.fixture
def redis_sentinel(request, tmp_path):
    """A real master, replica and three sentinels on ports of their own."""
    from tests.redis_servers import SentinelServers

    return _redis_topology(request, tmp_path, SentinelServers)
