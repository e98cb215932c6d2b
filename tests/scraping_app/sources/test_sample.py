"""The offline sample board: paging, its per-page delay, the limit."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from scraping_app.sources import SearchQuery, source_class
from scraping_app.sources.http import Fetcher

pytestmark = pytest.mark.usefixtures("fast_http")


def test_sample_source_pages_with_delay_and_stops_at_the_limit():
    fetcher = Fetcher()
    started = datetime.now()
    result = source_class("sample")(params={"delay_seconds": 0.05, "page_size": 10}, fetcher=fetcher).fetch(
        SearchQuery(keyword="python", location="remote", limit=5))
    assert len(result.postings) == 5
    assert all(p.is_remote and "python" in (p.title + " ".join(p.tags)).lower() for p in result.postings)
    assert result.seen < 120  # stopped paging once it had 5
    assert (datetime.now() - started).total_seconds() >= 0.05


def test_sample_postings_carry_the_board_extras():
    result = source_class("sample")(params={"page_size": 200}, fetcher=Fetcher()).fetch(SearchQuery(limit=100))
    first = result.postings[0]
    assert first.company_logo_url == "https://example.com/sample-board/logos/fictional-freight.png"
    assert first.other_locations == ["Remote (Germany)", "Remote (France)"]
    assert first.expires_at is not None and first.expires_at > first.posted_at
    assert first.requirements[0]["title"] == "Requirements" and first.requirements[0]["items"]
    assert sum(1 for p in result.postings if p.company_logo_url) == 17  # every sixth of the first 100


def test_sample_file_extras_are_sanitised_and_its_seniority_normalised(tmp_path):
    path = tmp_path / "jobs.json"
    path.write_text(json.dumps({"jobs": [
        {"id": "a", "title": "Backend Engineer", "location": "Berlin", "seniority": "Mid-level",
         "company_logo_url": "javascript:alert(1)", "other_locations": ["Berlin", " Hamburg ", None],
         "requirements": [{"title": "Needs", "items": ["Go", 3, ""]}, {"title": "Empty", "items": []}, "x"]},
        {"id": "b", "title": "Backend Engineer", "seniority": "Wizard"},
    ]}))
    result = source_class("sample")(params={"path": str(path)}, fetcher=Fetcher()).fetch(SearchQuery(limit=10))
    first, second = result.postings
    assert (first.seniority, first.company_logo_url, first.other_locations, first.requirements) == (
        "mid", "", ["Hamburg"], [{"title": "Needs", "items": ["Go"]}])
    assert second.seniority == ""
