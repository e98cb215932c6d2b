"""The shared session's failure handling, over real loopback HTTP: 429 with Retry-After, 5xx, timeouts, bad JSON."""

from __future__ import annotations

import time

import pytest

from scraping_app.sources.http import BoardError, BudgetExhausted, Fetcher
from tests.scraping_app.conftest import Reply

pytestmark = pytest.mark.usefixtures("fast_http")


def test_429_is_retried_after_its_retry_after(board):
    url = board.add("/jobs", Reply({"slow": "down"}, status=429, headers={"Retry-After": "0.3"}), Reply({"ok": 1}))
    assert Fetcher().get_json(url) == {"ok": 1}
    first, second = board.hits("/jobs")
    assert second.at - first.at >= 0.28


def test_retry_after_in_whole_seconds_is_honoured(board, settings):
    settings.SCRAPE_RETRY_AFTER_CAP_SECONDS = 5
    url = board.add("/jobs", Reply({}, status=503, headers={"Retry-After": "1"}), Reply({"ok": 1}))
    assert Fetcher().get_json(url) == {"ok": 1}
    first, second = board.hits("/jobs")
    assert second.at - first.at >= 0.95


def test_unreadable_retry_after_falls_back_to_backoff(board):
    url = board.add("/jobs", Reply({}, status=429, headers={"Retry-After": "soon"}), Reply({"ok": 1}))
    assert Fetcher().get_json(url) == {"ok": 1}


def test_retry_after_is_capped_so_a_board_cannot_hold_the_lock(board):
    url = board.add("/jobs", Reply({}, status=429, headers={"Retry-After": "3600"}), Reply({"ok": 1}))
    started = time.monotonic()
    assert Fetcher().get_json(url) == {"ok": 1}
    assert time.monotonic() - started < 2  # the cap is 0.4 s, not an hour


def test_persistent_429_becomes_a_board_error_after_the_retries(board):
    url = board.add("/jobs", Reply({}, status=429, headers={"Retry-After": "0"}))
    with pytest.raises(BoardError, match="HTTP 429"):
        Fetcher().get_json(url)
    assert len(board.hits("/jobs")) == 3  # first try + SCRAPE_RETRY_TOTAL=2


def test_500_then_success_is_retried(board):
    url = board.add("/jobs", Reply("oops", status=500), Reply({"ok": 1}))
    assert Fetcher().get_json(url) == {"ok": 1}


def test_persistent_500_is_a_board_error(board):
    url = board.add("/jobs", Reply("oops", status=503))
    with pytest.raises(BoardError, match="HTTP 503"):
        Fetcher().get_json(url)


def test_404_is_not_retried(board):
    url = board.add("/jobs", Reply({"error": "unknown board"}, status=404))
    with pytest.raises(BoardError, match="HTTP 404"):
        Fetcher().get_json(url)
    assert len(board.hits("/jobs")) == 1


def test_read_timeout_is_a_board_error(board):
    url = board.add("/jobs", Reply({"ok": 1}, delay=2.0))
    started = time.monotonic()
    with pytest.raises(BoardError, match="timeout"):
        Fetcher().get_json(url)
    assert time.monotonic() - started < 1.9  # 0.5 s read timeout, retried once


def test_malformed_json_is_a_board_error(board):
    url = board.add("/jobs", Reply('{"jobs": [1, 2,'))
    with pytest.raises(BoardError, match="malformed JSON"):
        Fetcher().get_json(url)


def test_connection_refused_is_a_board_error():
    with pytest.raises(BoardError, match="connection error|timeout"):
        Fetcher().get_json("http://127.0.0.1:1/jobs")


def test_fetcher_paces_requests_and_stops_at_its_request_budget(board):
    url = board.add("/jobs", Reply({"ok": 1}))
    fetcher = Fetcher(min_interval_seconds=0.2, max_requests=2)
    fetcher.get_json(url)
    fetcher.get_json(url)
    with pytest.raises(BudgetExhausted):
        fetcher.get_json(url)
    first, second = board.hits("/jobs")
    assert second.at - first.at >= 0.19
    assert fetcher.requests == 2
