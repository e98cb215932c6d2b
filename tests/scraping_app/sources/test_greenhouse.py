"""The Greenhouse adapter against a local server serving the board's recorded response shape (real HTTP)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.scraping_app.conftest import adapter_fetch, fixture_json

pytestmark = pytest.mark.usefixtures("fast_http")


def test_greenhouse_unescapes_entity_escaped_html_and_trims_locations(board):
    url = board.add("/v1/boards/airbnb/jobs", fixture_json("greenhouse-1.json"))
    result, _ = adapter_fetch("greenhouse", url)
    assert board.seen[0].query == {"content": "true"}
    first = result.postings[0]
    assert first.source_job_id == "7995153" and first.company == "Airbnb"
    assert first.location == "Berlin, Germany"
    assert "&lt;" not in first.description_text and "<" not in first.description_text
    assert first.posted_at == datetime(2026, 6, 10, 12, 50, 56, tzinfo=UTC)  # -04:00 to UTC
    assert first.tags == ["Sales"]


def test_greenhouse_company_falls_back_to_the_board_token(board):
    data = fixture_json("greenhouse-3.json")
    for job in data["jobs"]:
        job.pop("company_name")
    url = board.add("/v1/boards/acme/jobs", data)
    result, _ = adapter_fetch("greenhouse", url)
    assert {p.company for p in result.postings} == {"acme"}


def test_greenhouse_keeps_other_offices_and_the_application_deadline(board):
    data = fixture_json("greenhouse-3.json")
    data["jobs"][0]["application_deadline"] = "2026-12-31T23:59:00-05:00"
    data["jobs"][2]["offices"][0]["location"] = None  # then the office's name
    url = board.add("/v1/boards/acme/jobs", data)
    result, _ = adapter_fetch("greenhouse", url)
    assert [p.other_locations for p in result.postings] == [
        ["San Francisco, California, United States"],
        ["New York, New York, United States", "San Francisco, California, United States"],
        ["Backend Engineer 55"]]
    assert result.postings[0].expires_at == datetime(2027, 1, 1, 4, 59, tzinfo=UTC)
    assert result.postings[1].expires_at is None  # null in the recording


def test_greenhouse_leaves_out_the_office_that_is_the_location(board):
    url = board.add("/v1/boards/airbnb/jobs", fixture_json("greenhouse-1.json"))
    result, _ = adapter_fetch("greenhouse", url)
    assert [p.other_locations for p in result.postings] == [[], ["Beijing, China"]]  # Berlin is the location


def test_greenhouse_survives_offices_that_are_not_a_list(board):
    data = fixture_json("greenhouse-3.json")
    data["jobs"][0]["offices"] = 12
    data["jobs"][1]["offices"] = "Berlin"
    data["jobs"][2]["application_deadline"] = "soon"
    url = board.add("/v1/boards/acme/jobs", data)
    result, _ = adapter_fetch("greenhouse", url)
    assert [p.other_locations for p in result.postings[:2]] == [[], []]
    assert result.postings[2].expires_at is None
