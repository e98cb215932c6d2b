"""Writes for team-owned records: saved searches (with their sources), applications, automation rules."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from scraping_app.models import AutomationRule, JobApplication, JobPosting, JobSource, SavedSearch
from scraping_app.services import (
    automation_rule_create,
    automation_rule_update,
    job_application_create,
    job_application_update,
    saved_search_create,
    saved_search_update,
    team_record_delete,
)


@pytest.fixture
def sources(db):
    return [JobSource.objects.create(kind="sample", name=f"team data {i}") for i in range(3)]


@pytest.fixture
def posting(sources):
    now = timezone.now()
    return JobPosting.objects.create(source=sources[0], source_job_id="1", title="Dev", first_seen_at=now,
                                     last_seen_at=now)


def test_saved_search_create_sets_its_sources(team, sources):
    data = {"team": team, "keyword": "python", "location": "Berlin", "sources": sources[:2]}
    search = saved_search_create(data=data)
    assert set(search.sources.all()) == set(sources[:2])
    assert (search.keyword, search.location, search.limit, search.active) == ("python", "Berlin", 25, True)
    assert "sources" in data  # the caller's dict is left as it was


def test_saved_search_create_without_sources_means_every_source(team):
    search = saved_search_create(data={"team": team, "keyword": "go"})
    assert search.sources.count() == 0


def test_saved_search_update_changes_fields_and_replaces_sources(team, sources):
    search = saved_search_create(data={"team": team, "keyword": "python", "sources": sources[:2]})
    saved_search_update(saved_search=search, data={"keyword": "rust", "limit": 50, "sources": [sources[2]]})
    stored = SavedSearch.objects.get(pk=search.pk)
    assert (stored.keyword, stored.limit) == ("rust", 50)
    assert list(stored.sources.all()) == [sources[2]]


def test_saved_search_update_without_sources_keeps_them(team, sources):
    search = saved_search_create(data={"team": team, "keyword": "python", "sources": sources[:2]})
    saved_search_update(saved_search=search, data={"active": False})
    assert set(SavedSearch.objects.get(pk=search.pk).sources.all()) == set(sources[:2])


@pytest.mark.parametrize("data", [{"limit": 0}, {"limit": 101}, {"keyword": ""}])
def test_an_invalid_update_raises_and_stores_nothing(team, sources, data):
    search = saved_search_create(data={"team": team, "keyword": "python", "sources": sources[:1]})
    with pytest.raises(ValidationError):
        saved_search_update(saved_search=search, data={**data, "sources": sources})
    stored = SavedSearch.objects.get(pk=search.pk)
    assert (stored.keyword, stored.limit) == ("python", 25)
    assert list(stored.sources.all()) == sources[:1]


def test_job_application_create_and_update(team, posting):
    application = job_application_create(data={"team": team, "posting": posting})
    assert application.status == JobApplication.Status.SHORTLISTED
    follow_up = timezone.now() + timedelta(days=3)
    job_application_update(application=application, data={"status": "applied", "notes": "sent",
                                                           "follow_up_at": follow_up})
    stored = JobApplication.objects.get(pk=application.pk)
    assert (stored.status, stored.notes, stored.follow_up_at) == ("applied", "sent", follow_up)


def test_job_application_update_refuses_an_unknown_status(team, posting):
    application = job_application_create(data={"team": team, "posting": posting})
    with pytest.raises(ValidationError) as excinfo:
        job_application_update(application=application, data={"status": "hired-ish"})
    assert "status" in excinfo.value.message_dict
    assert JobApplication.objects.get(pk=application.pk).status == JobApplication.Status.SHORTLISTED


def test_automation_rule_create_and_update(team):
    rule = automation_rule_create(data={"team": team, "name": "Python remote", "include_keywords": ["python"],
                                        "remote_only": True})
    automation_rule_update(rule=rule, data={"name": "Python anywhere", "remote_only": False, "follow_up_days": 7})
    stored = AutomationRule.objects.get(pk=rule.pk)
    assert (stored.name, stored.remote_only, stored.follow_up_days, stored.include_keywords) == (
        "Python anywhere", False, 7, ["python"])


def test_automation_rule_update_validates(team):
    rule = automation_rule_create(data={"team": team, "name": "Rule"})
    with pytest.raises(ValidationError):
        automation_rule_update(rule=rule, data={"name": ""})
    assert AutomationRule.objects.get(pk=rule.pk).name == "Rule"


def test_team_record_delete(team, posting):
    search = saved_search_create(data={"team": team, "keyword": "python"})
    application = job_application_create(data={"team": team, "posting": posting})
    rule = automation_rule_create(data={"team": team, "name": "Rule"})
    for record in (search, application, rule):
        team_record_delete(instance=record)
    assert not SavedSearch.objects.exists()
    assert not JobApplication.objects.exists()
    assert not AutomationRule.objects.exists()
