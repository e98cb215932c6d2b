"""GET /api/v1/jobs: the filters users expect, the 400s, keyset pages by cursor, and the streamed CSV export."""

from __future__ import annotations

import csv
import io
import tracemalloc
from datetime import timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlparse

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from scraping_app.models import JobPosting
from scraping_app.services.postings import postings_upsert
from scraping_app.sources.base import PostingData
from tests.scraping_app.conftest import make_source

pytestmark = pytest.mark.django_db
JOBS = "/api/v1/jobs"


@pytest.fixture(autouse=True)
def _local_throttle_cache(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "search-api-tests"}}
    from django.core.cache import cache

    cache.clear()  # throttle history from earlier tests


@pytest.fixture
def api():
    user = get_user_model().objects.create(username="searcher")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {Token.objects.create(user=user).key}")
    return client


@pytest.fixture
def source():
    return make_source("sample", name="Sample")


def upsert(source, *postings: PostingData) -> None:
    postings_upsert(source=source, postings=list(postings))


@pytest.fixture
def store(source):
    now = timezone.now()
    upsert(source,
           PostingData("1", "Senior Python Developer", company="Acme Inc.", location="Berlin, Germany",
                       employment_type="Full-Time", salary_min=Decimal("90000"), salary_max=Decimal("110000"),
                       salary_currency="EUR", salary_period="year", tags=["Python", "Django"],
                       description_text="Django and PostgreSQL.", posted_at=now - timedelta(hours=2)),
           PostingData("2", "Junior Go Developer", company="ACME GmbH", location="Remote (EU)", is_remote=True,
                       employment_type="FULL_TIME", salary_min=Decimal("30"), salary_currency="USD",
                       salary_period="hour", tags=["go"], posted_at=now - timedelta(hours=30)),
           PostingData("3", "Data Engineer", company="Initech", location="Paris", employment_type="contract",
                       salary_min=Decimal("5000"), salary_max=Decimal("6000"), salary_currency="GBP",
                       salary_period="month", tags=["python", "spark"], description_text="Python and Spark.",
                       posted_at=now - timedelta(days=5)),
           PostingData("4", "Staff Engineer, Platform", company="Globex", location="New York",
                       employment_type="Part time", description_text="=cmd|' /C calc'!A0",
                       posted_at=now - timedelta(days=9)),
           PostingData("5", "Engineering Intern", company="Acme", location="Remote", is_remote=True,
                       employment_type="Internship"))
    return {p.source_job_id: p for p in JobPosting.objects.all()}


def ids(api, query: str = "") -> list[str]:
    response = api.get(f"{JOBS}?{query}")
    assert response.status_code == 200, response.content
    return [p["source_job_id"] for p in response.json()["results"]]


class TestFilters:
    def test_the_upsert_stores_the_normalised_fields(self, store):
        assert store["1"].employment_type_normalized == "full_time" and store["1"].seniority == "senior"
        assert store["2"].salary_annual_min == store["2"].salary_annual_max == Decimal("62400.00")
        assert store["3"].salary_annual_max == Decimal("91440.00")  # 6000 GBP x 12 x 1.27
        assert store["1"].salary_annual_max == Decimal("118800.00")  # 110000 EUR x 1.08

    def test_q_and_keyword(self, api, store):
        assert ids(api, "q=python") == ["1", "3"]  # the title match ranks first
        assert ids(api, "keyword=python") == ["1", "3"]
        assert ids(api, "q=python -django") == ["3"]
        assert sorted(ids(api, 'q="data engineer" or intern')) == ["3", "5"]
        assert ids(api, "q=engineering") == ["5"]  # whole words, no stemming: "engineer" is another word

    def test_location_and_remote(self, api, store):
        assert ids(api, "location=berlin") == ["1"]
        assert ids(api, "location=remote") == ["2", "5"]  # "remote" means is_remote
        assert sorted(ids(api, "remote=true")) == ["2", "5"]
        assert ids(api, "remote=false") == ["1", "3", "4"]

    def test_employment_type_in_one_vocabulary_and_any_spelling(self, api, store):
        assert ids(api, "employment_type=full_time") == ["1", "2"]
        assert ids(api, "employment_type=Full-Time") == ["1", "2"]
        assert ids(api, "employment_type=contract,part_time") == ["3", "4"]
        assert ids(api, "employment_type=internship") == ["5"]

    def test_salary_min_is_annual_in_the_base_currency(self, api, store):
        assert ids(api, "salary_min=100000") == ["1"]
        assert ids(api, "salary_min=60000") == ["1", "2", "3"]
        assert ids(api, "salary_min=0") == ["1", "2", "3"]  # postings without a salary never match

    def test_seniority_company_tags(self, api, store):
        assert ids(api, "seniority=senior") == ["1"]
        assert ids(api, "seniority=junior,staff") == ["2", "4"]
        assert ids(api, "company=acme") == ["1", "2", "5"]  # case-insensitive prefix
        assert ids(api, "company=ACME%20GmbH") == ["2"]
        assert ids(api, "tags=PYTHON") == ["1", "3"]
        assert ids(api, "tags=go,spark") == ["2", "3"]

    def test_posted_within_hours_and_hours_old(self, api, store):
        assert ids(api, "posted_within_hours=24") == ["1"]
        assert ids(api, "hours_old=48") == ["1", "2"]
        assert ids(api, "hours_old=48&posted_within_hours=24") == ["1"]  # both apply: the narrower wins

    def test_keyword_and_q_together_must_both_match(self, api, store):
        assert set(ids(api, "q=python&keyword=django")) == set(ids(api, "q=python django"))

    def test_sorts(self, api, store):
        assert ids(api) == ["1", "2", "3", "4", "5"]  # recent: undated last
        assert ids(api, "sort=salary") == ["1", "3", "2", "5", "4"]  # annual max, highest first; none last
        assert ids(api, "q=python&sort=recent") == ["1", "3"]
        assert ids(api, "sort=relevance") == ids(api)  # no text: relevance is recency

    def test_combined(self, api, store):
        assert ids(api, "q=engineer&remote=false&seniority=staff&company=glob") == ["4"]

    def test_only_the_listed_fields_are_selected(self, api, store):
        with CaptureQueriesContext(connection) as queries:
            assert ids(api, "q=python")
        selects = [q["sql"] for q in queries.captured_queries if "scraping_app_jobposting" in q["sql"]]
        assert selects and not any('"description_text"' in sql.split("FROM")[0] or '"raw"' in sql.split("FROM")[0]
                                   for sql in selects)


class TestBadInput:
    @pytest.mark.parametrize("query, field", [
        ("keywrod=python", "keywrod"), ("ordering=-posted_at", "ordering"), ("page=2", "page"),
        ("employment_type=fulltimeish", "employment_type"), ("employment_type=", "employment_type"),
        ("salary_min=lots", "salary_min"), ("salary_min=-1", "salary_min"), ("seniority=boss", "seniority"),
        ("hours_old=0", "hours_old"), ("posted_within_hours=x", "posted_within_hours"), ("sort=cheapest", "sort"),
        ("remote=maybe", "remote"), ("q=" + "x" * 501, "q"),
        ("tags=" + ",".join(f"t{i}" for i in range(21)), "tags"), ("page_size=0", "page_size"),
        ("page_size=501", "page_size"),
    ])
    def test_400_names_the_parameter(self, api, store, query, field):
        response = api.get(f"{JOBS}?{query}")
        assert response.status_code == 400, response.content
        assert field in response.json()

    def test_a_tampered_cursor_or_one_of_another_sort_is_a_404(self, api, store):
        cursor = _cursor(api.get(f"{JOBS}?page_size=1").json()["next"])
        assert api.get(f"{JOBS}?page_size=1&cursor={cursor[:-2]}xx").status_code == 404
        assert api.get(f"{JOBS}?page_size=1&sort=salary&cursor={cursor}").status_code == 404
        assert api.get(f"{JOBS}?page_size=1&cursor={cursor}").status_code == 200

    def test_an_error_answers_json_even_when_csv_was_asked_for(self, api, store):
        response = api.get(f"{JOBS}?format=csv&sort=nope")
        assert response.status_code == 400 and response.json() == {"sort": ['"nope" is not a valid choice.']}


def _cursor(link: str) -> str:
    return parse_qs(urlparse(link).query)["cursor"][0]


def walk(api, query: str) -> list[list[str]]:
    pages, link = [], f"{JOBS}?{query}"
    while link:
        body = api.get(link).json()
        pages.append([p["source_job_id"] for p in body["results"]])
        link = body["next"]
    return pages


class TestCursor:
    @pytest.fixture
    def ties(self, source):
        """23 postings; 20 share one posted_at (rows tie on the sort key), 3 are undated."""
        same = timezone.now().replace(microsecond=123456) - timedelta(days=1)
        upsert(source, *[PostingData(f"t{i:02}", f"Python role {i}", posted_at=same, salary_min=Decimal(1000 * (i % 4)
                                                                                                         or 1))
                         for i in range(20)],
               *[PostingData(f"u{i}", f"Python undated {i}") for i in range(3)])
        return list(JobPosting.objects.values_list("source_job_id", flat=True))

    @pytest.mark.parametrize("query", ["page_size=4", "page_size=5&sort=salary", "page_size=3&q=python",
                                       "page_size=6&q=python&sort=recent", "page_size=1&q=role"])
    def test_pages_neither_repeat_nor_miss_a_row_when_rows_tie(self, api, ties, query):
        pages = walk(api, query)
        rows = [row for page in pages for row in page]
        expected = 20 if "role" in query else len(ties)
        assert len(rows) == len(set(rows)) == expected
        size = int(parse_qs(query)["page_size"][0])
        assert all(len(page) == size for page in pages[:-1])
        single = api.get(f"{JOBS}?{query.replace(f'page_size={size}', 'page_size=500')}").json()["results"]
        assert rows == [p["source_job_id"] for p in single]  # the same order as one big page

    def test_previous_goes_back_to_the_same_pages(self, api, ties):
        first = api.get(f"{JOBS}?page_size=5").json()
        assert first["previous"] is None
        second = api.get(first["next"]).json()
        third = api.get(second["next"]).json()
        back = api.get(third["previous"]).json()
        assert [p["id"] for p in back["results"]] == [p["id"] for p in second["results"]]
        start = api.get(back["previous"]).json()
        assert [p["id"] for p in start["results"]] == [p["id"] for p in first["results"]]
        assert start["previous"] is None and start["next"]

    def test_the_count_is_capped_and_says_so(self, api, ties, settings):
        body = api.get(f"{JOBS}?page_size=2").json()
        assert (body["count"], body["count_capped"]) == (23, False)
        settings.POSTINGS_COUNT_CAP = 10
        body = api.get(f"{JOBS}?page_size=2").json()
        assert (body["count"], body["count_capped"]) == (10, True)
        assert set(body) == {"count", "count_capped", "count_estimated", "next", "previous", "results"}


def _csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


class TestCSV:
    def test_format_csv_streams_every_match_with_a_header(self, api, store):
        response = api.get(f"{JOBS}?format=csv&q=engineer")
        assert response.status_code == 200 and isinstance(response, StreamingHttpResponse)
        assert response["Content-Type"] == "text/csv; charset=utf-8"
        assert response["Content-Disposition"].startswith('attachment; filename="jobs-')
        rows = _csv_rows(response)
        header = rows[0]
        assert header[:3] == ["id", "title", "company"] and "salary_annual_max" in header
        assert sorted(row[header.index("source_job_id")] for row in rows[1:]) == ["3", "4"]

    def test_accept_text_csv_and_formula_cells_are_escaped(self, api, source, store):
        upsert(source, PostingData("evil", "=HYPERLINK(\"http://x\")", company="+1 evil", location="@SUM(A1)",
                                   tags=["-2+3"]))
        response = api.get(f"{JOBS}?q=hyperlink", HTTP_ACCEPT="text/csv")
        assert isinstance(response, StreamingHttpResponse)
        header, row = _csv_rows(response)
        cells = dict(zip(header, row, strict=True))
        assert cells["title"] == "'=HYPERLINK(\"http://x\")"
        assert (cells["company"], cells["location"], cells["tags"]) == ("'+1 evil", "'@SUM(A1)", "'-2+3")

    def test_the_export_is_read_in_chunks_not_all_at_once(self, api, source, settings):
        upsert(source, *[PostingData(f"c{i}", f"Role {i}") for i in range(1200)])
        response = api.get(f"{JOBS}?format=csv")
        with CaptureQueriesContext(connection) as queries:
            lines = iter(response.streaming_content)
            next(lines), next(lines)  # the header and the first row
            after_first = len(queries.captured_queries)
            rest = sum(1 for _ in lines)
        assert after_first == 2  # one chunk read so far (its rows, and their copies on other boards)
        assert rest == 1199 and len(queries.captured_queries) == 6  # 500 + 500 + 200, two queries each

    def test_a_20k_row_export_keeps_memory_flat(self, api, source):
        now = timezone.now()
        JobPosting.objects.bulk_create([
            JobPosting(source=source, source_job_id=f"m{i}", title=f"Role {i}", company="Co", location="Here",
                       description_text="d" * 3000, raw={"blob": "r" * 2000}, first_seen_at=now, last_seen_at=now,
                       posted_at=now - timedelta(minutes=i), fingerprint="f") for i in range(20_000)],
            batch_size=2000)
        response = api.get(f"{JOBS}?format=csv")
        tracemalloc.start()
        try:
            count = sum(1 for _ in response.streaming_content)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert count == 20_001
        assert peak < 8 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"  # all rows at once would be > 100 MB


def test_the_openapi_document_shows_the_cursor_page_and_the_filters(api):
    user = get_user_model().objects.create(username="docs", is_staff=True)
    client = APIClient()
    client.force_authenticate(user)
    schema = client.get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/jobs"]["get"]
    parameters = {p["name"] for p in operation["parameters"]}
    assert {"q", "keyword", "employment_type", "salary_min", "seniority", "company", "tags", "hours_old",
            "posted_within_hours", "sort", "cursor", "page_size"} <= parameters and "page" not in parameters
    page = operation["responses"]["200"]["content"]["application/json"]["schema"]
    page = schema["components"]["schemas"][page["$ref"].rsplit("/", 1)[1]] if "$ref" in page else page
    assert set(page["properties"]) == {"count", "count_capped", "count_estimated", "next", "previous", "results"}
