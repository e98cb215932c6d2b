"""The Arbeitnow adapter against a local server serving the board's recorded response shape (real HTTP)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from scraping_app.sources import SearchQuery
from tests.scraping_app.conftest import Reply, adapter_fetch, arbeitnow_page, fixture_json

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
