"""Writes for team-owned records: saved searches (with their sources), automation rules, and the delete they share
(applications: test_applications.py)."""

from __future__ import annotations

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.transaction import TransactionManagementError
from django.utils import timezone

from scraping_app.models import AutomationRule, JobApplication, JobPosting, JobSource, SavedSearch, Team
from scraping_app.services import (
    application_create,
    automation_rule_create,
    automation_rule_update,
    saved_search_create,
    saved_search_team_cap_check,
    saved_search_update,
    team_record_delete,
)
from tests.waiting import wait_for


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
    application = application_create(team=team, posting=posting)
    rule = automation_rule_create(data={"team": team, "name": "Rule"})
    for record in (search, application, rule):
        team_record_delete(instance=record)
    assert not SavedSearch.objects.exists()
    assert not JobApplication.objects.exists()
    assert not AutomationRule.objects.exists()


# --- The cap: SAVED_SEARCHES_PER_TEAM_MAX saved searches per team -------------------------------------------------

def _fill(team, n: int, **fields) -> None:
    SavedSearch.objects.bulk_create([SavedSearch(team=team, keyword=f"k{i}", **fields) for i in range(n)])


def test_saved_search_create_refuses_one_over_the_cap_with_a_team_error(team, settings):
    settings.SAVED_SEARCHES_PER_TEAM_MAX = 3
    _fill(team, 2)
    saved_search_create(data={"team": team, "keyword": "third"})
    with pytest.raises(ValidationError) as excinfo:
        saved_search_create(data={"team": team, "keyword": "fourth"})
    [message] = excinfo.value.message_dict["team"]
    assert "at most 3 saved searches" in message and "SAVED_SEARCHES_PER_TEAM_MAX" in message
    assert SavedSearch.objects.filter(team=team).count() == 3


def test_the_default_cap_is_20_and_inactive_searches_count(team):
    _fill(team, 19, active=False)
    saved_search_create(data={"team": team, "keyword": "twentieth"})
    with pytest.raises(ValidationError, match="at most 20 saved searches"):
        saved_search_create(data={"team": team, "keyword": "twenty-first"})


def test_the_cap_is_per_team(team, settings):
    settings.SAVED_SEARCHES_PER_TEAM_MAX = 1
    other = Team.objects.create(name="Other")
    saved_search_create(data={"team": team, "keyword": "mine"})
    saved_search_create(data={"team": other, "keyword": "theirs"})
    assert SavedSearch.objects.count() == 2


def test_moving_a_search_into_a_full_team_is_refused_and_changes_nothing(team, settings):
    settings.SAVED_SEARCHES_PER_TEAM_MAX = 1
    other = Team.objects.create(name="Other")
    saved_search_create(data={"team": team, "keyword": "mine"})
    theirs = saved_search_create(data={"team": other, "keyword": "theirs"})
    with pytest.raises(ValidationError) as excinfo:
        saved_search_update(saved_search=theirs, data={"team": team, "keyword": "moved"})
    assert "team" in excinfo.value.message_dict
    stored = SavedSearch.objects.get(pk=theirs.pk)
    assert (stored.team, stored.keyword) == (other, "theirs")


def test_a_team_over_a_lowered_cap_can_still_edit_its_searches(team, settings):
    _fill(team, 3)
    settings.SAVED_SEARCHES_PER_TEAM_MAX = 2
    search = SavedSearch.objects.filter(team=team).first()
    saved_search_update(saved_search=search, data={"team": team, "keyword": "edited", "active": False})
    assert SavedSearch.objects.get(pk=search.pk).keyword == "edited"
    with pytest.raises(ValidationError):
        saved_search_create(data={"team": team, "keyword": "one more"})


@pytest.mark.django_db(transaction=True)
def test_the_cap_check_needs_the_writers_transaction():
    team = Team.objects.create(name="Autocommit")
    with pytest.raises(TransactionManagementError):
        saved_search_team_cap_check(team=team)  # outside a transaction its lock would end before the write


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_creates_cannot_exceed_the_cap(settings):
    """A holds the team's lock (its check done, its row not yet written) while B tries to create: B waits for A's
    commit and then counts A's row. On PostgreSQL the test waits until B is really blocked on the row lock."""
    settings.SAVED_SEARCHES_PER_TEAM_MAX = 1
    team = Team.objects.create(name="Racers")
    calling = threading.Event()
    outcome: list[object] = []

    def create_b():
        try:
            calling.set()
            outcome.append(saved_search_create(data={"team": team, "keyword": "b"}))
        except ValidationError as exc:
            outcome.append(exc)
        finally:
            connection.close()

    b = threading.Thread(target=create_b)
    with transaction.atomic():
        saved_search_team_cap_check(team=team)  # A: under the cap, team row locked
        b.start()
        wait_for(calling.is_set, message="B calling saved_search_create")
        if connection.vendor == "postgresql":
            wait_for(lambda: _lock_waiters() > 0, message="B waiting on the team row's lock")
        SavedSearch.objects.create(team=team, keyword="a")
    b.join(30)
    assert not b.is_alive()
    [result] = outcome
    assert isinstance(result, ValidationError) and "team" in result.message_dict
    assert list(SavedSearch.objects.values_list("keyword", flat=True)) == ["a"]


def _lock_waiters() -> int:
    with connection.cursor() as cursor:
        # pg_locks is live; pg_stat_activity would be a snapshot frozen for the rest of this transaction
        cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted AND pid <> pg_backend_pid()")
        return cursor.fetchone()[0]
