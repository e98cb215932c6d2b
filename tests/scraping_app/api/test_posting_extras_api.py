"""What the boards publish beyond the basics, in the API: the list shows the logo, the detail everything, and the
list still selects only what it shows (one query for the page, no per-row loads)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from scraping_app.models import JobPosting
from scraping_app.services.postings import postings_upsert
from scraping_app.sources.base import PostingData
from tests.scraping_app.conftest import make_source

pytestmark = pytest.mark.django_db
EXTRAS = {"company_logo_url": "https://cdn.example/acme.png", "other_locations": ["Hamburg", "Remote (DE)"],
          "expires_at": datetime(2027, 1, 31, 12, 0, tzinfo=UTC),
          "requirements": [{"title": "What you bring", "items": ["Python", "SQL"]}]}


@pytest.fixture(autouse=True)
def _local_throttle_cache(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "posting-extras-tests"}}
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def api():
    user = get_user_model().objects.create(username="reader")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {Token.objects.create(user=user).key}")
    return client


@pytest.fixture
def posting():
    source = make_source("sample", name="Sample")
    postings_upsert(source=source, postings=[PostingData("1", "Python developer", location="Berlin", **EXTRAS),
                                             PostingData("2", "Go developer")])
    return JobPosting.objects.get(source_job_id="1")


def test_the_list_shows_the_logo_and_selects_only_its_fields(api, posting):
    with CaptureQueriesContext(connection) as queries:
        response = api.get("/api/v1/jobs?q=developer&sort=recent")  # one read (relevance: two tiers on PG)
    assert response.status_code == 200, response.content
    rows = {row["source_job_id"]: row for row in response.json()["results"]}
    assert rows["1"]["company_logo_url"] == "https://cdn.example/acme.png" and rows["2"]["company_logo_url"] == ""
    assert not {"other_locations", "requirements", "expires_at"} & set(rows["1"])
    posting_selects = [q["sql"] for q in queries.captured_queries if "scraping_app_jobposting" in q["sql"]]
    # company_logo_url is in POSTING_LIST_FIELDS: no deferred load per row; the detail's JSON lists are not read
    assert len([sql for sql in posting_selects if '"company_logo_url"' in sql.split("FROM")[0]]) == 1
    assert not any('"requirements"' in sql.split("FROM")[0] for sql in posting_selects)


def test_the_detail_shows_every_extra(api, posting):
    data = api.get(f"/api/v1/jobs/{posting.pk}").json()
    assert {key: data[key] for key in EXTRAS} == {
        "company_logo_url": "https://cdn.example/acme.png", "other_locations": ["Hamburg", "Remote (DE)"],
        "expires_at": "2027-01-31T12:00:00Z", "requirements": [{"title": "What you bring", "items": ["Python", "SQL"]}]}


def test_the_admin_shows_the_extras_read_only(admin_client, posting):
    response = admin_client.get(f"/admin/scraping_app/jobposting/{posting.pk}/change/")
    assert response.status_code == 200
    page = response.content.decode()
    for text in ("https://cdn.example/acme.png", "Hamburg", "What you bring"):
        assert text in page
    assert 'name="company_logo_url"' not in page and 'name="requirements"' not in page  # no inputs: read-only
