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
