"""The Arbeitnow adapter against a local server serving the board's recorded response shape (real HTTP)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from scraping_app.sources import SearchQuery
from tests.scraping_app.conftest import Reply, adapter_fetch, arbeitnow_endless, arbeitnow_page, fixture_json

pytestmark = pytest.mark.usefixtures("fast_http")


def test_arbeitnow_follows_pages_until_links_next_is_null(board):
    items = fixture_json("arbeitnow-1.json")["data"]
    url = board.add("/api/job-board-api", lambda q: {
        "1": Reply(arbeitnow_page(items[:10], has_next=True)),
        "2": Reply(arbeitnow_page(items[10:], has_next=False)),
    }[q["page"]])
    result, fetcher = adapter_fetch("arbeitnow", url, max_pages=5)
    assert [hit.query["page"] for hit in board.seen] == ["1", "2"]
    assert fetcher.requests == 2 and len(result.postings) == 20
    first = result.postings[0]
    assert first.source_job_id == "hr-manager-hr-generalist-stuttgart-78115"
    assert first.posted_at == datetime.fromtimestamp(1779021029, tz=UTC)
    assert first.location == "Stuttgart" and first.is_remote is False


def test_arbeitnow_stops_paging_once_the_limit_is_met(board):
    items = fixture_json("arbeitnow-1.json")["data"]
    url = board.add("/api/job-board-api", {"data": items, "links": {"next": "x"}, "meta": {}})
    result, fetcher = adapter_fetch("arbeitnow", url, SearchQuery(limit=5), max_pages=5)
    assert fetcher.requests == 1 and len(result.postings) == 5 and result.skipped == 15


def test_arbeitnow_job_types_split_into_employment_type_and_level(board):
    items = fixture_json("arbeitnow-1.json")["data"][:2] + fixture_json("arbeitnow-3.json")[:1]
    url = board.add("/api/job-board-api", arbeitnow_page(items, has_next=False))
    result, _ = adapter_fetch("arbeitnow", url)
    # ["geschäftsleitung"], ["Full-time permanent", "experienced"], ["Working student"]
    assert [(p.employment_type, p.seniority) for p in result.postings] == [
        ("", "director"), ("Full-time permanent", "mid"), ("Working student", "")]


def test_arbeitnow_reads_ten_pages_by_default_and_notes_when_max_pages_stops_it(board):
    items = fixture_json("arbeitnow-1.json")["data"][:3]
    url = board.add("/api/job-board-api", arbeitnow_endless(items))
    result, fetcher = adapter_fetch("arbeitnow", url)
    assert fetcher.requests == 10 and len(result.postings) == 30
    assert result.notes == ["stopped at max_pages (10) with 30 of 100 matches; the board has more "
                            "(raise max_pages in the source's params to read deeper)"]
    result, fetcher = adapter_fetch("arbeitnow", url, max_pages=2)
    assert fetcher.requests == 2 and "max_pages (2)" in result.notes[0]


def test_arbeitnow_reads_pages_until_the_limit_is_met_with_local_matches(board):
    items = fixture_json("arbeitnow-1.json")["data"]
    url = board.add("/api/job-board-api", arbeitnow_endless(items))
    result, fetcher = adapter_fetch("arbeitnow", url, SearchQuery(keyword="speechify", limit=30))
    per_page = sum(1 for item in items if "speechify" in item["company_name"].lower())  # 12 of 20
    assert fetcher.requests == -(-30 // per_page) and len(result.postings) == 30 and result.notes == []


def test_arbeitnow_stops_on_a_page_that_repeats_earlier_items(board):
    items = fixture_json("arbeitnow-1.json")["data"]
    pages = {"1": items[:10], "2": items[5:15], "3": items[:10]}  # page 2 shifted (new jobs posted): it goes on
    url = board.add("/api/job-board-api", lambda q: Reply(arbeitnow_page(pages.get(q["page"], items[10:]),
                                                                         has_next=True)))
    result, fetcher = adapter_fetch("arbeitnow", url, max_pages=50)
    assert [hit.query["page"] for hit in board.seen] == ["1", "2", "3"]
    assert len(result.postings) == 15  # each id once
    assert result.notes == ["page 3 repeated earlier items only; stopped paging"]


def test_arbeitnow_stops_at_an_empty_page_even_with_a_next_link(board):
    items = fixture_json("arbeitnow-1.json")["data"]
    url = board.add("/api/job-board-api", lambda q: Reply(arbeitnow_page(items if q["page"] == "1" else [],
                                                                         has_next=True)))
    result, fetcher = adapter_fetch("arbeitnow", url, max_pages=50)
    assert fetcher.requests == 2 and len(result.postings) == 20 and result.notes == []
