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
