"""GET /api/v1/jobs shows one posting per real job with its other sources; ?duplicates=true shows every copy."""

from __future__ import annotations

import csv
import io

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
JOBS = "/api/v1/jobs"
TEXT = ("Own the payment services that move money for our customers, in production, with code review, mentoring "
        "and planning with product every quarter.")


@pytest.fixture(autouse=True)
def _local_throttle_cache(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "dedupe-api-tests"}}
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def api():
    user = get_user_model().objects.create(username="searcher")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {Token.objects.create(user=user).key}")
    return client


@pytest.fixture
def copies():
    """One job on three boards, and another job on one."""
    variants = [("Acme", "Senior Backend Engineer", "Berlin"), ("Acme Inc.", "Sr. Back-end Engineer", "Berlin, DE"),
                ("Acme GmbH", "Senior Backend Engineer (m/w/d)", "Berlin, Germany")]
    boards = []
    for n, (company, title, location) in enumerate(variants):
        boards.append(make_source("sample", name=f"board {n}"))
        postings_upsert(source=boards[-1], postings=[PostingData(
            "1", title, company=company, location=location, description_text=TEXT, url=f"https://b{n}.test/1",
            apply_url=f"https://apply.test/{n}")])
    postings_upsert(source=boards[0], postings=[PostingData("2", "Designer", company="Acme", description_text=TEXT)])
    return [JobPosting.objects.get(source=board, source_job_id="1") for board in boards]


def test_the_list_shows_one_posting_per_job_with_its_other_sources(api, copies):
    canonical, *others = copies
    body = api.get(JOBS).json()
    assert body["count"] == 2
    by_id = {row["id"]: row for row in body["results"]}
    assert set(by_id) == {canonical.pk, JobPosting.objects.get(source_job_id="2").pk}
    assert by_id[canonical.pk]["duplicate_of"] is None
    assert by_id[canonical.pk]["other_sources"] == [
        {"id": other.pk, "source": other.source.name, "url": other.url, "apply_url": other.apply_url}
        for other in others]


def test_duplicates_true_lists_every_copy(api, copies):
    body = api.get(f"{JOBS}?duplicates=true").json()
    assert body["count"] == 4
    rows = {row["id"]: row for row in body["results"]}
    assert [rows[copy.pk]["duplicate_of"] for copy in copies] == [None, copies[0].pk, copies[0].pk]
    assert api.get(f"{JOBS}?duplicates=false").json()["count"] == 2


@pytest.mark.parametrize("value", ["maybe", "", "2"])
def test_a_bad_duplicates_value_is_a_400(api, copies, value):
    response = api.get(f"{JOBS}?duplicates={value}")
    assert response.status_code == 400 and "duplicates" in response.json()


def test_the_detail_shows_duplicate_of_and_other_sources(api, copies):
    canonical, copy, _ = copies
    assert api.get(f"{JOBS}/{copy.pk}").json()["duplicate_of"] == canonical.pk
    detail = api.get(f"{JOBS}/{canonical.pk}").json()
    assert detail["duplicate_of"] is None and len(detail["other_sources"]) == 2


def test_other_sources_cost_one_query_per_page(api, copies, settings):
    for n in range(3, 13):  # ten more jobs, each with a copy
        a, b = make_source("sample", name=f"a{n}"), make_source("sample", name=f"b{n}")
        for board in (a, b):
            postings_upsert(source=board, postings=[PostingData("1", f"Role {n}", company="Beta",
                                                                description_text=TEXT)])
    with CaptureQueriesContext(connection) as queries:
        body = api.get(JOBS).json()
    assert body["count"] == 12 and all(len(row["other_sources"]) == 1 for row in body["results"]
                                       if row["title"].startswith("Role"))
    copies_reads = [q for q in queries.captured_queries if '"duplicate_of_id" IN' in q["sql"]]
    assert len(copies_reads) == 1


def test_the_csv_export_has_other_sources(api, copies):
    response = api.get(f"{JOBS}?format=csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 2
    canonical = next(row for row in rows if row["id"] == str(copies[0].pk))
    assert canonical["other_sources"] == "https://b1.test/1 https://b2.test/1"
