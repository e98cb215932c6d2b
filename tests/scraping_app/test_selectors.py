"""Reads: the one keyword/location filter of stored postings, and which teams a user may use."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from scraping_app import selectors
from scraping_app.models import JobPosting, Team
from tests.scraping_app.conftest import make_source

pytestmark = pytest.mark.django_db


@pytest.fixture
def postings():
    source = make_source("sample", name="Sample")
    now = timezone.now()

    def posting(job_id: str, title: str, location: str, *, is_remote: bool = False, **fields) -> JobPosting:
        return JobPosting.objects.create(source=source, source_job_id=job_id, title=title, location=location,
                                         is_remote=is_remote, first_seen_at=now, last_seen_at=now, fingerprint=job_id,
                                         **fields)

    return {
        "py_remote": posting("1", "Python developer", "Anywhere", is_remote=True),
        "go_berlin": posting("2", "Go developer", "Berlin, DE", company="Pythonic GmbH"),
        "data_paris": posting("3", "Data engineer", "PARIS", description_text="We use python daily."),
        "java_remote_in_name": posting("4", "Java developer", "Remote (EU)"),
    }


def matching(**filters) -> set[str]:
    return set(selectors.postings_matching(**filters).values_list("source_job_id", flat=True))


def test_no_filters_match_everything(postings):
    assert matching() == {"1", "2", "3", "4"}


def test_a_keyword_matches_title_company_or_description_case_insensitively(postings):
    assert matching(keywords=["PYTHON"]) == {"1", "2", "3"}
    assert matching(keywords=["java", "go "]) == {"2", "4"}  # any of the keywords


def test_a_location_matches_the_location_and_remote_means_is_remote(postings):
    assert matching(locations=["berlin"]) == {"2"}
    assert matching(locations=[" paris "]) == {"3"}
    assert matching(locations=["Remote"]) == {"1"}  # is_remote, not the text "Remote (EU)"
    assert matching(locations=["remote", "berlin"]) == {"1", "2"}


def test_keywords_locations_and_exclusions_combine(postings):
    assert matching(keywords=["developer"], locations=["remote", "berlin"], exclude_keywords=["go"]) == {"1"}


def test_it_narrows_a_given_queryset(postings):
    queryset = JobPosting.objects.exclude(source_job_id="1")
    assert matching(queryset=queryset, keywords=["python"]) == {"2", "3"}


def test_postings_list_uses_the_same_filter(postings):
    listed = selectors.postings_list(keyword="python", location="remote")
    assert [p.source_job_id for p in listed] == ["1"]


def test_teams_for_user():
    User = get_user_model()
    member, staff = User.objects.create(username="m"), User.objects.create(username="s", is_staff=True)
    mine, theirs = Team.objects.create(name="Mine"), Team.objects.create(name="Theirs")
    mine.members.add(member)
    assert list(selectors.teams_for_user(user=member)) == [mine]
    assert set(selectors.teams_for_user(user=staff)) == {mine, theirs}
    assert not selectors.teams_for_user(user=AnonymousUser()).exists()
    assert selectors.team_for_user(user=member, team_id=theirs.pk) is None
    assert selectors.team_get(team_id=theirs.pk) == theirs
