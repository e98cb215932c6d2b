"""The adapters' shared interface: local keyword and location filtering, the fingerprint, and every recorded
response parsing into complete postings."""

from __future__ import annotations

import pytest

from scraping_app.normalize import SENIORITIES, employment_type_normalize
from scraping_app.sources import PostingData, SearchQuery
from tests.scraping_app.conftest import Reply, adapter_fetch, fixture_json

pytestmark = pytest.mark.usefixtures("fast_http")


def test_keyword_and_location_filter_locally(board):
    url = board.add("/api", [{"legal": "..."}, *fixture_json("remoteok-2.json")])
    everything, _ = adapter_fetch("remoteok", url)
    wanted = everything.postings[0]
    result, _ = adapter_fetch("remoteok", url, SearchQuery(keyword=wanted.title.split()[0].upper(),
                                                   location=wanted.location.lower()))
    assert wanted.source_job_id in [p.source_job_id for p in result.postings]
    assert all(wanted.location.lower() in p.location.lower() for p in result.postings)
    remote, _ = adapter_fetch("remoteok", url, SearchQuery(location="Remote"))
    assert len(remote.postings) == len(everything.postings)  # a remote board: all are is_remote


RECORDINGS = [
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
]


@pytest.mark.parametrize("fixture, kind, envelope", RECORDINGS)
def test_every_recorded_response_parses_into_complete_postings(board, fixture, kind, envelope):
    data = fixture_json(fixture)
    body = envelope(data) if envelope else data
    url = board.add("/board", Reply(body))
    result, _ = adapter_fetch(kind, url)
    items = data if isinstance(data, list) else next(v for v in data.values() if isinstance(v, list))
    titled = [item for item in items if (item.get("title") or item.get("position") or item.get("text") or "").strip()]
    assert len(result.postings) == len(titled) > 0
    for posting in result.postings:
        assert posting.source_job_id and posting.title == posting.title.strip()
        assert posting.posted_at is not None and posting.posted_at.tzinfo is not None
        assert posting.url.startswith("https://")
        assert "<" not in posting.description_text


def test_fingerprint_ignores_case_and_spacing():
    a = PostingData(source_job_id="1", title="Python  Developer", company="Acme", location="Berlin")
    b = PostingData(source_job_id="2", title="python developer", company="ACME ", location="berlin")
    assert a.fingerprint == b.fingerprint
    assert a.fingerprint != PostingData(source_job_id="3", title="Go developer", company="Acme").fingerprint


def _recorded_postings(board, fixture, kind, envelope) -> list[PostingData]:
    data = fixture_json(fixture)
    result, _ = adapter_fetch(kind, board.add(f"/{fixture}", Reply(envelope(data) if envelope else data)))
    return result.postings


def test_every_recorded_employment_type_maps_to_the_vocabulary(board):
    spellings: dict[str, str] = {}
    for recording in RECORDINGS:
        for posting in _recorded_postings(board, *recording):
            if posting.employment_type.strip():  # genuinely empty: the board said nothing
                spellings[posting.employment_type] = employment_type_normalize(value=posting.employment_type)
    assert "" not in spellings.values(), {k: v for k, v in spellings.items() if not v}
    # The recordings spell full time four ways (and Lever says "Permanent").
    assert {k for k, v in spellings.items() if v == "full_time"} == {
        "full time", "Full-time permanent", "FullTime", "Full Time", "Permanent"}
    assert {spelling: spellings[spelling] for spelling in ("contract", "Working student", "Intern")} == {
        "contract": "contract", "Working student": "part_time", "Intern": "internship"}


@pytest.mark.parametrize("spelling, kind", [
    # Quoted in SOURCES.md from the full recordings: Remotive's job_type, Lever's commitment, Ashby's employmentType.
    ("full_time", "full_time"), ("contract", "contract"), ("freelance", "contract"), ("part_time", "part_time"),
    ("Permanent", "full_time"), ("Short Term", "temporary"), ("FullTime", "full_time"), ("Intern", "internship"),
    ("PartTime", "part_time"), ("Temporary", "temporary"), ("Contractor", "contract"),
])
def test_documented_employment_type_spellings_map(spelling, kind):
    assert employment_type_normalize(value=spelling) == kind


def test_recorded_extras_are_sanitised(board):
    for recording in RECORDINGS:
        for posting in _recorded_postings(board, *recording):
            assert posting.company_logo_url == "" or posting.company_logo_url.startswith("https://")
            assert len(posting.other_locations) <= 50 and posting.location not in posting.other_locations
            assert posting.seniority in ("", *SENIORITIES)
            assert posting.expires_at is None or posting.expires_at.tzinfo is not None
