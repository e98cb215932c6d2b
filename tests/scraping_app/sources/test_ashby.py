"""The Ashby adapter against a local server serving the board's recorded response shape (real HTTP)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.scraping_app.conftest import adapter_fetch, fixture_json

pytestmark = pytest.mark.usefixtures("fast_http")


def test_ashby_maps_compensation_strips_titles_and_handles_null_is_remote(board):
    data = fixture_json("ashby-2.json")
    data["jobs"][1]["isRemote"] = None
    data["jobs"][1]["workplaceType"] = "Remote"
    url = board.add("/posting-api/job-board/ramp", data)
    result, _ = adapter_fetch("ashby", url, company="Ramp")
    assert board.seen[0].query == {"includeCompensation": "true"}
    first = result.postings[0]
    assert first.title == "Security Engineer, Cloud"
    assert (first.salary_min, first.salary_max, first.salary_period) == (Decimal(211400), Decimal(290600), "year")
    assert first.company == "Ramp" and first.is_remote is True
    assert result.postings[1].is_remote is True


def test_ashby_keeps_secondary_locations(board):
    url = board.add("/posting-api/job-board/ramp", fixture_json("ashby-2.json"))
    result, _ = adapter_fetch("ashby", url, company="Ramp")
    assert [p.other_locations for p in result.postings] == [
        ["Miami, FL", "Remote (US)", "Remote (Canada)"], ["San Francisco, CA"], []]


def test_ashby_caps_and_sanitises_hostile_secondary_locations(board):
    data = fixture_json("ashby-2.json")
    data["jobs"][0]["secondaryLocations"] = (
        ["not an object", {"location": None}, {"location": "  Miami,\n FL  "}, {"location": "miami, fl"},
         {"location": "New York, NY (HQ)"}, {"location": "x" * 5000}]
        + [{"location": f"City {n}"} for n in range(500)])
    data["jobs"][1]["secondaryLocations"] = {"location": "not a list"}
    url = board.add("/posting-api/job-board/ramp", data)
    result, _ = adapter_fetch("ashby", url, company="Ramp")
    first = result.postings[0].other_locations
    assert len(first) == 50  # at most 50
    assert first[:2] == ["Miami, FL", "x" * 300]  # trimmed, repeats and the primary location left out, 300 chars
    assert first[2:4] == ["City 0", "City 1"]
    assert result.postings[1].other_locations == []
