"""raw_sql: the raw-SQL reads' cursor (psycopg's own timestamptz loader on PostgreSQL) and its conversions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.db import connection

from scheduler_app import raw_sql
from scheduler_app.models import JobRun

INSTANT = datetime(2026, 3, 1, 12, 30, 45, 123456, tzinfo=UTC)


def test_aware_of_none_is_none():
    assert raw_sql.aware(None) is None


def test_aware_treats_a_naive_datetime_as_utc():
    value = raw_sql.aware(datetime(2026, 3, 1, 12, 30, 45, 123456))
    assert value == INSTANT
    assert value.tzinfo is UTC


@pytest.fixture
def host_in_new_york(monkeypatch):
    """The host's local zone is not UTC (naive values must still be read as UTC, not as local time)."""
    import time

    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_aware_reads_naive_as_utc_whatever_the_hosts_zone(host_in_new_york):
    assert raw_sql.aware(datetime(2026, 3, 1, 12, 30, 45, 123456)) == INSTANT
    assert raw_sql.aware("2026-03-01 12:30:45.123456") == INSTANT


def test_aware_keeps_an_aware_datetime_as_it_is():
    plus_two = datetime(2026, 3, 1, 14, 30, 45, 123456, tzinfo=timezone(timedelta(hours=2)))
    value = raw_sql.aware(plus_two)
    assert value is plus_two
    assert value == INSTANT


@pytest.mark.parametrize("text", ["2026-03-01 12:30:45.123456", "2026-03-01T12:30:45.123456",
                                  "2026-03-01T12:30:45.123456+00:00", "2026-03-01T14:30:45.123456+02:00"])
def test_aware_parses_iso_text(text):
    value = raw_sql.aware(text)
    assert value == INSTANT
    assert value.tzinfo is not None


def test_db_datetime_is_what_the_backend_stores():
    value = raw_sql.db_datetime(INSTANT)
    if connection.vendor == "sqlite":
        assert value == "2026-03-01 12:30:45.123456"  # naive UTC text
    else:
        assert value == INSTANT


def _runs(db_instants):
    for i, instant in enumerate(db_instants):
        JobRun.objects.create(job_id="quick_job", lock_key="quick_job", trigger="api", status="SUCCEEDED",
                              started_at=instant, finished_at=None if i == 0 else instant)


def test_cursor_reads_the_same_instants_as_the_orm(db):
    instants = [INSTANT, INSTANT + timedelta(days=200, microseconds=1), datetime(2001, 1, 1, tzinfo=UTC)]
    _runs(instants)
    orm = dict(JobRun.objects.values_list("id", "started_at"))
    table = JobRun._meta.db_table
    with raw_sql.cursor() as cur:
        cur.execute(f"SELECT id, started_at, finished_at FROM {table} WHERE started_at >= %s ORDER BY id",
                    [raw_sql.db_datetime(datetime(2000, 1, 1, tzinfo=UTC))])
        rows = cur.fetchall()
    assert len(rows) == 3
    raw = {row[0]: raw_sql.aware(row[1]) for row in rows}
    assert raw == orm
    assert sorted(raw.values()) == sorted(instants)
    assert all(value.utcoffset() == timedelta(0) for value in raw.values())
    assert [raw_sql.aware(row[2]) is None for row in rows] == [True, False, False]


def test_cursor_parameter_filters_like_the_orm(db):
    _runs([INSTANT, INSTANT + timedelta(seconds=1)])
    table = JobRun._meta.db_table
    with raw_sql.cursor() as cur:
        cur.execute(f"SELECT COUNT(*) FROM {table} WHERE started_at > %s", [raw_sql.db_datetime(INSTANT)])
        [(count,)] = cur.fetchall()
    assert count == JobRun.objects.filter(started_at__gt=INSTANT).count() == 1


def _timestamptz_loader(wrapper):
    from psycopg import postgres, pq

    oid = postgres.types["timestamptz"].oid
    return wrapper.cursor.adapters.get_loader(oid, pq.Format.TEXT)


@pytest.mark.postgres
def test_on_postgresql_only_this_cursor_uses_psycopgs_loader(db):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: set DATABASE_URL=postgres://...")
    from django.db.backends.postgresql.psycopg_any import BaseTzLoader

    with raw_sql.cursor() as wrapper:
        ours = _timestamptz_loader(wrapper)
    with connection.cursor() as wrapper:
        plain = _timestamptz_loader(wrapper)
    assert ours.__name__ == "TimestamptzLoader"
    assert not issubclass(ours, BaseTzLoader)  # psycopg's class (its C twin with psycopg[binary]), not Django's
    assert issubclass(plain, BaseTzLoader)  # every other cursor keeps Django's
    # and opening ours left the connection's own adapters alone
    with connection.cursor() as wrapper:
        assert _timestamptz_loader(wrapper) is plain
