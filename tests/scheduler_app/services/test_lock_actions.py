"""The operators' lock actions and the minute reaper."""

from __future__ import annotations

import pytest

from scheduler_app.models import JobRun

pytestmark = pytest.mark.django_db(transaction=True)


def test_reaper_abandons_queued_runs_whose_trigger_died(lock_redis):
    from datetime import timedelta

    from django.utils import timezone

    from scheduler_app import services

    old = JobRun.objects.create(job_id="quick_job", lock_key="quick_job", trigger="cli")
    JobRun.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=1))
    fresh = JobRun.objects.create(job_id="quick_job", lock_key="quick_job", trigger="cli")
    services.reaper_run()
    old.refresh_from_db()
    fresh.refresh_from_db()
    assert old.status == JobRun.Status.ABANDONED and fresh.status == JobRun.Status.QUEUED
