"""The Himalayas adapter against a local server serving the board's recorded response shape (real HTTP)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.scraping_app.conftest import Reply, adapter_fetch, fixture_json

pytestmark = pytest.mark.usefixtures("fast_http")


def test_himalayas_pages_by_offset_and_reads_epoch_seconds(board):
    envelope = fixture_json("himalayas-2.json")
    extra = fixture_json("himalayas-3.json")

    def reply(query):
        offset = int(query["offset"])
        jobs = envelope["jobs"] if offset == 0 else extra[:1]
        return Reply({"totalCount": 4, "offset": offset, "limit": 3, "jobs": jobs})

    url = board.add("/jobs/api", reply)
    result, _ = adapter_fetch("himalayas", url, page_size=3)
    assert [hit.query["offset"] for hit in board.seen] == ["0", "3"]
    assert len(result.postings) == 4
    first = result.postings[0]
    assert first.company == "Nymphis Technologies" and first.is_remote
    assert first.posted_at == datetime.fromtimestamp(1781591469, tz=UTC)
    assert "Canada" in first.location


def _envelope(jobs: list, *, offset: int, total: int | None) -> dict:
    body = {"offset": offset, "limit": len(jobs), "jobs": jobs}
    if total is not None:
        body["totalCount"] = total
    return body


def _fresh(jobs: list, tag: str) -> list:
    return [{**job, "guid": f"{job['guid']}#{tag}"} for job in jobs]


def test_himalayas_keeps_logo_countries_seniority_and_expiry(board):
    jobs = fixture_json("himalayas-2.json")["jobs"] + fixture_json("himalayas-3.json")
    url = board.add("/jobs/api", _envelope(jobs, offset=0, total=len(jobs)))
    result, _ = adapter_fetch("himalayas", url)
    first, oracle, remote, ritchie, acumatica, adobe = result.postings
    assert first.company_logo_url == ""  # "" in the recording
    assert oracle.company_logo_url == "https://cdn-images.himalayas.app/rvubq29f0yjjt7n46a5q6zyeu6tb"
    assert first.other_locations == ["Australia", "Canada", "Germany", "India", "Netherlands", "United Kingdom",
                                     "United States"]
    assert oracle.other_locations == [] and oracle.location == "United States"  # one country: it is the location
    assert [p.seniority for p in result.postings] == ["senior", "senior", "senior", "senior", "director", "mid"]
    assert first.expires_at == datetime.fromtimestamp(1786775468, tz=UTC)
    assert adobe.expires_at == datetime.fromtimestamp(1777035110, tz=UTC)


def test_himalayas_prefers_the_titles_level_among_the_boards_levels(board):
    jobs = fixture_json("himalayas-2.json")["jobs"]
    jobs[0]["seniority"] = ["Mid-level", "Senior"]  # "Remote Java Architect": principal by its title, not listed
    jobs[1]["seniority"] = ["Mid-level", "Senior", "Manager"]  # "Principal Platform ...": not listed either
    jobs[2]["seniority"] = ["Mid-level", "Senior"]  # "Senior Backend Engineer (Elixir)": senior is listed
    url = board.add("/jobs/api", _envelope(jobs, offset=0, total=3))
    result, _ = adapter_fetch("himalayas", url)
    assert [p.seniority for p in result.postings] == ["mid", "mid", "senior"]


def test_himalayas_sanitises_hostile_values(board):
    jobs = fixture_json("himalayas-2.json")["jobs"]
    jobs[0].update(companyLogo="javascript:alert(document.cookie)", expiryDate=1e300, seniority="Wizard",
                   locationRestrictions=[f"Country {n}" for n in range(1000)])
    jobs[1].update(companyLogo='https://cdn.example/a.png" onerror="alert(1)', expiryDate="never",
                   seniority=[{"level": "Senior"}, 7])
    jobs[2].update(companyLogo="https://" + "a" * 2000 + ".png", seniority="Senior")
    url = board.add("/jobs/api", _envelope(jobs, offset=0, total=3))
    result, _ = adapter_fetch("himalayas", url)
    assert [p.company_logo_url for p in result.postings] == ["", "", ""]
    assert [p.expires_at for p in result.postings[:2]] == [None, None]
    assert [p.seniority for p in result.postings] == ["", "", "senior"]
    assert len(result.postings[0].other_locations) == 50


def test_himalayas_reads_deeper_than_it_did_up_to_totalcount(board):
    jobs = fixture_json("himalayas-2.json")["jobs"] + fixture_json("himalayas-3.json")  # 6 distinct jobs
    total = 6 * 12  # 12 pages of 6; the old reader stopped at 5 pages (or 2, as the demo set it)

    def reply(query):
        offset = int(query["offset"])
        return Reply(_envelope(_fresh(jobs, str(offset)) if offset < total else [], offset=offset, total=total))

    url = board.add("/jobs/api", reply)
    result, fetcher = adapter_fetch("himalayas", url, page_size=6)
    assert [hit.query["offset"] for hit in board.seen] == [str(6 * n) for n in range(12)]
    assert fetcher.requests == 12 and len(result.postings) == 72 and result.notes == []  # totalCount reached


def test_himalayas_stops_at_max_pages_and_says_so(board):
    jobs = fixture_json("himalayas-2.json")["jobs"]
    url = board.add("/jobs/api", lambda q: Reply(_envelope(_fresh(jobs, q["offset"]), offset=int(q["offset"]),
                                                           total=95217)))
    result, fetcher = adapter_fetch("himalayas", url, page_size=3)
    assert fetcher.requests == 30 and len(result.postings) == 90  # the default max_pages: 30
    assert result.notes == ["stopped at max_pages (30) with 90 of 100 matches; the board has more "
                            "(raise max_pages in the source's params to read deeper)"]
    result, fetcher = adapter_fetch("himalayas", url, page_size=3, max_pages=4)
    assert fetcher.requests == 4 and "max_pages (4)" in result.notes[0]


def test_himalayas_next_offset_follows_what_the_board_sent(board):
    jobs = fixture_json("himalayas-2.json")["jobs"]

    def reply(query):  # the board sends 2 a page whatever we ask for
        offset = int(query["offset"])
        return Reply(_envelope(_fresh(jobs[:2], query["offset"]) if offset < 6 else [], offset=offset, total=6))

    url = board.add("/jobs/api", reply)
    result, _ = adapter_fetch("himalayas", url)
    assert [hit.query["offset"] for hit in board.seen] == ["0", "2", "4"]
    assert len(result.postings) == 6


def test_himalayas_without_totalcount_stops_at_a_short_page(board):
    jobs = fixture_json("himalayas-2.json")["jobs"]
    url = board.add("/jobs/api", lambda q: Reply(_envelope(_fresh(jobs if q["offset"] == "0" else jobs[:1],
                                                                  q["offset"]), offset=int(q["offset"]), total=None)))
    result, fetcher = adapter_fetch("himalayas", url, page_size=3)
    assert fetcher.requests == 2 and len(result.postings) == 4


def test_himalayas_stops_when_pages_repeat(board):
    jobs = fixture_json("himalayas-2.json")["jobs"]
    url = board.add("/jobs/api", lambda q: Reply(_envelope(jobs, offset=0, total=95217)))  # offset ignored
    result, fetcher = adapter_fetch("himalayas", url, page_size=3, max_pages=1000)
    assert fetcher.requests == 2 and len(result.postings) == 3
    assert result.notes == ["page 2 repeated earlier items only; stopped paging"]
