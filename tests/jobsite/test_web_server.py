"""The web server `make run` starts: the Procfile's `web` command (gunicorn with threads), run as written on a free
port. Chunked request bodies reach the API, a connection is kept alive across requests, and the admin's CSS is
served. And jobsite.wsgi's chunked-body adapter on its own."""

from __future__ import annotations

import http.client
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from rest_framework.authtoken.models import Token

from jobsite.wsgi import chunked_body_support
from scraping_app.models import SavedSearch
from tests.conftest import ROOT, free_port
from tests.waiting import wait_for

pytestmark = pytest.mark.slow


def procfile_command(name: str) -> str:
    match = re.search(rf"^{name}:\s*(.+)$", (ROOT / "Procfile").read_text(), re.M)
    assert match, f"Procfile has no {name}: line"
    return match.group(1)


def test_make_run_serves_gunicorn_on_loopback_unless_asked_for_runserver():
    web = procfile_command("web")
    assert web.startswith("gunicorn jobsite.wsgi ") and "--threads" in web and "127.0.0.1:" in web
    assert "0.0.0.0" not in (ROOT / "Procfile").read_text()
    assert procfile_command("runserver").startswith("python manage.py runserver 127.0.0.1:")
    makefile = (ROOT / "Makefile").read_text()
    assert "DEBUG=1" in makefile and "WEB ?= web" in makefile and "$(WEB) scheduler" in makefile


@pytest.fixture
def web_command_server(subprocess_env, tmp_path):
    """The Procfile's web command, through a shell as honcho runs it, with make run's PATH and a free WEB_PORT."""
    port = free_port()
    env = {**subprocess_env, "WEB_PORT": str(port), "LOG_DIR": str(tmp_path),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    output = (tmp_path / "web.log").open("w+")
    proc = subprocess.Popen(["sh", "-c", procfile_command("web")], cwd=ROOT, env=env, stdout=output,
                            stderr=subprocess.STDOUT, start_new_session=True)

    def answers() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            return proc.poll() is not None  # it exited: stop waiting, and say so below

    try:
        wait_for(answers, timeout=60, interval=0.1, message="the Procfile's web command to listen")
    finally:
        if proc.poll() is not None:
            output.seek(0)
            raise AssertionError(f"the web command exited {proc.returncode}: {output.read()}")
    yield port
    os.killpg(proc.pid, signal.SIGTERM)  # gunicorn's master and its workers
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    output.close()


@pytest.mark.django_db(transaction=True)
def test_the_web_commands_log_lines_say_web(web_command_server, tmp_path):
    """gunicorn's workers are `web` on every line they log (django.request's warning for a 404 here)."""
    conn = http.client.HTTPConnection("127.0.0.1", web_command_server, timeout=60)
    try:
        conn.request("GET", "/no-such-page/")
        assert conn.getresponse().status == 404
    finally:
        conn.close()
    log = tmp_path / "app.log"
    line = wait_for(lambda: log.exists() and next((line for line in log.read_text().splitlines()
                                                  if "Not Found: /no-such-page/" in line), None),
                    timeout=30, message="the 404's line in app.log")
    assert re.search(r"\[WARNING\] django\.request \[web:\d+\]: Not Found: /no-such-page/$", line), line


def chunked_post(conn: http.client.HTTPConnection, path: str, parts: list[bytes], token: str):
    conn.request("POST", path, body=iter(parts), encode_chunked=True,
                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                          "Transfer-Encoding": "chunked"})
    response = conn.getresponse()
    return response, response.read()


@pytest.mark.django_db(transaction=True)
def test_chunked_bodies_and_keep_alive_under_the_procfile_web_command(web_command_server, users, team):
    token = Token.objects.create(user=users["member"]).key
    conn = http.client.HTTPConnection("127.0.0.1", web_command_server, timeout=60)
    try:
        created, body = chunked_post(conn, "/api/v1/saved-searches/",
                                     [b'{"team": 1, "keyword": ', b'"chunked-django", "location": "remote", ',
                                      b'"limit": 7}'], token)
        assert created.status == 201, body
        assert json.loads(body)["keyword"] == "chunked-django"
        assert SavedSearch.objects.get(keyword="chunked-django").limit == 7
        sock = conn.sock
        assert sock is not None  # kept alive

        invalid, body = chunked_post(conn, "/api/v1/saved-searches/",
                                     [b'{"team": 1, "keyword": "django", ', b'"limit": "many"}'], token)
        assert invalid.status == 400 and "limit" in json.loads(body), body
        assert conn.sock is sock  # the same connection

        conn.request("GET", "/static/admin/css/base.css")
        css = conn.getresponse()
        assert css.status == 200 and css.getheader("Content-Type").startswith("text/css")
        assert b"body" in css.read()
        assert conn.sock is sock
    finally:
        conn.close()


# --- jobsite.wsgi.chunked_body_support, on its own ------------------------------------------------------------------

def call(app, environ: dict) -> tuple[str, bytes]:
    seen = {}

    def start_response(status, headers):
        seen["status"] = status

    body = b"".join(app(environ, start_response))
    return seen["status"], body


def echo(environ, start_response):
    start_response("200 OK", [])
    return [environ.get("CONTENT_LENGTH", "-").encode(), b" ",
            environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))]


def chunked_environ(body: bytes, **extra) -> dict:
    return {"wsgi.input": io.BytesIO(body), "wsgi.input_terminated": True, "HTTP_TRANSFER_ENCODING": "chunked",
            **extra}


def test_a_decoded_chunked_body_gets_its_length():
    assert call(chunked_body_support(echo), chunked_environ(b"hello")) == ("200 OK", b"5 hello")


def test_a_chunked_body_over_the_cap_is_413():
    status, _ = call(chunked_body_support(echo, max_bytes=4), chunked_environ(b"hello"))
    assert status.startswith("413")


@pytest.mark.parametrize("environ", [
    {"wsgi.input": io.BytesIO(b"hello"), "CONTENT_LENGTH": "5", "wsgi.input_terminated": True},  # a sized body
    {"wsgi.input": io.BytesIO(b"hello"), "HTTP_TRANSFER_ENCODING": "chunked"},  # not decoded (runserver)
], ids=["content-length", "not-terminated"])
def test_other_bodies_are_left_alone(environ):
    expected = b"5 hello" if "CONTENT_LENGTH" in environ else b"- "
    assert call(chunked_body_support(echo), environ) == ("200 OK", expected)
