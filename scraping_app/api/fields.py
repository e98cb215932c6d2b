"""Serializer fields the job-search API shares (and other apps' APIs use by dotted path)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time

from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from scraping_app import selectors
from scraping_app.models import Team

ID_MAX = 2**63 - 1  # the largest primary key PostgreSQL's bigint (and SQLite's integer) can hold
_DECIMAL_TEXT = re.compile(r"-?[0-9]+")  # ASCII only: str.isdigit() would also accept "²" and "١"


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": ID_MAX,
                      "description": "One of your teams (GET /api/v1/teams/); staff may name any team."})
class TeamIdField(serializers.Field):
    """A team id in, the Team out: the one validator of every `team_id` (and `team`) the API takes.

    Accepts an int, or a decimal string of ASCII digits (query strings and forms carry nothing but text) unless
    the parent serializer sets `typed_input` (a JSON body that must be typed).
    Refuses booleans (JSON true is not team 1), floats, blanks and other digits ("²") with "A valid integer is
    required." An id that names no team, or a team the request's user may not use (staff may use every team,
    others the teams they belong to), is "Unknown team." Without a request in the serializer's context (a
    management command, a job), any existing team will do.

    Takes DRF's standard field arguments (required, allow_null, default, help_text, ...); renders a Team, or an
    id, as the id.
    """

    default_error_messages = {
        "invalid": "A valid integer is required.",
        "unknown": "Unknown team.",
    }

    def to_internal_value(self, data) -> Team:
        team_id = self._team_id(data)
        if not 1 <= team_id <= ID_MAX:  # no team has it; and a bigger one would overflow the query
            self.fail("unknown")
        request = self.context.get("request")
        if request is None:
            team = selectors.team_get(team_id=team_id)
        else:
            team = selectors.team_for_user(user=request.user, team_id=team_id)
        if team is None:
            self.fail("unknown")
        return team

    def to_representation(self, value) -> int:
        return value.pk if isinstance(value, Team) else int(value)

    def _team_id(self, data) -> int:
        if isinstance(data, bool):
            self.fail("invalid")
        if isinstance(data, int):
            return data
        if isinstance(data, str) and _DECIMAL_TEXT.fullmatch(data) and not self._typed_input():
            return int(data)
        self.fail("invalid")

    def _typed_input(self) -> bool:
        """Whether the parent serializer says its data came typed (a strict serializer's JSON body, where "1" is a
        string, not a number)."""
        return bool(getattr(self.parent, "typed_input", False))


class LenientDateTimeField(serializers.DateTimeField):
    """An RFC 3339 datetime, or a bare date meaning its midnight UTC; a datetime without a zone is UTC.

    A date that does not exist (2026-02-30, 25:00, an offset of +99:00) is "Use an ISO 8601 date or datetime".
    A valid one whose UTC instant lies outside what Python can hold (0001-01-01T00:00:00+12:00,
    9999-12-31T23:59:59-12:00) is clamped to the first or last representable instant: it is a valid RFC 3339
    value, and as a filter it means "from the beginning" or "nothing yet".
    """

    default_error_messages = {"invalid": "Use an ISO 8601 date or datetime, e.g. 2026-11-01 or 2026-11-01T09:30:00Z."}

    def to_internal_value(self, data) -> datetime:
        if not isinstance(data, str) or not data or len(data) > 64 or not (data.isascii() and data.isprintable()):
            self.fail("invalid")
        try:
            value = parse_datetime(data)
            if value is None and (day := parse_date(data)) is not None:
                value = datetime.combine(day, time.min)
        except (ValueError, OverflowError):  # well-formed but impossible: Feb 30, hour 25, offset +99:00
            value = None
        if value is None:
            self.fail("invalid")
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        try:
            return value.astimezone(UTC)
        except OverflowError:  # the UTC instant is before year 1 or after year 9999
            return _UTC_MIN if value.year == 1 else _UTC_MAX


_UTC_MIN = datetime.min.replace(tzinfo=UTC)
_UTC_MAX = datetime.max.replace(tzinfo=UTC)
