"""manage.py seed_demo, as `make run` calls it: tokens printed one per line, idempotent, and loud about a Redis
that does not answer (the system check every command shows first)."""

from __future__ import annotations

import re
import socket

import pytest
from rest_framework.authtoken.models import Token

from tests.conftest import manage

pytestmark = pytest.mark.django_db(transaction=True)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _seed(env: dict) -> tuple[int, str, str]:
    proc = manage("seed_demo", env=env)
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err


def test_seed_demo_prints_each_token_on_its_own_line_and_is_idempotent(subprocess_env, real_redis):
    code, out, err = _seed(subprocess_env)
    assert code == 0, err
    tokens = dict(re.findall(r"^(ADMIN_TOKEN|DEMO_TOKEN)=(\w+)$", out, re.M))
    assert set(tokens) == {"ADMIN_TOKEN", "DEMO_TOKEN"}
    assert Token.objects.get(user__username="admin").key == tokens["ADMIN_TOKEN"]
    assert "Team: 1" in out and "Redis is not reachable" not in err
    code, again, err = _seed(subprocess_env)
    assert code == 0, err
    assert dict(re.findall(r"^(ADMIN_TOKEN|DEMO_TOKEN)=(\w+)$", again, re.M)) == tokens  # same tokens, no duplicates


def test_seed_demo_warns_loudly_when_redis_does_not_answer(subprocess_env):
    env = {**subprocess_env, "REDIS_URL": f"redis://127.0.0.1:{_closed_port()}/0"}
    code, out, err = _seed(env)
    assert code == 0, err
    assert "scheduler_app.W001" in err and "Redis is not reachable at REDIS_URL" in err
    assert "execution locks use the database lease (LOCK_FALLBACK=database)" in err
    assert "ADMIN_TOKEN=" in out
