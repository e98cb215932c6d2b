"""The Remotive adapter against a local server serving the board's recorded response shape (real HTTP)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from scraping_app.sources import SearchQuery
from scraping_app.sources.http import USER_AGENT
from tests.scraping_app.conftest import adapter_fetch, fixture_json

pytestmark = pytest.mark.usefixtures("fast_http")


def test_remotive_maps_fields_search_param_and_naive_dates_as_utc(board):
    url = board.add("/api/remote-jobs", {"0-legal-notice": "...", "job-count": 3,
                                         "jobs": fixture_json("remotive-2.json")})
    result, _ = adapter_fetch("remotive", url, SearchQuery(keyword="cloud", limit=10))
    assert board.seen[0].query == {"search": "cloud"}
    assert board.seen[0].headers["User-Agent"] == USER_AGENT
    first = result.postings[0]
    assert first.source_job_id == "2088634"
    assert first.company == "shopware AG"
    assert first.is_remote is True
    assert first.location == "Europe, Germany"
    assert first.posted_at == datetime(2026, 2, 19, 13, 3, 51, tzinfo=UTC)
    assert first.url.startswith("https://remotive.com/")
    assert "<p>" not in first.description_text and "Shopware" in first.description_text


def test_remotive_keeps_the_company_logo_and_only_http_urls(board):
    jobs = fixture_json("remotive-2.json")
    jobs[1]["company_logo_url"] = "javascript:alert(1)"  # hostile: falls back to `company_logo`
    jobs[2]["company_logo_url"] = jobs[2]["company_logo"] = "data:image/png;base64,AAAA"
    url = board.add("/api/remote-jobs", {"jobs": jobs})
    result, _ = adapter_fetch("remotive", url)
    assert [p.company_logo_url for p in result.postings] == [
        "https://remotive.com/job/2088634/logo", "https://remotive.com/job/2086826/logo", ""]
    # Remotive publishes no other locations, expiry, level or requirement sections.
    assert all(p.other_locations == [] and p.expires_at is None and p.requirements == [] and p.seniority == ""
               for p in result.postings)
