"""The production configuration, each case in a subprocess with an environment of its own (the test process itself
runs the development one, DEBUG=1: see pyproject.toml): DEBUG is off unless set, the app refuses to start without a
real SECRET_KEY or ALLOWED_HOSTS, HTTPS is on by default, and the README's production block passes
`check --deploy`."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys

import pytest
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from tests.conftest import ROOT, require

KEY = secrets.token_urlsafe(50)
SHOW = ("import django; django.setup(); from django.conf import settings as s; "
        "print(s.DEBUG, s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS, "
        "s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_HSTS_PRELOAD, s.SECURE_PROXY_SSL_HEADER, s.ALLOWED_HOSTS)")


def base_env(tmp_path) -> dict[str, str]:
    """Nothing of this process's environment but PATH (no DEBUG=1), and logs in tmp_path."""
    return {"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "jobsite.settings", "LOG_DIR": str(tmp_path),
            "LOG_DB_ENABLED": "false", "REDIS_URL": settings.REDIS_URL}


def python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("extra", [
    {},                                                      # DEBUG unset: off, and no key
    {"DEBUG": "false", "ALLOWED_HOSTS": "jobs.example.com"},
    {"DEBUG": "false", "ALLOWED_HOSTS": "jobs.example.com", "SECRET_KEY": ""},
    {"DEBUG": "false", "ALLOWED_HOSTS": "jobs.example.com", "SECRET_KEY": "dev-only-insecure-key-change-me"},
], ids=["debug-unset", "no-key", "empty-key", "dev-key"])
def test_debug_off_refuses_to_start_without_a_secret_key(tmp_path, extra):
    done = python("import django; django.setup()", {**base_env(tmp_path), **extra})
    assert done.returncode != 0
    assert "django.core.exceptions.ImproperlyConfigured: SECRET_KEY is empty or the development key" in done.stderr
    assert "set the SECRET_KEY environment variable" in done.stderr


@pytest.mark.parametrize("hosts", [None, "", " , "], ids=["unset", "empty", "blank-items"])
def test_debug_off_refuses_to_start_without_allowed_hosts(tmp_path, hosts):
    env = {**base_env(tmp_path), "DEBUG": "false", "SECRET_KEY": KEY}
    if hosts is not None:
        env["ALLOWED_HOSTS"] = hosts
    done = subprocess.run([sys.executable, "manage.py", "check"], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode != 0
    assert "ImproperlyConfigured: ALLOWED_HOSTS is empty" in done.stderr
    assert "set the ALLOWED_HOSTS environment variable" in done.stderr


def test_debug_off_with_a_key_and_hosts_starts_with_https_on(tmp_path):
    env = {**base_env(tmp_path), "DEBUG": "false", "SECRET_KEY": KEY,
           "ALLOWED_HOSTS": "jobs.example.com,api.example.com"}
    done = python(SHOW, env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split(" ", 8) == ["False", "True", "True", "True", "31536000", "True", "True", "None",
                                         "['jobs.example.com', 'api.example.com']\n"]


def test_https_settings_follow_their_variables(tmp_path):
    env = {**base_env(tmp_path), "DEBUG": "false", "SECRET_KEY": KEY, "ALLOWED_HOSTS": "jobs.example.com",
           "SECURE_SSL_REDIRECT": "false", "SESSION_COOKIE_SECURE": "false", "CSRF_COOKIE_SECURE": "false",
           "SECURE_HSTS_SECONDS": "60", "SECURE_HSTS_INCLUDE_SUBDOMAINS": "false", "SECURE_HSTS_PRELOAD": "false",
           "SECURE_PROXY_SSL_HEADER": "true"}
    done = python(SHOW, env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split(" ", 8)[:7] == ["False", "False", "False", "False", "60", "False", "False"]
    assert "('HTTP_X_FORWARDED_PROTO', 'https')" in done.stdout


def test_debug_on_starts_with_development_values(tmp_path):
    done = python(SHOW, {**base_env(tmp_path), "DEBUG": "1"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("True False False False 0 False False None ")
    assert "'localhost'" in done.stdout


def readme_production_env() -> dict[str, str]:
    """The `export NAME=VALUE` lines of the README's production block (after `<!-- production-env -->`)."""
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- production-env -->\s*```bash\n(.*?)```", readme, re.S)
    assert block, "README.md has no <!-- production-env --> block"
    pairs = re.findall(r"^export (\w+)=(\S*)", block.group(1), re.M)
    assert pairs and len(pairs) == len(block.group(1).strip().splitlines())
    return dict(pairs)


def test_the_readme_production_settings_pass_check_deploy(tmp_path):
    """`manage.py check --deploy` with exactly the README's production block. Its placeholders (`…`) get real
    values: a fresh key; the test's Redis, since the scheduler's system check warns when Redis does not answer;
    a SQLite file for DATABASE_URL (the checks do not query the database)."""
    import redis

    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=0.5).ping()
    except redis.exceptions.RedisError as exc:
        require(False, f"Redis not reachable at {settings.REDIS_URL}: {exc}")
    block = readme_production_env()
    assert {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS"} <= set(block)
    placeholders = {"SECRET_KEY": KEY, "REDIS_URL": settings.REDIS_URL,
                    "DATABASE_URL": f"sqlite:///{tmp_path / 'deploy-check.sqlite3'}"}
    env = {"PATH": os.environ["PATH"], "LOG_DIR": str(tmp_path), "LOG_DB_ENABLED": "false"}
    for name, value in block.items():
        env[name] = placeholders[name] if "…" in value else value
    done = subprocess.run([sys.executable, "manage.py", "check", "--deploy"], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=180)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "System check identified no issues" in output, output


def test_password_validators_are_djangos_four():
    assert [v["NAME"].rsplit(".", 1)[1] for v in settings.AUTH_PASSWORD_VALIDATORS] == [
        "UserAttributeSimilarityValidator", "MinimumLengthValidator", "CommonPasswordValidator",
        "NumericPasswordValidator"]
    for weak in ("admin", "password", "12345678901"):
        with pytest.raises(ValidationError):
            validate_password(weak)
    validate_password("correct-horse-battery-staple-7")


@pytest.mark.django_db
def test_changepassword_refuses_a_weak_password(django_user_model, monkeypatch):
    """Validators apply where people type passwords: `changepassword` (and createsuperuser, the admin's forms)."""
    from django.core.management import CommandError, call_command

    django_user_model.objects.create_user("ops", password="old-Secret-value-1")
    answers = iter(["admin", "admin"] * 3)
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    with pytest.raises(CommandError, match="Aborting password change"):
        call_command("changepassword", "ops")
    assert django_user_model.objects.get(username="ops").check_password("old-Secret-value-1")


def test_postgresql_connections_time_out_on_a_dead_network_path(tmp_path):
    """libpq has no TCP timeout: without these a cut link hangs a call (and a renewal thread) for minutes."""
    code = ("import django; django.setup(); from django.conf import settings; "
            "print(settings.DATABASES['default']['OPTIONS'])")
    env = {**base_env(tmp_path), "DEBUG": "1", "DATABASE_URL": "postgres://postgres@db.internal:5432/jobsite",
           "DATABASE_TCP_TIMEOUT_SECONDS": "12"}
    done = python(code, env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ("{'connect_timeout': 5, 'keepalives': 1, 'keepalives_idle': 6, "
                                   "'keepalives_interval': 2, 'keepalives_count': 3, 'tcp_user_timeout': 12000}")
    own = python(code, {**env, "DATABASE_URL": "postgres://postgres@db.internal:5432/jobsite?connect_timeout=30"})
    assert "'connect_timeout': '30'" in own.stdout or "'connect_timeout': 30" in own.stdout  # the URL's own wins
