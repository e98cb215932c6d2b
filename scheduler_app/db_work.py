"""Database work on threads that Django's request cycle does not manage: the scheduler's loop and pool, the lock
watchdog, the renewal thread and background runs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import close_old_connections


@contextmanager
def thread_db_work() -> Iterator[None]:
    """Around one piece of a thread's database work: drop this thread's connections that are broken or past
    CONN_MAX_AGE before it (a database restart must not fail every later call), and again after it (an idle thread
    must not hold a connection open). Also a decorator."""
    close_old_connections()
    try:
        yield
    finally:
        close_old_connections()
