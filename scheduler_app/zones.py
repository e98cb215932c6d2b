"""IANA time zones for job schedules: one check for the admin, the API and the scheduler."""

from __future__ import annotations

from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

# Files some systems keep beside the database that name the host's zone, not an IANA one.
_NOT_IANA = frozenset({"localtime", "posixrules"})


@cache
def zone_names() -> frozenset[str]:
    """The IANA names the installed tz database holds (read once: it walks the database's files)."""
    return frozenset(available_timezones()) - _NOT_IANA


def zone_get(name: str) -> ZoneInfo:
    """The IANA zone `name`; ValueError with a readable message for any other name (ZoneInfo alone would also load
    a file path such as "localtime" or "right/UTC")."""
    if name not in zone_names():
        raise ValueError(f"Unknown time zone {name!r}: use an IANA name such as Europe/Berlin, America/New_York "
                         f"or UTC.")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"Time zone {name!r} cannot be loaded: {exc}") from exc
