"""The RemoteOK adapter against a local server serving the board's recorded response shape (real HTTP)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.scraping_app.conftest import adapter_fetch, fixture_json

pytestmark = pytest.mark.usefixtures("fast_http")


def test_remoteok_skips_the_legal_notice_and_fixes_mojibake(board):
    jobs = fixture_json("remoteok-2.json")
    url = board.add("/api", [{"last_updated": 1771718404, "legal": "API Terms of Service: ..."}, *jobs])
    result, _ = adapter_fetch("remoteok", url)
    assert result.seen == len(jobs)
    # One recorded job has an empty `position`: it is dropped (counted as skipped), not stored untitled.
    assert [p.source_job_id for p in result.postings] == [job["id"] for job in jobs if job["position"]]
    assert result.skipped == 1
    first = result.postings[0]
    assert first.title == "Product Manager Customer Care" and first.company == "RYZ Labs"
    assert first.posted_at == datetime.fromtimestamp(1771718404, tz=UTC)
    assert first.salary_min is None  # 0 means "no salary"
    assert not any("\u00e2\u0080" in p.description_text for p in result.postings)


def test_remoteok_keeps_a_logo_from_company_logo_or_logo(board):
    jobs = [job for job in fixture_json("remoteok-2.json") if job["position"]]
    assert all(job["company_logo"] == job["logo"] == "" for job in jobs)  # the recording has none: stays ""
    jobs[1]["logo"] = "https://remoteok.com/assets/img/jobs/1130491.png"
    jobs[2]["company_logo"] = " https://remoteok.com/assets/img/jobs/1130490.png "
    jobs[3]["company_logo"] = "/assets/img/relative.png"  # not absolute: dropped
    url = board.add("/api", [{"legal": "Terms"}, *jobs])
    result, _ = adapter_fetch("remoteok", url)
    assert [p.company_logo_url for p in result.postings] == [
        "", "https://remoteok.com/assets/img/jobs/1130491.png", "https://remoteok.com/assets/img/jobs/1130490.png", ""]
