"""The reload control channel on Redis: publish, and a listener that calls back and survives outages."""

from __future__ import annotations

import logging

import pytest
import redis

from scheduler_app.scheduler import control
from tests.conftest import NO_RETRY
from tests.waiting import wait_for


@pytest.fixture
def listener():
    started = []

    def start(on_reload):
        thread = control.ControlListener(on_reload=on_reload)
        thread.start()
        started.append(thread)
        return thread

    yield start
    for thread in started:
        thread.stop()
        thread.join(10)
        assert not thread.is_alive()


def test_publish_reaches_a_listener(real_redis, listener):
    received = []
    thread = listener(lambda: received.append("reload"))
    assert thread.subscribed.wait(10)
    assert control.reload_publish() >= 1
    wait_for(lambda: received == ["reload"], message="the reload callback")


def test_each_message_is_one_callback(real_redis, listener):
    received = []
    thread = listener(lambda: received.append(1))
    assert thread.subscribed.wait(10)
    for _ in range(3):
        control.reload_publish()
    wait_for(lambda: len(received) == 3, message="three callbacks")


def test_a_raw_publish_on_the_channel_is_a_reload(real_redis, listener):
    received = []
    thread = listener(lambda: received.append(1))
    assert thread.subscribed.wait(10)
    real_redis.publish(control.CHANNEL, control.RELOAD)
    wait_for(lambda: received, message="the callback")


def test_publish_returns_an_int(real_redis):
    assert isinstance(control.reload_publish(), int)


def test_publish_with_redis_down_returns_none_and_warns(monkeypatch, caplog):
    client = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=NO_RETRY)
    monkeypatch.setattr(control, "_clients", lambda: [client])
    with caplog.at_level(logging.WARNING, logger="scheduler_app"):
        assert control.reload_publish() is None
    assert "Could not publish scheduler reload on Redis" in caplog.text


def test_listener_warns_once_while_redis_is_down_and_stops(monkeypatch, caplog, listener):
    client = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=NO_RETRY)
    monkeypatch.setattr(control, "_clients", lambda: [client])
    with caplog.at_level(logging.WARNING, logger="scheduler_app"):
        thread = listener(lambda: None)
        wait_for(lambda: "Scheduler control channel unavailable" in caplog.text, message="the warning")
    assert not thread.subscribed.is_set()
    assert caplog.text.count("Scheduler control channel unavailable") == 1


def test_listener_subscribes_when_redis_comes_back(real_redis, monkeypatch, listener):
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=NO_RETRY)
    live = control._clients()[0]
    current = {"client": dead}
    monkeypatch.setattr(control, "_clients", lambda: [current["client"]])
    received = []
    thread = listener(lambda: received.append(1))
    wait_for(lambda: not thread.subscribed.is_set() and thread.is_alive(), message="the listener to be down")
    current["client"] = live
    assert thread.subscribed.wait(10)  # the first backoff is 2 s
    live.publish(control.CHANNEL, control.RELOAD)
    wait_for(lambda: received, message="the callback after Redis came back")
