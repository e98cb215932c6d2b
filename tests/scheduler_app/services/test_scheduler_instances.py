"""Scheduler processes' registration and heartbeat, and the reload request."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from scheduler_app.models import JobDefinition, SchedulerInstance
from scheduler_app.scheduler import control
from scheduler_app.selectors import job_definitions_version, scheduler_instances_alive
from scheduler_app.services import (
    scheduler_instance_beat,
    scheduler_instance_start,
    scheduler_instance_stop,
    scheduler_reload_request,
)
from tests.waiting import wait_for


def test_start_registers_a_live_instance(db):
    instance = scheduler_instance_start(host="vm", pid=77)
    instance.refresh_from_db()
    assert (instance.host, instance.pid, instance.stopped_at) == ("vm", 77, None)
    assert instance.started_at == instance.heartbeat_at
    assert scheduler_instances_alive() == [instance]


def test_beat_moves_only_that_instances_heartbeat(db):
    one = scheduler_instance_start(host="vm", pid=1)
    two = scheduler_instance_start(host="vm", pid=2)
    long_ago = timezone.now() - timedelta(hours=1)
    SchedulerInstance.objects.update(heartbeat_at=long_ago)
    assert scheduler_instances_alive() == []
    scheduler_instance_beat(instance_id=one.pk)
    one.refresh_from_db()
    two.refresh_from_db()
    assert one.heartbeat_at > long_ago and two.heartbeat_at == long_ago
    assert scheduler_instances_alive() == [one]


def test_stop_marks_the_instance_stopped(db):
    instance = scheduler_instance_start(host="vm", pid=3)
    scheduler_instance_stop(instance_id=instance.pk)
    instance.refresh_from_db()
    assert instance.stopped_at is not None
    assert scheduler_instances_alive() == []


def test_beat_and_stop_of_an_unknown_instance_do_nothing(db):
    scheduler_instance_beat(instance_id=999_999)
    scheduler_instance_stop(instance_id=999_999)
    assert not SchedulerInstance.objects.exists()


@pytest.fixture
def old_definitions(db):
    long_ago = timezone.now() - timedelta(days=1)
    JobDefinition.objects.update(updated_at=long_ago)
    return long_ago


def test_reload_request_bumps_the_definitions_version(old_definitions, real_redis):
    before = job_definitions_version()
    answer = scheduler_reload_request()
    assert job_definitions_version() != before
    assert answer["definitions"] == JobDefinition.objects.count() > 0
    assert not JobDefinition.objects.filter(updated_at__lte=old_definitions).exists()
    assert set(JobDefinition.objects.values_list("updated_at", flat=True)) == {answer["requested_at"]}
    # pub/sub channels span every Redis database: other schedulers on the shared server may be listening
    assert isinstance(answer["redis_receivers"], int)


def test_reload_request_publishes_to_listening_schedulers(old_definitions, real_redis):
    received = []
    listener = control.ControlListener(on_reload=lambda: received.append(1))
    listener.start()
    try:
        assert listener.subscribed.wait(10)
        answer = scheduler_reload_request()
        assert answer["redis_receivers"] >= 1
        wait_for(lambda: received, message="the listener to get the reload")
    finally:
        listener.stop()
        listener.join(10)


def test_reload_request_with_redis_down_still_bumps_the_version(old_definitions, monkeypatch, caplog):
    class Unreachable:
        def publish(self, channel, message):
            raise ConnectionError("Redis down")

    monkeypatch.setattr(control, "_clients", lambda: [Unreachable()])
    before = job_definitions_version()
    answer = scheduler_reload_request()
    assert answer["redis_receivers"] is None
    assert job_definitions_version() != before
    assert "Could not publish scheduler reload" in caplog.text
