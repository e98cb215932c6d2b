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
