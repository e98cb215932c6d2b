"""A real web server for the acceptance tests: `manage.py runserver` on a free loopback port, on the test
database (a file on SQLite, the test database on PostgreSQL), with the Redis at REDIS_URL."""

from __future__ import annotations

import socket
import subprocess

import pytest
import requests

from tests.conftest import manage
from tests.waiting import wait_for


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
