"""Each board adapter against a local server serving the board's recorded response shape (real HTTP)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from scraping_app.sources import SearchQuery, source_class
from scraping_app.sources.http import USER_AGENT, Fetcher
from tests.scraping.conftest import Reply, arbeitnow_page, fixture_json

pytestmark = pytest.mark.usefixtures("fast_http")

ALL = SearchQuery(limit=100)


def fetch(kind: str, url: str, query: SearchQuery = ALL, **params):
    fetcher = Fetcher()
    result = source_class(kind)(base_url=url, params=params, fetcher=fetcher).fetch(query)
    return result, fetcher


def test_remotive_maps_fields_search_param_and_naive_dates_as_utc(board):
    url = board.add("/api/remote-jobs", {"0-legal-notice": "...", "job-count": 3,
                                         "jobs": fixture_json("remotive-2.json")})
    result, _ = fetch("remotive", url, SearchQuery(keyword="cloud", limit=10))
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


def test_remoteok_skips_the_legal_notice_and_fixes_mojibake(board):
    jobs = fixture_json("remoteok-2.json")
    url = board.add("/api", [{"last_updated": 1771718404, "legal": "API Terms of Service: ..."}, *jobs])
    result, _ = fetch("remoteok", url)
    assert result.seen == len(jobs)
    # One recorded job has an empty `position`: it is dropped (counted as skipped), not stored untitled.
    assert [p.source_job_id for p in result.postings] == [job["id"] for job in jobs if job["position"]]
    assert result.skipped == 1
    first = result.postings[0]
    assert first.title == "Product Manager Customer Care" and first.company == "RYZ Labs"
    assert first.posted_at == datetime.fromtimestamp(1771718404, tz=UTC)
    assert first.salary_min is None  # 0 means "no salary"
    assert not any("\u00e2\u0080" in p.description_text for p in result.postings)


def test_arbeitnow_follows_pages_until_links_next_is_null(board):
    items = fixture_json("arbeitnow-1.json")["data"]
    url = board.add("/api/job-board-api", lambda q: {
        "1": Reply(arbeitnow_page(items[:10], has_next=True)),
        "2": Reply(arbeitnow_page(items[10:], has_next=False)),
    }[q["page"]])
    result, fetcher = fetch("arbeitnow", url, max_pages=5)
    assert [hit.query["page"] for hit in board.seen] == ["1", "2"]
    assert fetcher.requests == 2 and len(result.postings) == 20
    first = result.postings[0]
    assert first.source_job_id == "hr-manager-hr-generalist-stuttgart-78115"
    assert first.posted_at == datetime.fromtimestamp(1779021029, tz=UTC)
    assert first.location == "Stuttgart" and first.is_remote is False


def test_arbeitnow_stops_paging_once_the_limit_is_met(board):
    items = fixture_json("arbeitnow-1.json")["data"]
    url = board.add("/api/job-board-api", {"data": items, "links": {"next": "x"}, "meta": {}})
    result, fetcher = fetch("arbeitnow", url, SearchQuery(limit=5), max_pages=5)
    assert fetcher.requests == 1 and len(result.postings) == 5 and result.skipped == 15


def test_greenhouse_unescapes_entity_escaped_html_and_trims_locations(board):
    url = board.add("/v1/boards/airbnb/jobs", fixture_json("greenhouse-1.json"))
    result, _ = fetch("greenhouse", url)
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
    result, _ = fetch("greenhouse", url)
    assert {p.company for p in result.postings} == {"acme"}


def test_lever_pages_with_skip_and_limit_and_maps_salary(board):
    page = fixture_json("lever-2.json")
    second = copy.deepcopy(page[:1])
    second[0]["id"] = "third-posting"
    url = board.add("/v0/postings/spotify",
                    lambda q: Reply(
                        page if q["skip"] == "0" else second))
    result, fetcher = fetch("lever", url, page_size=2)
    assert [(hit.query["skip"], hit.query["limit"]) for hit in board.seen] == [("0", "2"), ("2", "2")]
    assert fetcher.requests == 2 and len(result.postings) == 3
    first = result.postings[0]
    assert first.title == "Accounts Payable Analyst" and first.company == "spotify"
    assert (first.salary_min, first.salary_max, first.salary_currency, first.salary_period) == (
        Decimal(66189), Decimal(94556), "USD", "year")
    assert first.posted_at == datetime.fromtimestamp(1778529611.285, tz=UTC)
    assert first.employment_type == "Permanent" and first.is_remote is False


def test_ashby_maps_compensation_strips_titles_and_handles_null_is_remote(board):
    data = fixture_json("ashby-2.json")
    data["jobs"][1]["isRemote"] = None
    data["jobs"][1]["workplaceType"] = "Remote"
    url = board.add("/posting-api/job-board/ramp", data)
    result, _ = fetch("ashby", url, company="Ramp")
    assert board.seen[0].query == {"includeCompensation": "true"}
    first = result.postings[0]
    assert first.title == "Security Engineer, Cloud"
    assert (first.salary_min, first.salary_max, first.salary_period) == (Decimal(211400), Decimal(290600), "year")
    assert first.company == "Ramp" and first.is_remote is True
    assert result.postings[1].is_remote is True


def test_himalayas_pages_by_offset_and_reads_epoch_seconds(board):
    envelope = fixture_json("himalayas-2.json")
    extra = fixture_json("himalayas-3.json")

    def reply(query):
        offset = int(query["offset"])
        jobs = envelope["jobs"] if offset == 0 else extra[:1]
        return Reply({"totalCount": 4, "offset": offset, "limit": 3, "jobs": jobs})

    url = board.add("/jobs/api", reply)
    result, _ = fetch("himalayas", url, page_size=3)
    assert [hit.query["offset"] for hit in board.seen] == ["0", "3"]
    assert len(result.postings) == 4
    first = result.postings[0]
    assert first.company == "Nymphis Technologies" and first.is_remote
    assert first.posted_at == datetime.fromtimestamp(1781591469, tz=UTC)
    assert "Canada" in first.location


def test_keyword_and_location_filter_locally(board):
    url = board.add("/api", [{"legal": "..."}, *fixture_json("remoteok-2.json")])
    everything, _ = fetch("remoteok", url)
    wanted = everything.postings[0]
    result, _ = fetch("remoteok", url, SearchQuery(keyword=wanted.title.split()[0].upper(),
                                                   location=wanted.location.lower()))
    assert wanted.source_job_id in [p.source_job_id for p in result.postings]
    assert all(wanted.location.lower() in p.location.lower() for p in result.postings)
    remote, _ = fetch("remoteok", url, SearchQuery(location="Remote"))
    assert len(remote.postings) == len(everything.postings)  # a remote board: all are is_remote


def test_sample_source_pages_with_delay_and_stops_at_the_limit():
    fetcher = Fetcher()
    started = datetime.now()
    result = source_class("sample")(params={"delay_seconds": 0.05, "page_size": 10}, fetcher=fetcher).fetch(
        SearchQuery(keyword="python", location="remote", limit=5))
    assert len(result.postings) == 5
    assert all(p.is_remote and "python" in (p.title + " ".join(p.tags)).lower() for p in result.postings)
    assert result.seen < 120  # stopped paging once it had 5
    assert (datetime.now() - started).total_seconds() >= 0.05


@pytest.mark.parametrize("fixture, kind, envelope", [
    ("remotive-2.json", "remotive", lambda jobs: {"job-count": len(jobs), "jobs": jobs}),
    ("arbeitnow-1.json", "arbeitnow", None),
    ("arbeitnow-2.json", "arbeitnow", None),
    ("arbeitnow-3.json", "arbeitnow", None),  # a bare array, as some recordings have it
    ("remoteok-2.json", "remoteok", lambda jobs: [{"legal": "Terms"}, *jobs]),
    ("greenhouse-1.json", "greenhouse", None),
    ("greenhouse-3.json", "greenhouse", None),
    ("lever-2.json", "lever", None),
    ("ashby-2.json", "ashby", None),
    ("himalayas-2.json", "himalayas", None),
    ("himalayas-3.json", "himalayas", None),
])
def test_every_recorded_response_parses_into_complete_postings(board, fixture, kind, envelope):
    data = fixture_json(fixture)
    body = envelope(data) if envelope else data
    url = board.add("/board", Reply(body))
    result, _ = fetch(kind, url)
    items = data if isinstance(data, list) else next(v for v in data.values() if isinstance(v, list))
    titled = [item for item in items if (item.get("title") or item.get("position") or item.get("text") or "").strip()]
    assert len(result.postings) == len(titled) > 0
    for posting in result.postings:
        assert posting.source_job_id and posting.title == posting.title.strip()
        assert posting.posted_at is not None and posting.posted_at.tzinfo is not None
        assert posting.url.startswith("https://")
        assert "<" not in posting.description_text
