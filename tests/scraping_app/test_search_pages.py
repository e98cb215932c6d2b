"""Pages of the postings list read by keyset segments and, on PostgreSQL, relevance read tier by tier
(selectors.postings_page): every page in order, nothing twice, nothing left out, undated postings last, forwards
and backwards, against the order the whole queryset sorts in."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from scraping_app import selectors
from scraping_app.api.pagination import cursor_decode, cursor_encode
from scraping_app.models import JobPosting
from tests.scraping_app.conftest import make_source

JOBS = "/api/v1/jobs"


@pytest.fixture(autouse=True)
def _local_throttle_cache(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "search-pages-tests"}}
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def store(db):
    """30 postings: "python" in the title of every third, in the description of the others; some share a posting
    date; every fifth has none."""
    source = make_source("sample", name="Sample")
    now = timezone.now().replace(microsecond=0)
    for number in range(30):
        in_title = number % 3 == 0
        posted = None if number % 5 == 4 else now - timedelta(hours=number // 2)  # pairs share a date
        JobPosting.objects.create(
            source=source, source_job_id=f"p{number}", title="Python engineer" if in_title else "Backend engineer",
            company="Acme", description_text="We write python." if not in_title else "Services.",
            posted_at=posted, first_seen_at=now, last_seen_at=now, fingerprint=f"p{number}")
    return source


def walk(key, filters: dict, size: int) -> tuple[list[str], list[str]]:
    """Every page forwards, then every page backwards from the last row: the job ids each way."""
    queryset = selectors.postings_search(**filters)
    forwards, values = [], None
    while True:
        rows = selectors.postings_page(queryset=queryset, key=key, size=size, values=values, filters=filters)
        forwards += [row.source_job_id for row in rows]
        if len(rows) < size:
            break
        values = [getattr(rows[-1], name) for name, _ in key.parts]
    row = _last_row(queryset, key, filters)
    values = [getattr(row, name) for name, _ in key.parts]
    backwards = [row.source_job_id]
    while True:
        rows = selectors.postings_page(queryset=queryset, key=key, size=size, values=values, backwards=True,
                                       filters=filters)
        backwards += [row.source_job_id for row in rows]
        if len(rows) < size:
            break
        values = [getattr(rows[-1], name) for name, _ in key.parts]
    return forwards, list(reversed(backwards))


def _last_row(queryset, key, filters):
    rows = list(selectors.postings_iterate(queryset=queryset, key=key, chunk_size=7, filters=filters))
    return rows[-1]


@pytest.mark.django_db
class TestPagesCoverTheListInOrder:
    @pytest.mark.parametrize("sort", ["recent", "salary"])
    def test_keyset_sorts(self, store, sort):
        key = selectors.postings_sort_key(sort=sort, text=None)
        whole = [p.source_job_id for p in selectors.postings_search(sort=sort)]
        for size in (1, 4, 7, 30):
            assert walk(key, {"sort": sort}, size) == (whole, whole)

    def test_undated_postings_come_last(self, store):
        rows = list(selectors.postings_search(sort="recent"))
        dated = [row.posted_at is not None for row in rows]
        assert dated == sorted(dated, reverse=True)

    @pytest.mark.parametrize("text", ["python", "python -services", "engineer"])
    def test_relevance(self, store, text):
        key = selectors.postings_sort_key(sort=None, text=text)
        whole = [p.source_job_id for p in selectors.postings_search(q=text)]
        assert whole  # the fixture matches each query
        for size in (1, 4, 7, 30):
            assert walk(key, {"q": text}, size) == (whole, whole)

    def test_relevance_on_postgresql_is_title_matches_first_then_newest(self, store):
        if connection.vendor != "postgresql":
            pytest.skip("SQLite ranks by bm25 (SORT_KEYS['relevance'])")
        rows = list(selectors.postings_page(queryset=selectors.postings_search(q="python"),
                                            key=selectors.RELEVANCE_TIERED, size=100, filters={"q": "python"}))
        tiers = [row.tier for row in rows]
        assert tiers == sorted(tiers, reverse=True) and set(tiers) == {0, 1}
        for tier in (0, 1):
            dated = [row.posted_at for row in rows if row.tier == tier and row.posted_at is not None]
            assert dated == sorted(dated, reverse=True)
        titles = {row.title for row in rows if row.tier == 1}
        assert titles == {"Python engineer"}


@pytest.mark.django_db
class TestTheCursor:
    def test_a_relevance_cursor_carries_its_tier_and_a_forged_tier_is_refused(self, store):
        if connection.vendor != "postgresql":
            pytest.skip("the tiered key is PostgreSQL's")
        key = selectors.RELEVANCE_TIERED
        row = selectors.postings_page(queryset=selectors.postings_search(q="python"), key=key, size=1,
                                      filters={"q": "python"})[0]
        raw = cursor_encode(key=key, row=row, backwards=False)
        assert cursor_decode(raw=raw, key=key)[0] == [1, row.posted_at, row.id]
        from django.core import signing
        from rest_framework.exceptions import NotFound

        from scraping_app.api.pagination import CURSOR_SALT
        for tier in (2, None, True, "1"):
            forged = signing.dumps({"s": "relevance", "k": [tier, None, 1], "b": False}, salt=CURSOR_SALT)
            with pytest.raises(NotFound):
                cursor_decode(raw=forged, key=key)

    def test_the_api_pages_relevance_both_ways(self, store, django_user_model):
        client = APIClient()
        client.force_authenticate(django_user_model.objects.create(username="pager"))
        seen, link = [], f"{JOBS}?q=python&page_size=4"
        while link:
            body = client.get(link).json()
            seen += [p["source_job_id"] for p in body["results"]]
            link, previous = body["next"], body["previous"]
        assert seen == [p.source_job_id for p in selectors.postings_search(q="python")]
        back = []
        while previous:
            body = client.get(previous).json()
            back = [p["source_job_id"] for p in body["results"]] + back
            previous = body["previous"]
        assert back + seen[len(back):] == seen


@pytest.mark.django_db
class TestTheCount:
    def test_exact_below_the_cap(self, store, settings):
        settings.POSTINGS_COUNT_CAP = 100
        count = selectors.postings_count(queryset=selectors.postings_search(q="python"), cap=100)
        assert (count.count, count.capped, count.estimated) == (30, False, False)

    def test_capped_when_counted(self, store):
        count = selectors.postings_count(queryset=selectors.postings_search(q="python"), cap=5)
        assert (count.count, count.capped) == (5, True)

    def test_estimated_only_with_statistics_and_far_above_the_cap(self, store):
        if connection.vendor != "postgresql":
            pytest.skip("estimates are PostgreSQL's planner's")
        # Before ANALYZE the planner guesses from the table's size: the count is made.
        with connection.cursor() as cursor:
            cursor.execute("SELECT reltuples FROM pg_class WHERE oid = 'scraping_app_jobposting'::regclass")
            analyzed = cursor.fetchone()[0] >= 0
        if not analyzed:
            assert not selectors.postings_count(queryset=selectors.postings_search(), cap=2).estimated
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE scraping_app_jobposting")
        many = selectors.postings_count(queryset=selectors.postings_search(), cap=2)  # 30 rows > 3 x 2
        assert (many.count, many.capped, many.estimated) == (2, True, True)
        few = selectors.postings_count(queryset=selectors.postings_search(q="python"), cap=20)  # 30 < 3 x 20
        assert (few.count, few.capped, few.estimated) == (20, True, False)


@pytest.mark.django_db
def test_a_deep_page_is_a_range_the_index_can_start_at(store):
    """The page after a cursor is `posted_at <= cursor AND (...)`, a bound the recent index starts at, with the
    undated rows as a segment of their own: never `... OR posted_at IS NULL`, which the database can only filter
    while walking the index from its first row, so page 500 would cost 500 pages."""
    row = list(selectors.postings_search(sort="recent"))[10]
    dated, undated = selectors.postings_keyset_segments(
        queryset=selectors.postings_search(sort="recent"), key=selectors.SORT_KEYS["recent"],
        values=[row.posted_at, row.id])
    where = str(dated.query).split(" WHERE ", 1)[1].split(" ORDER BY ")[0]
    conjuncts = where.replace('"scraping_app_jobposting".', "")
    assert '"posted_at" <= ' in conjuncts and "IS NULL" not in conjuncts.replace('"duplicate_of_id" IS NULL', "")
    assert '"posted_at" IS NULL' in str(undated.query)
    assert [p.id for p in dated] + [p.id for p in undated] == [
        p.id for p in list(selectors.postings_search(sort="recent"))[11:]]
