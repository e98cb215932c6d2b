"""A live `manage.py runscheduler` stores, for a job in its own time zone, the next run time the preview shows first;
and a zone edit is a schedule edit: the reload moves the stored next run to the new zone's."""

from __future__ import annotations

from datetime import datetime

import pytest
from django.utils import timezone
from django_apscheduler.models import DjangoJob

from scheduler_app import selectors, services
from scheduler_app.models import JobDefinition
from tests.scheduler_app.scheduler.conftest import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.real_redis]

JOB = "check_follow_ups_task"


def _stored_next(job_id: str):
    row = DjangoJob.objects.filter(id=job_id).first()
    return None if row is None else row.next_run_time


def _preview_first(start) -> tuple[datetime, str]:
    run = selectors.job_next_runs(job_id=JOB, start=start, count=1)["runs"][0]
    return datetime.fromisoformat(run["at"]), run["abbreviation"]


def test_the_scheduler_stores_the_previews_first_fire_for_a_job_in_its_own_zone(scheduler_process, real_redis):
    JobDefinition.objects.filter(job_id=JOB).update(cron="30 2 * * *", time_zone="America/New_York")
    start = timezone.now()
    first, abbreviation = _preview_first(start)
    assert first.strftime("%H:%M") == "02:30" and abbreviation in {"EST", "EDT"}  # not 02:30 UTC
    scheduler_process()  # TIME_ZONE is UTC in the subprocess
    wait_for(lambda: _stored_next(JOB) is not None, timeout=15, message="the job in the store")
    assert _stored_next(JOB) == first

    # a zone edit is a schedule edit: the scheduler reloads and stores the new zone's next fire
    services.job_definition_update(definition=JobDefinition.objects.get(job_id=JOB), data={"time_zone": "Asia/Tokyo"})
    tokyo, abbreviation = _preview_first(timezone.now())
    assert abbreviation == "JST" and tokyo.strftime("%H:%M") == "02:30" and tokyo != first
    wait_for(lambda: _stored_next(JOB) == tokyo, timeout=15, message="the reload to store the Tokyo fire")
