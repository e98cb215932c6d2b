"""thread_db_work(): a thread's database work between connection clean-ups, as a context manager and a decorator."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from scheduler_app.db_work import thread_db_work


def _in_thread(func):
    """Run `func` on a fresh thread (its own connection, outside the test's transaction); return or re-raise."""
    outcome: dict = {}

    def target():
        try:
            outcome["value"] = func()
        except BaseException as exc:  # noqa: BLE001  (handed back to the test)
            outcome["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(30)
    assert not thread.is_alive(), "the worker thread did not finish"
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def _open_connection():
    connection.ensure_connection()
    assert connection.connection is not None
    return connection.connection


def _obsolete():
    """Mark this thread's connection past CONN_MAX_AGE: close_old_connections() must close it."""
    connection.close_at = 0


@pytest.fixture
def thread_db(transactional_db):
    return transactional_db


def test_context_manager_closes_an_obsolete_connection_before_the_body(thread_db):
    def work():
        _open_connection()
        _obsolete()
        with thread_db_work():
            closed_before = connection.connection is None
            connection.ensure_connection()  # the body's own work opens a fresh one
            return closed_before

    assert _in_thread(work) is True


def test_context_manager_closes_an_obsolete_connection_after_the_body(thread_db):
    def work():
        with thread_db_work():
            _open_connection()
            _obsolete()
        return connection.connection is None

    assert _in_thread(work) is True


def test_a_usable_fresh_connection_is_kept(thread_db):
    def work():
        with thread_db_work():
            raw = _open_connection()
            connection.close_at = None  # as with CONN_MAX_AGE=None: persistent, never obsolete
        return connection.connection is raw

    assert _in_thread(work) is True


def test_closes_after_the_body_also_when_it_raises(thread_db):
    def work():
        try:
            with thread_db_work():
                _open_connection()
                _obsolete()
                raise RuntimeError("boom")
        except RuntimeError:
            return connection.connection is None
        return "did not raise"

    assert _in_thread(work) is True


def test_the_body_exception_propagates(thread_db):
    def work():
        with thread_db_work():
            raise KeyError("inner")

    with pytest.raises(KeyError, match="inner"):
        _in_thread(work)


def test_as_a_decorator_cleans_before_and_after(thread_db):
    seen = {}

    @thread_db_work()
    def job(x):
        seen["closed_before"] = connection.connection is None
        _open_connection()
        _obsolete()
        return x * 2

    def work():
        _open_connection()
        _obsolete()
        result = job(21)
        return result, connection.connection is None

    assert _in_thread(work) == (42, True)
    assert seen["closed_before"] is True


def test_a_connection_left_outside_autocommit_is_closed(thread_db):
    def work():
        with thread_db_work():
            _open_connection()
            connection.close_at = None
            connection.set_autocommit(False)  # left in a state Django cannot trust: unusable
        return connection.connection is None

    assert _in_thread(work) is True


def test_a_broken_connection_is_closed_on_postgresql(thread_db):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite connections are always usable (no server to lose)")

    def work():
        with thread_db_work():
            _open_connection()
            connection.close_at = None
            connection.errors_occurred = True  # a query failed since the last commit...
            connection.connection.close()  # ...because the server went away
        return connection.connection is None

    assert _in_thread(work) is True
