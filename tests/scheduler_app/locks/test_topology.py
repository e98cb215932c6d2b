"""REDIS_MODE: the settings a topology needs are checked at start-up; messages name where the lock lives."""

from __future__ import annotations

import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from scheduler_app.locks import topology
from tests.conftest import ROOT


@pytest.fixture
def reset_topology():
    topology.reset_clients()
    yield
    topology.reset_clients()


def _check(env_overrides: dict) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "DEBUG": "1", "DJANGO_SETTINGS_MODULE": "jobsite.settings",
           "DATABASE_URL": "sqlite:////tmp/topology-check.sqlite3", **env_overrides}
    return subprocess.run([sys.executable, str(ROOT / "manage.py"), "check"], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(("env", "message"), [
    ({"REDIS_MODE": "clustered"}, "REDIS_MODE must be standalone, sentinel, cluster or quorum, not 'clustered'"),
    ({"REDIS_MODE": "sentinel"}, "REDIS_MODE=sentinel needs REDIS_SENTINELS=host:port,..."),
    ({"REDIS_MODE": "quorum", "LOCK_REDIS_URLS": "redis://127.0.0.1:1/0,redis://127.0.0.1:2/0"},
     "REDIS_MODE=quorum needs LOCK_REDIS_URLS with at least three independent masters"),
])
def test_a_topology_without_its_settings_refuses_to_start(env, message):
    result = _check(env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and message in result.stderr


def test_quorum_mode_defaults_redis_url_to_the_first_master():
    urls = "redis://127.0.0.1:7001/0,redis://127.0.0.1:7002/0,redis://127.0.0.1:7003/0"
    env = {"PATH": "/usr/bin:/bin", "DEBUG": "1", "DJANGO_SETTINGS_MODULE": "jobsite.settings",
           "REDIS_MODE": "quorum", "LOCK_REDIS_URLS": urls}
    code = "from django.conf import settings; print(settings.REDIS_URL, settings.CACHES['default']['LOCATION'])"
    out = subprocess.run([sys.executable, "-c", f"import django; django.setup(); {code}"], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=60, check=True).stdout.split()
    assert out == ["redis://127.0.0.1:7001/0", "redis://127.0.0.1:7001/0"]


def test_sentinel_addresses_are_host_port_pairs(settings):
    settings.REDIS_SENTINELS = ["10.0.0.1:26379", " sentinel-b:26380"]
    assert topology.sentinel_addresses() == [("10.0.0.1", 26379), ("sentinel-b", 26380)]
    settings.REDIS_SENTINELS = ["10.0.0.1"]
    with pytest.raises(ImproperlyConfigured, match="host:port"):
        topology.sentinel_addresses()


def test_an_unknown_mode_set_at_run_time_is_refused(settings):
    settings.REDIS_MODE = "redlock"
    with pytest.raises(ImproperlyConfigured, match="REDIS_MODE must be one of"):
        topology.redis_client()


def test_messages_name_where_the_lock_lives_without_passwords(settings, reset_topology):
    assert topology.describe() == "REDIS_URL"
    settings.REDIS_MODE = "cluster"
    settings.REDIS_URL = "redis://:s3cret@node-1:7000/0"
    assert topology.describe() == "the Redis Cluster at redis://:***@node-1:7000/0"
    settings.REDIS_MODE = "sentinel"
    settings.REDIS_SENTINELS = ["a:26379", "b:26379"]
    settings.REDIS_SENTINEL_MASTER = "jobs"
    assert topology.describe() == "the Sentinel master 'jobs' (a:26379,b:26379)"
    settings.REDIS_MODE = "quorum"
    settings.LOCK_REDIS_URLS = ["redis://a:1/0", "redis://b:1/0", "redis://c:1/0"]
    assert topology.describe() == "a majority of LOCK_REDIS_URLS (3 masters)"
