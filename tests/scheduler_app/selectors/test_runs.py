"""Run-history reads: who sees which runs, a slot's runs, definitions and their version."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from scheduler_app.models import JobDefinition, JobRun
from scheduler_app.selectors import (
    job_definition_get,
    job_definitions_version,
    job_runs_list,
    job_runs_visible,
    scheduled_slot_has_run,
    scheduled_slots_run,
)
from scraping_app.models import Team

SLOT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def _run(**fields) -> JobRun:
    fields.setdefault("job_id", "quick_job")
    fields.setdefault("lock_key", fields["job_id"])
    fields.setdefault("trigger", "api")
    fields.setdefault("status", "SUCCEEDED")
    return JobRun.objects.create(**fields)


@pytest.fixture
def runs(users, team):
    other_team = Team.objects.create(pk=2, name="Other")  # explicit: the team fixture took pk 1
    return {
        "member_own": _run(user=users["member"]),
        "member_team": _run(team=team, user=users["staff"]),
        "other_team": _run(team=other_team),
        "outsider_own": _run(user=users["outsider"]),
        "nobodys": _run(trigger="scheduled"),
    }


def _ids(queryset) -> set[int]:
    return set(queryset.values_list("pk", flat=True))


def test_staff_see_every_run(users, runs):
    assert _ids(job_runs_visible(user=users["staff"])) == {run.pk for run in runs.values()}


def test_a_member_sees_own_runs_and_those_of_their_teams(users, runs):
    assert _ids(job_runs_visible(user=users["member"])) == {runs["member_own"].pk, runs["member_team"].pk}


def test_an_outsider_sees_only_own_runs(users, runs):
    assert _ids(job_runs_visible(user=users["outsider"])) == {runs["outsider_own"].pk}


def test_a_run_that_is_both_own_and_the_teams_appears_once(users, team):
    run = _run(user=users["member"], team=team)
    assert list(job_runs_visible(user=users["member"]).values_list("pk", flat=True)) == [run.pk]


def test_job_runs_list_filters_and_orders_newest_first(users, team):
    first = _run(user=users["member"], status="FAILED")
    second = _run(user=users["member"], job_id="hold_job", trigger="cli")
    third = _run(user=users["member"], team=team)
    member = users["member"]
    assert [r.pk for r in job_runs_list(user=member)] == [third.pk, second.pk, first.pk]
    assert [r.pk for r in job_runs_list(user=member, job_id="hold_job")] == [second.pk]
    assert [r.pk for r in job_runs_list(user=member, status="FAILED")] == [first.pk]
    assert [r.pk for r in job_runs_list(user=member, trigger="cli")] == [second.pk]
    assert [r.pk for r in job_runs_list(user=member, team=team)] == [third.pk]
    assert list(job_runs_list(user=users["outsider"])) == []


def test_scheduled_slot_has_run_counts_only_runs_that_took_the_slot(db):
    assert not scheduled_slot_has_run(job_id="quick_job", scheduled_for=SLOT)
    _run(trigger="scheduled", scheduled_for=SLOT, status="SKIPPED", skip_reason="lock_held")
    _run(trigger="scheduled", scheduled_for=SLOT, status="MISSED", skip_reason="misfire", lock_key="quick_job:m")
    _run(trigger="api", scheduled_for=SLOT, lock_key="quick_job:api")
    _run(trigger="scheduled", scheduled_for=SLOT, job_id="hold_job")
    assert not scheduled_slot_has_run(job_id="quick_job", scheduled_for=SLOT)
    _run(trigger="scheduled", scheduled_for=SLOT, status="FAILED", lock_key="quick_job:f")
    assert scheduled_slot_has_run(job_id="quick_job", scheduled_for=SLOT)


def test_scheduled_slots_run_returns_the_slots_that_ran(db):
    slots = [SLOT + timedelta(minutes=30 * i) for i in range(4)]
    _run(trigger="scheduled", scheduled_for=slots[0])
    _run(trigger="scheduled", scheduled_for=slots[1], status="SKIPPED", skip_reason="lock_held")
    _run(trigger="scheduled", scheduled_for=slots[2], status="RUNNING")
    _run(trigger="scheduled", scheduled_for=slots[3], status="MISSED", skip_reason="coalesced")
    _run(trigger="scheduled", scheduled_for=slots[3], job_id="hold_job")
    _run(trigger="scheduled", scheduled_for=slots[0] - timedelta(minutes=30))  # outside the range asked
    assert scheduled_slots_run(job_id="quick_job", slots=slots) == {slots[0], slots[2]}
    assert scheduled_slots_run(job_id="quick_job", slots=[slots[3]]) == set()


def test_job_definition_get(db):
    assert job_definition_get(job_id="quick_job").name == "Quick"
    assert job_definition_get(job_id="no_such_job") is None


def test_job_definitions_version_changes_on_add_edit_and_remove(db):
    start = job_definitions_version()
    assert start[0] == JobDefinition.objects.count()
    quick = JobDefinition.objects.get(job_id="quick_job")
    quick.timeout_minutes = 3
    quick.save()
    edited = job_definitions_version()
    assert edited != start and edited[0] == start[0]
    quick.delete()
    removed = job_definitions_version()
    assert removed[0] == start[0] - 1
    assert job_definitions_version() == removed
