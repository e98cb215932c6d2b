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
    # No interval means always due (comparing clocks of racing runs could otherwise refuse one of them).
    due = Q() if source.min_interval_seconds <= 0 else Q(next_request_at__isnull=True) | Q(next_request_at__lte=now)
    under_cap = Q() if source.daily_request_cap is None else new_day | Q(requests_today__lt=source.daily_request_cap)
    taken = JobSource.objects.filter(due & under_cap, pk=source.pk).update(
        requests_today=Case(When(new_day, then=Value(1)), default=F("requests_today") + 1,
                            output_field=PositiveIntegerField()),
        budget_day=today,
        next_request_at=now + timedelta(seconds=source.min_interval_seconds),
    )
    source.refresh_from_db(fields=["requests_today", "budget_day", "next_request_at"])
    if taken:
        cap = source.daily_request_cap
        return BudgetGrant(allowed=True, max_requests=None if cap is None else cap - source.requests_today + 1)
    if source.budget_day == today and source.daily_request_cap is not None \
            and source.requests_today >= source.daily_request_cap:
        return BudgetGrant(allowed=False, reason=f"daily cap of {source.daily_request_cap} requests reached")
    return BudgetGrant(allowed=False, reason=(
        f"minimum interval of {source.min_interval_seconds:g} s between requests: next request allowed at "
        f"{source.next_request_at.astimezone(UTC).isoformat(timespec='seconds')}"))


def source_budget_record(*, source: JobSource, requests: int, error: str = "", now: datetime | None = None) -> None:
    """After a fetch: count its requests beyond the reserved first one, and restart the interval from its end."""
    now = now or timezone.now()
    JobSource.objects.filter(pk=source.pk).update(
        requests_today=Case(When(budget_day=_today(now), then=F("requests_today") + max(0, requests - 1)),
                            default=F("requests_today"), output_field=PositiveIntegerField()),
        next_request_at=now + timedelta(seconds=source.min_interval_seconds),
        last_fetched_at=now,
        last_error=error[:2000],
    )
