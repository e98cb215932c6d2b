"""/metrics (bearer token, 503 when the figures cannot be read) and /healthz (200 or 503)."""

from __future__ import annotations

import pytest

from logs_app.ops import checks, metrics
from logs_app.ops import views as ops_views


@pytest.fixture
def fake_metrics(monkeypatch):
    monkeypatch.setattr(metrics, "metrics_render", lambda: b"jobsite_runs_total 1\n")


def test_metrics_open_without_a_configured_token(client, settings, fake_metrics):
    settings.METRICS_BEARER_TOKEN = ""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content == b"jobsite_runs_total 1\n"
    assert response["Content-Type"].startswith("text/plain")


@pytest.mark.parametrize("header", [None, "Bearer wrong", "secret", "bearer secret", "Bearer secret ", "Token secret"])
def test_metrics_refuse_a_missing_or_wrong_token(client, settings, fake_metrics, header):
    settings.METRICS_BEARER_TOKEN = "secret"
    extra = {} if header is None else {"HTTP_AUTHORIZATION": header}
    response = client.get("/metrics", **extra)
    assert response.status_code == 401
    assert response.content == b"unauthorized\n"


def test_metrics_accept_the_right_token(client, settings, fake_metrics):
    settings.METRICS_BEARER_TOKEN = "secret"
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer secret")
    assert response.status_code == 200
    assert b"jobsite_runs_total" in response.content


def test_metrics_503_when_the_collector_fails(client, settings, monkeypatch, caplog):
    settings.METRICS_BEARER_TOKEN = ""

    def broken():
        raise ConnectionError("database down")

    monkeypatch.setattr(metrics, "metrics_render", broken)
    response = client.get("/metrics")
    assert response.status_code == 503
    assert response.content == b"# metrics unavailable: ConnectionError\n"
    assert "Metrics unavailable: database down" in caplog.text


def test_metrics_check_the_token_before_reading(client, settings, monkeypatch):
    settings.METRICS_BEARER_TOKEN = "secret"
    monkeypatch.setattr(metrics, "metrics_render", lambda: pytest.fail("read without a token"))
    assert client.get("/metrics").status_code == 401


def test_metrics_render_for_real(client, settings, db, fake_redis):
    settings.METRICS_BEARER_TOKEN = ""
    response = client.get("/metrics")
    assert response.status_code == 200


@pytest.mark.parametrize("path", ["/metrics", "/healthz"])
def test_only_get(client, path):
    assert client.post(path).status_code == 405


def _report(database: str, redis: str = "ok") -> checks.HealthReport:
    return checks.HealthReport(checks={"database": {"status": database}, "redis": {"status": redis}})


@pytest.mark.parametrize("database, redis, status, code", [
    ("ok", "ok", "ok", 200),
    ("ok", "down", "degraded", 200),  # Redis has a fallback: serving goes on
    ("down", "ok", "down", 503),
])
def test_healthz_status_follows_the_report(client, monkeypatch, database, redis, status, code):
    monkeypatch.setattr(ops_views, "health_report", lambda: _report(database, redis))
    response = client.get("/healthz")
    assert response.status_code == code
    assert response.json() == {"status": status, "database": {"status": database}, "redis": {"status": redis}}


def test_healthz_for_real_with_redis_answering(client, db, fake_redis):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["database"]["status"] == "ok"
    assert body["redis"]["status"] == "ok"
    assert set(body) >= {"status", "database", "redis", "scheduler", "locks"}


def test_healthz_for_real_with_redis_down_is_still_200(client, db, dead_redis):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded" and body["redis"]["status"] != "ok"
