"""Instants as people read them in every app's admin: relative ("in 4 min", "3 s ago") plus absolute, with seconds
and the zone named, in settings.TIME_ZONE. Display only; it lives here because every app's admin shares it and no
app may import another's modules (tests/test_layers.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html


def zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def zone_label(now: datetime | None = None) -> str:
    """'UTC', or 'Europe/Berlin (CET, UTC+01:00)': the zone every time on the page is shown in."""
    local = (now or timezone.now()).astimezone(zone())
    if settings.TIME_ZONE in ("UTC", "Etc/UTC"):
        return "UTC"
    offset = local.strftime("%z")
    return f"{settings.TIME_ZONE} ({local.tzname()}, UTC{offset[:3]}:{offset[3:]})"


def to_datetime(value) -> datetime | None:
    """A datetime, an ISO 8601 string (the status selector's) or an epoch float (a lock holder's acquired_at)."""
    if value is None or value == "" or value == 0:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    parsed = parse_datetime(str(value))
    if parsed is None:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def duration_text(seconds: float) -> str:
    """'12 s', '4 min', '1 h 5 min', '3 days': short, rounded down beyond a minute."""
    seconds = abs(seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds // 60:.0f} min"
    if seconds < 48 * 3600:
        hours, minutes = divmod(int(seconds // 60), 60)
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{seconds // 86400:.0f} days"


def relative(value, now: datetime | None = None) -> str:
    moment = to_datetime(value)
    if moment is None:
        return "-"
    delta = (moment - (now or timezone.now())).total_seconds()
    if abs(delta) < 1:
        return "under 1 s ago" if delta <= 0 else "in under 1 s"
    return f"in {duration_text(delta)}" if delta > 0 else f"{duration_text(delta)} ago"


def absolute(value) -> str:
    """'2026-12-01 08:40:12 UTC' (the zone's abbreviation; the header names the zone in full)."""
    moment = to_datetime(value)
    if moment is None:
        return "-"
    return moment.astimezone(zone()).strftime("%Y-%m-%d %H:%M:%S %Z")


def when_html(value, now: datetime | None = None):
    """Relative, then absolute on its own line: one narrow cell, and the machine-readable instant in <time>."""
    moment = to_datetime(value)
    if moment is None:
        return "-"
    return format_html('<time datetime="{}" title="{}">{}</time><br><small class="abs">{}</small>',
                       moment.isoformat(), absolute(moment), relative(moment, now), absolute(moment))
