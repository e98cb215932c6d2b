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


def _with_id(item: dict, job_id: str) -> dict:
    return {**copy.deepcopy(item), "id": job_id}


def test_lever_keeps_all_locations_but_the_primary_one(board):
    page = fixture_json("lever-2.json")
    assert [item["categories"]["allLocations"] for item in page] == [["New York, NY"], ["London"]]
    page[1]["categories"]["allLocations"] = ["London", "Stockholm", "Remote - EMEA", "london"]
    url = board.add("/v0/postings/spotify", page)
    result, _ = adapter_fetch("lever", url)
    assert [p.other_locations for p in result.postings] == [[], ["Stockholm", "Remote - EMEA"]]


def test_lever_lists_and_additional_become_requirement_sections_of_plain_text(board):
    # The recorded postings were cut down without `lists`/`additional`; these follow Lever's documented shape:
    # lists[] = {text: the heading, content: "unstyled HTML of list elements"}, additional = closing HTML.
    item = fixture_json("lever-2.json")[0]
    item["lists"] = [
        {"text": "What You'll Do", "content": "<li>Own the <b>AP</b> close</li><li>Reconcile &amp; report</li>"},
        {"text": " Who You Are ", "content": "<li>3+ years in AP<script>alert(1)</script></li><li> </li>"
                                             "<li><a href=\"javascript:x()\">Excel</a> &lt;expert&gt;</li>"},
        {"text": "Empty", "content": ""},
        "not an object",
    ]
    item["additional"] = "<p>Spotify is an equal opportunity employer.</p><p>Apply by <i>Friday</i>.</p>"
    url = board.add("/v0/postings/spotify", [item])
    result, _ = adapter_fetch("lever", url)
    assert result.postings[0].requirements == [
        {"title": "What You'll Do", "items": ["Own the AP close", "Reconcile & report"]},
        {"title": "Who You Are", "items": ["3+ years in AP", "Excel <expert>"]},
        {"title": "Additional information",
         "items": ["Spotify is an equal opportunity employer.", "Apply by Friday."]},
    ]
    item["additionalPlain"] = "Plain closing text.\n\nSecond line."  # preferred over the HTML when present
    url = board.add("/v0/postings/spotify", [item])
    result, _ = adapter_fetch("lever", url)
    assert result.postings[0].requirements[-1] == {"title": "Additional information",
                                                   "items": ["Plain closing text.", "Second line."]}


def test_lever_caps_hostile_requirement_sections(board):
    item = fixture_json("lever-2.json")[0]
    item["lists"] = [{"text": "T" * 999, "content": "".join(f"<li>{'x' * 1200}{n}</li>" for n in range(60))}
                     for _ in range(30)]
    item["additional"] = {"not": "html"}
    url = board.add("/v0/postings/spotify", [item])
    result, _ = adapter_fetch("lever", url)
    sections = result.postings[0].requirements
    assert len(sections) == 20 and all(len(section["items"]) == 50 for section in sections)
    assert len(sections[0]["title"]) == 200 and all(len(entry) == 1000 for entry in sections[0]["items"])


def test_lever_stops_at_max_pages_with_a_note(board):
    page = fixture_json("lever-2.json")
    url = board.add("/v0/postings/spotify", lambda q: Reply([_with_id(item, f"{q['skip']}-{n}")
                                                            for n, item in enumerate(page)]))
    result, fetcher = adapter_fetch("lever", url, page_size=2, max_pages=3)
    assert [hit.query["skip"] for hit in board.seen] == ["0", "2", "4"]
    assert fetcher.requests == 3 and len(result.postings) == 6
    assert result.notes and "max_pages (3)" in result.notes[0]


def test_lever_reads_ten_pages_by_default(board):
    page = fixture_json("lever-2.json")
    url = board.add("/v0/postings/spotify", lambda q: Reply([_with_id(item, f"{q['skip']}-{n}")
                                                            for n, item in enumerate(page)]))
    _, fetcher = adapter_fetch("lever", url, page_size=2)
    assert fetcher.requests == 10


def test_lever_stops_when_a_board_ignores_skip(board):
    url = board.add("/v0/postings/spotify", fixture_json("lever-2.json"))  # the same full page every time
    result, fetcher = adapter_fetch("lever", url, page_size=2, max_pages=50)
    assert fetcher.requests == 2 and len(result.postings) == 2
    assert result.notes == ["page 2 repeated earlier items only; stopped paging"]
