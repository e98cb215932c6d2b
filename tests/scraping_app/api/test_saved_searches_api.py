"""Saved searches keep every list filter (nested in `filters` or flat), validated like GET /api/v1/jobs, and their
alert settings."""

from __future__ import annotations

import pytest
from django.utils import timezone

from scraping_app.models import JobPosting, SavedSearch
from scraping_app.saved_search_filters import saved_search_search_kwargs
from scraping_app.selectors import postings_search
from tests.conftest import bearer
from tests.scraping_app.conftest import make_source

pytestmark = pytest.mark.django_db

URL = "/api/v1/saved-searches/"
FILTERS = {"remote": True, "salary_min": "90000", "employment_type": ["full-time", "contract"],
           "seniority": "senior,lead", "tags": ["Django", "AWS"], "company": "acme", "source": "sample",
           "posted_after": "2026-11-01", "posted_within_hours": 72}
STORED = {"remote": True, "salary_min": "90000.00", "employment_type": ["contract", "full_time"],
          "seniority": ["lead", "senior"], "tags": ["aws", "django"], "company": "acme", "source": "sample",
          "posted_after": "2026-11-01T00:00:00+00:00", "posted_within_hours": 72}


@pytest.fixture
def api(users):
    users["member"].email = "member@example.com"
    users["member"].save()
    return bearer(users["member"])


def _create(api, team, **body):
    return api.post(URL, {"team": team.pk, "keyword": "python", **body}, format="json")


def test_nested_filters_are_validated_stored_json_safe_and_shown(api, team):
    response = _create(api, team, filters=FILTERS, alert="daily", alert_emails=["lead@example.com"])

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["filters"] == STORED
    assert body["alert"] == "daily" and body["alert_emails"] == ["lead@example.com"]
    assert body["last_alerted_at"] is None
    assert SavedSearch.objects.get().filters == STORED
    assert "remote" not in body  # flat names are input only


def test_flat_filters_are_stored_in_filters(api, team):
    flat = {**FILTERS, "hours_old": 24}
    response = _create(api, team, **flat)
    assert response.status_code == 201, response.content
    assert response.json()["filters"] == {**STORED, "posted_within_hours": 24}  # hours_old is the same filter


def test_flat_and_nested_filters_merge_and_the_flat_one_wins(api, team):
    merged = _create(api, team, filters={"remote": True}, salary_min="50000")
    assert merged.json()["filters"] == {"remote": True, "salary_min": "50000.00"}
    twice = _create(api, team, filters={"remote": True, "posted_within_hours": 12}, remote=False, hours_old=6)
    assert twice.status_code == 201 and twice.json()["filters"] == {"remote": False, "posted_within_hours": 6}


def test_patch_with_flat_filters_keeps_the_other_stored_ones_and_filters_replaces_them(api, team):
    pk = _create(api, team, filters={"remote": True, "company": "acme"}).json()["id"]
    patched = api.patch(f"{URL}{pk}", {"salary_min": "70000"}, format="json")
    assert patched.status_code == 200, patched.content
    assert patched.json()["filters"] == {"remote": True, "company": "acme", "salary_min": "70000.00"}
    replaced = api.patch(f"{URL}{pk}", {"filters": {"tags": "rust"}}, format="json")
    assert replaced.json()["filters"] == {"tags": ["rust"]}
    assert api.patch(f"{URL}{pk}", {"active": False}, format="json").json()["filters"] == {"tags": ["rust"]}


@pytest.mark.parametrize("body, errors", [
    ({"filters": {"colour": "red"}}, {"filters": {"colour": ["Unknown field."]}}),
    ({"filters": {"q": "java"}}, {"filters": {"q": ["Unknown field."]}}),  # the keyword is a column
    ({"filters": {"sort": "salary"}}, {"filters": {"sort": ["Unknown field."]}}),
    ({"colour": "red"}, {"colour": ["Unknown field."]}),
    ({"filters": ["remote"]}, {"filters": ['Give an object of filters, e.g. {"remote": true}.']}),
])
def test_unknown_filters_are_a_400_naming_them(api, team, body, errors):
    response = _create(api, team, **body)
    assert response.status_code == 400 and response.json() == errors
    assert not SavedSearch.objects.exists()


@pytest.mark.parametrize("name, value", [
    ("remote", "yes"), ("remote", 1), ("salary_min", "-5"), ("salary_min", "lots"), ("salary_min", 90000.5),
    ("employment_type", "permanent-ish"), ("employment_type", [1]), ("employment_type", []),
    ("seniority", ["wizard"]), ("tags", ["a,b"]), ("posted_within_hours", 0), ("posted_within_hours", "24"),
    ("posted_after", "2026-02-30"), ("company", 5), ("hours_old", True),
])
def test_bad_filter_values_are_a_400_naming_the_field_nested_and_flat(api, team, name, value):
    nested = _create(api, team, filters={name: value})
    assert nested.status_code == 400 and list(nested.json()) == ["filters"]
    assert list(nested.json()["filters"]) == [name], nested.json()
    flat = _create(api, team, **{name: value})
    assert flat.status_code == 400 and list(flat.json()) == [name], flat.json()
    assert not SavedSearch.objects.exists()


def test_alert_and_alert_emails_are_validated(api, team):
    assert list(_create(api, team, alert="hourly").json()) == ["alert"]
    bad = _create(api, team, alert_emails=["ann@example.com", "not an address"])
    assert bad.status_code == 400 and list(bad.json()) == ["alert_emails"]
    last = _create(api, team, last_alerted_at="2026-11-01")  # read only: ignored like created_at
    assert last.status_code == 201 and last.json()["last_alerted_at"] is None


def test_a_round_trip_reads_back_the_postings_of_the_list_filters(api, team):
    """What GET /api/v1/saved-searches shows can be posted back, and means what GET /api/v1/jobs means."""
    source = make_source("sample", name="Sample")
    now = timezone.now()
    for n, (remote, salary) in enumerate([(True, 100000), (False, 100000), (True, 40000)], start=1):
        JobPosting.objects.create(source=source, source_job_id=str(n), title=f"Python developer {n}",
                                  is_remote=remote, salary_annual_max=salary, employment_type_normalized="full_time",
                                  first_seen_at=now, last_seen_at=now, posted_at=now, fingerprint=str(n))
    shown = _create(api, team, remote=True, salary_min="90000", employment_type="full_time").json()
    again = _create(api, team, filters=shown["filters"]).json()
    assert again["filters"] == shown["filters"]

    search = SavedSearch.objects.get(pk=again["id"])
    stored = postings_search(**saved_search_search_kwargs(keyword=search.keyword, location=search.location,
                                                          filters=search.filters))
    listed = api.get("/api/v1/jobs/", {"q": "python", "remote": "true", "salary_min": "90000",
                                       "employment_type": "full_time"}).json()["results"]
    assert [p.title for p in stored] == [p["title"] for p in listed] == ["Python developer 1"]


def test_a_null_filter_is_a_400_and_put_takes_flat_filters_too(api, team):
    null = _create(api, team, filters={"remote": None, "company": "acme"})
    assert null.status_code == 400 and list(null.json()["filters"]) == ["remote"]
    created = _create(api, team, filters={"company": "acme"})
    put = api.put(f"{URL}{created.json()['id']}", {"team": team.pk, "keyword": "rust", "tags": "cli"}, format="json")
    assert put.status_code == 200, put.content
    assert put.json()["filters"] == {"company": "acme", "tags": ["cli"]}
