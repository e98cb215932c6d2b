"""Politeness budgets: minimum interval between requests and a daily request cap per source, kept in the
database so every trigger on every host shares them. Reservation is one conditional UPDATE (atomic)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import Case, F, PositiveIntegerField, Q, Value, When
from django.utils import timezone

from scraping_app.models import JobSource


@dataclass(frozen=True)
class BudgetGrant:
    allowed: bool
    max_requests: int | None = None  # requests this fetch may make (None: no cap)
    reason: str = ""


def _today(now: datetime):
    return now.astimezone(UTC).date()


def source_budget_reserve(*, source: JobSource, now: datetime | None = None) -> BudgetGrant:
    """Take the source's next request slot, or say why not. Counts the fetch's first request."""
    now = now or timezone.now()
    today = _today(now)
    new_day = Q(budget_day__isnull=True) | ~Q(budget_day=today)
    due = Q(next_request_at__isnull=True) | Q(next_request_at__lte=now)
    under_cap = Q() if source.daily_request_cap is None else new_day | Q(requests_today__lt=source.daily_request_cap)
    taken = JobSource.objects.filter(due & under_cap, pk=source.pk).update(
        requests_today=Case(When(new_day, then=Value(1)), default=F("requests_today") + 1,
                            output_field=PositiveIntegerField()),
        budget_day=today,
        next_request_at=_next_request_at(now, source.min_interval_seconds),
        last_fetched_at=now,
    )
    source.refresh_from_db(fields=["requests_today", "budget_day", "next_request_at", "last_fetched_at"])
    if taken:
        cap = source.daily_request_cap
        return BudgetGrant(allowed=True, max_requests=None if cap is None else cap - source.requests_today + 1)
    if source.budget_day == today and source.daily_request_cap is not None \
            and source.requests_today >= source.daily_request_cap:
        return BudgetGrant(allowed=False, reason=f"daily cap of {source.daily_request_cap} requests reached")
    if source.next_request_at is None:  # changed under us; the next trigger will get it
        return BudgetGrant(allowed=False, reason="budget changed while reserving; try again")
    next_at = source.next_request_at.astimezone(UTC).isoformat(timespec="seconds")
    interval_end = (source.last_fetched_at or now) + timedelta(seconds=source.min_interval_seconds + 1)
    if source.next_request_at > interval_end:
        return BudgetGrant(allowed=False, reason=f"the board rate-limited us: next request allowed at {next_at}")
    return BudgetGrant(allowed=False, reason=(
        f"minimum interval of {source.min_interval_seconds:g} s between requests: next request allowed at {next_at}"))


def _next_request_at(now: datetime, seconds: float) -> datetime | None:
    # No wait means no timestamp: comparing the clocks of two racing runs must not refuse one of them.
    return now + timedelta(seconds=seconds) if seconds > 0 else None


def source_budget_record(*, source: JobSource, requests: int, error: str = "", cooldown_seconds: float | None = None,
                         now: datetime | None = None) -> None:
    """After a fetch: count its requests beyond the reserved first one, and restart the interval from its end
    (or from the board's own cool-down, when it rate-limited us)."""
    now = now or timezone.now()
    wait = max(source.min_interval_seconds, cooldown_seconds or 0)
    JobSource.objects.filter(pk=source.pk).update(
        requests_today=Case(When(budget_day=_today(now), then=F("requests_today") + max(0, requests - 1)),
                            default=F("requests_today"), output_field=PositiveIntegerField()),
        next_request_at=_next_request_at(now, wait),
        last_fetched_at=now,
        last_error=error[:2000],
    )
