"""Politeness budgets: the minimum interval between requests and the daily cap, reserved atomically."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from scraping_app.models import JobSource
from scraping_app.services import BudgetGrant, source_budget_record, source_budget_reserve

NOON = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def make_source(db):
    def make(interval: float = 60.0, cap: int | None = 3) -> JobSource:
        return JobSource.objects.create(kind="remotive", name=f"budget {JobSource.objects.count()}",
                                        min_interval_seconds=interval, daily_request_cap=cap)
    return make


def test_the_first_reservation_is_granted_and_counted(make_source):
    source = make_source()
    grant = source_budget_reserve(source=source, now=NOON)
    assert grant == BudgetGrant(allowed=True, max_requests=3)
    source.refresh_from_db()
    assert source.requests_today == 1
    assert source.budget_day == NOON.date()
    assert source.next_request_at == NOON + timedelta(seconds=60)
    assert source.last_fetched_at == NOON


def test_within_the_interval_it_is_refused_with_when_to_come_back(make_source):
    source = make_source()
    source_budget_reserve(source=source, now=NOON)
    grant = source_budget_reserve(source=source, now=NOON + timedelta(seconds=59))
    assert grant.allowed is False
    assert grant.reason == ("minimum interval of 60 s between requests: next request allowed at "
                            "2026-03-01T12:01:00+00:00")
    source.refresh_from_db()
    assert source.requests_today == 1


def test_after_the_interval_the_next_one_is_granted_with_fewer_requests_left(make_source):
    source = make_source()
    source_budget_reserve(source=source, now=NOON)
    grant = source_budget_reserve(source=source, now=NOON + timedelta(seconds=60))  # exactly due
    assert grant == BudgetGrant(allowed=True, max_requests=2)
    assert source.requests_today == 2  # the instance is refreshed


def test_the_daily_cap_refuses_until_the_next_utc_day(make_source):
    source = make_source(interval=0, cap=2)
    assert source_budget_reserve(source=source, now=NOON).allowed
    assert source_budget_reserve(source=source, now=NOON).allowed
    refused = source_budget_reserve(source=source, now=NOON + timedelta(hours=11, minutes=59))
    assert refused == BudgetGrant(allowed=False, reason="daily cap of 2 requests reached")
    tomorrow = source_budget_reserve(source=source, now=NOON + timedelta(hours=12))
    assert tomorrow == BudgetGrant(allowed=True, max_requests=2)
    assert source.requests_today == 1 and source.budget_day == (NOON + timedelta(days=1)).date()


def test_the_day_is_the_utc_day(make_source):
    source = make_source(interval=0, cap=1)
    from zoneinfo import ZoneInfo

    late_evening_utc = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
    assert source_budget_reserve(source=source, now=late_evening_utc).allowed
    # 01:00 in Berlin on March 2 is still March 1 in UTC: same day, cap reached
    same_utc_day = datetime(2026, 3, 2, 0, 45, tzinfo=ZoneInfo("Europe/Berlin"))
    assert source_budget_reserve(source=source, now=same_utc_day).allowed is False


def test_no_interval_sets_no_next_request_time(make_source):
    source = make_source(interval=0, cap=None)
    for _ in range(5):
        assert source_budget_reserve(source=source, now=NOON) == BudgetGrant(allowed=True, max_requests=None)
    assert source.next_request_at is None and source.requests_today == 5


def test_record_counts_the_extra_requests_and_restarts_the_interval(make_source):
    source = make_source(cap=10)
    source_budget_reserve(source=source, now=NOON)
    source_budget_record(source=source, requests=4, now=NOON + timedelta(seconds=30))
    source.refresh_from_db()
    assert source.requests_today == 4  # the reserved first one plus three more
    assert source.next_request_at == NOON + timedelta(seconds=90)
    assert source.last_fetched_at == NOON + timedelta(seconds=30)
    assert source.last_error == ""
    assert source_budget_reserve(source=source, now=NOON + timedelta(seconds=90)).max_requests == 6  # 10 - 5 + 1


def test_record_of_zero_or_one_request_adds_nothing(make_source):
    source = make_source()
    source_budget_reserve(source=source, now=NOON)
    source_budget_record(source=source, requests=0, now=NOON)
    source_budget_record(source=source, requests=1, now=NOON)
    source.refresh_from_db()
    assert source.requests_today == 1


def test_a_boards_cooldown_longer_than_the_interval_wins_and_is_named(make_source):
    source = make_source()
    source_budget_reserve(source=source, now=NOON)
    source_budget_record(source=source, requests=1, error="429 Too Many Requests", cooldown_seconds=600, now=NOON)
    source.refresh_from_db()
    assert source.next_request_at == NOON + timedelta(seconds=600)
    assert source.last_error == "429 Too Many Requests"
    grant = source_budget_reserve(source=source, now=NOON + timedelta(seconds=120))
    assert grant.allowed is False
    assert grant.reason == "the board rate-limited us: next request allowed at 2026-03-01T12:10:00+00:00"


def test_a_shorter_cooldown_does_not_shorten_the_interval(make_source):
    source = make_source()
    source_budget_record(source=source, requests=1, cooldown_seconds=5, now=NOON)
    source.refresh_from_db()
    assert source.next_request_at == NOON + timedelta(seconds=60)


def test_record_on_another_day_does_not_count_into_it(make_source):
    source = make_source(cap=10)
    source_budget_reserve(source=source, now=NOON)
    source_budget_record(source=source, requests=5, now=NOON + timedelta(days=1))
    source.refresh_from_db()
    assert source.requests_today == 1


def test_a_long_error_is_truncated(make_source):
    source = make_source()
    source_budget_record(source=source, requests=1, error="x" * 5000, now=NOON)
    source.refresh_from_db()
    assert source.last_error == "x" * 2000


def test_a_stale_instance_still_reserves_against_the_database(make_source):
    source = make_source(interval=60)
    other_copy = JobSource.objects.get(pk=source.pk)
    assert source_budget_reserve(source=source, now=NOON).allowed
    assert source_budget_reserve(source=other_copy, now=NOON + timedelta(seconds=1)).allowed is False
