"""The Lever adapter against a local server serving the board's recorded response shape (real HTTP)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tests.scraping_app.conftest import Reply, adapter_fetch, fixture_json

pytestmark = pytest.mark.usefixtures("fast_http")


def test_lever_pages_with_skip_and_limit_and_maps_salary(board):
    page = fixture_json("lever-2.json")
    second = copy.deepcopy(page[:1])
    second[0]["id"] = "third-posting"
    url = board.add("/v0/postings/spotify",
                    lambda q: Reply(
                        page if q["skip"] == "0" else second))
    result, fetcher = adapter_fetch("lever", url, page_size=2)
    assert [(hit.query["skip"], hit.query["limit"]) for hit in board.seen] == [("0", "2"), ("2", "2")]
    assert fetcher.requests == 2 and len(result.postings) == 3
    first = result.postings[0]
    assert first.title == "Accounts Payable Analyst" and first.company == "spotify"
    assert (first.salary_min, first.salary_max, first.salary_currency, first.salary_period) == (
        Decimal(66189), Decimal(94556), "USD", "year")
    assert first.posted_at == datetime.fromtimestamp(1778529611.285, tz=UTC)
    assert first.employment_type == "Permanent" and first.is_remote is False
