"""job_definitions_sync: a definition for every registered job that has none, from its decorator; edits win."""

from __future__ import annotations

import pytest

from scheduler_app import registry
from scheduler_app.definitions import job_definitions_sync
from scheduler_app.models import JobDefinition


@pytest.fixture
def empty(db):
    JobDefinition.objects.all().delete()


def test_creates_every_missing_definition_and_counts_them(empty):
    created = job_definitions_sync()
    specs = registry.all_specs()
    assert created == len(specs) > 0
    assert set(JobDefinition.objects.values_list("job_id", flat=True)) == {spec.job_id for spec in specs}


def test_seeds_from_the_decorators_values(empty):
    job_definitions_sync()
    for spec in registry.all_specs():
        definition = JobDefinition.objects.get(job_id=spec.job_id)
        assert definition.name == spec.name
        assert definition.timeout_minutes == spec.timeout_minutes
        assert definition.lock_scope == spec.scope
        assert definition.wait_seconds == spec.wait_seconds
        assert definition.cron == spec.cron
        assert definition.interval_seconds == spec.interval_seconds
        expected = JobDefinition.TriggerType.INTERVAL if spec.interval_seconds else JobDefinition.TriggerType.CRON
        assert definition.trigger_type == expected
    team = JobDefinition.objects.get(job_id="team_job")
    assert (team.name, team.lock_scope, team.timeout_minutes) == ("Team scoped", "team", 1)
    scrape = JobDefinition.objects.get(job_id="scrape_jobs_task")
    assert scrape.trigger_type == "cron" and scrape.cron


def test_a_second_sync_creates_nothing(empty):
    job_definitions_sync()
    assert job_definitions_sync() == 0


def test_never_overwrites_an_edit(empty):
    job_definitions_sync()
    JobDefinition.objects.filter(job_id="quick_job").update(name="Renamed", timeout_minutes=7, enabled=False,
                                                           cron="*/5 * * * *", lock_scope="team", wait_seconds=3)
    assert job_definitions_sync() == 0
    edited = JobDefinition.objects.get(job_id="quick_job")
    assert (edited.name, edited.timeout_minutes, edited.enabled, edited.cron, edited.lock_scope,
            edited.wait_seconds) == ("Renamed", 7, False, "*/5 * * * *", "team", 3)


def test_only_the_missing_ones_are_created(empty):
    job_definitions_sync()
    JobDefinition.objects.filter(job_id__in=["quick_job", "hold_job"]).delete()
    JobDefinition.objects.filter(job_id="failing_job").update(timeout_minutes=9)
    assert job_definitions_sync() == 2
    assert JobDefinition.objects.get(job_id="quick_job").timeout_minutes == 1
    assert JobDefinition.objects.get(job_id="failing_job").timeout_minutes == 9
