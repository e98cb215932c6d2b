"""The cursor for the status page's and the dashboard's raw-SQL reads, and the conversions they need.

Django registers its own `timestamptz` loader on every psycopg connection, a pure-Python subclass of psycopg's
loader (about 7 µs a value). psycopg's C loader gives the same instant in the session's time zone, which Django
sets to UTC. Measured with benchmarks/bench_speed_tricks.py (100 jobs, 20 runs each, PostgreSQL): the dashboard's
reads take 30-40 % less time with it, the recent-runs read 58 %, the status selector 19 %. Only cursors opened here
use it; every other query keeps Django's loader.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from django.db import connection
from django.utils.dateparse import parse_datetime
from psycopg.types.datetime import TimestamptzLoader


@contextmanager
def cursor() -> Iterator:
    """A Django cursor (queries are still counted and logged) whose timestamps load in C on PostgreSQL."""
    with connection.cursor() as wrapper:
        if connection.vendor == "postgresql":
            # psycopg swaps in its C twin of this class when the binary package is installed
            wrapper.cursor.adapters.register_loader("timestamptz", TimestamptzLoader)
        yield wrapper


def db_datetime(value: datetime):
    """A datetime as a raw cursor's parameter (SQLite stores naive UTC text)."""
    return connection.ops.adapt_datetimefield_value(value)


def aware(value) -> datetime | None:
    """A datetime read by a raw cursor as an aware datetime: SQLite hands back naive UTC, or text where it cannot
    tell the column's type (a value from a joined table)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = parse_datetime(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value
