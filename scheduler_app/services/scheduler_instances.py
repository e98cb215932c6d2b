"""Scheduler processes: their registration and heartbeat, and the request that every one re-reads the definitions."""

from __future__ import annotations

import logging

from django.utils import timezone

from scheduler_app.models import JobDefinition, SchedulerInstance
from scheduler_app.scheduler import control

logger = logging.getLogger("scheduler_app")


def scheduler_reload_request() -> dict:
    """Ask every scheduler to re-read the job definitions. Running jobs are not interrupted.

    The database version (the definitions' newest `updated_at`) is bumped first, so a scheduler that misses the
    Redis message still reloads at its next heartbeat.
    """
    now = timezone.now()
    touched = JobDefinition.objects.update(updated_at=now)
    receivers = control.reload_publish()
    logger.info("Scheduler reload requested (%s definitions, %s live listeners)", touched, receivers)
    return {"requested_at": now, "definitions": touched, "redis_receivers": receivers}


def scheduler_instance_start(*, host: str, pid: int):
    now = timezone.now()
    return SchedulerInstance.objects.create(host=host, pid=pid, started_at=now, heartbeat_at=now)


def scheduler_instance_beat(*, instance_id: int) -> None:
    SchedulerInstance.objects.filter(pk=instance_id).update(heartbeat_at=timezone.now())


def scheduler_instance_stop(*, instance_id: int) -> None:
    SchedulerInstance.objects.filter(pk=instance_id).update(stopped_at=timezone.now())
