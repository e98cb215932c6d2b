"""The database log handler: context stamping, batching, no recursion, never raising, database down."""

from __future__ import annotations

import logging
import textwrap
from types import SimpleNamespace

import pytest
from django.db import OperationalError, connection

from logs_app import handler as handler_module
from logs_app.handler import DatabaseLogHandler
from logs_app.models import LogEntry
from logs_app.services import log_entries_flush
from scheduler_app.context import JobContext, job_context_active
from scheduler_app.models import JobRun
from scheduler_app.services import job_run
from tests.conftest import manage


def _ctx(*, run_id: int, job_id: str, team=None, trigger: str = "direct") -> JobContext:
    return JobContext(run_id=run_id, job_id=job_id, lock_key=job_id, fencing_token=1, fence_check=lambda: True,
                      team=team, trigger=trigger)


@pytest.mark.django_db
def test_records_inside_a_job_context_carry_job_run_team_and_trigger(db_handler):
    log = logging.getLogger("scraping_app.test")
    log.info("outside any run")
    with job_context_active(_ctx(run_id=41, job_id="scrape_jobs_task", team=SimpleNamespace(pk=7))):
        log.warning("inside run %s", 41, extra={"board": "remoteok"})
    assert log_entries_flush() == 2

    outside = LogEntry.objects.get(message="outside any run")
    inside = LogEntry.objects.get(message="inside run 41")
    assert (outside.job_id, outside.run_id, outside.team_id) == ("", None, None)
    assert (inside.job_id, inside.run_id, inside.team_id) == ("scrape_jobs_task", 41, 7)
    assert (inside.level, inside.levelno, inside.logger) == ("WARNING", logging.WARNING, "scraping_app.test")
    assert inside.extra == {"board": "remoteok", "trigger": "direct"}  # no trigger column: in extra
    assert outside.extra == {}


@pytest.mark.django_db
def test_a_real_run_stamps_its_lines(db_handler, fake_redis):
    run = job_run(job_id="cleanup_old_logs_task", trigger=JobRun.Trigger.CLI)
    assert run.status == JobRun.Status.SUCCEEDED
    log_entries_flush()
    line = LogEntry.objects.get(message__startswith="Deleted 0 log entries")
    assert (line.job_id, line.run_id, line.logger) == ("cleanup_old_logs_task", run.pk, "logs_app")


@pytest.mark.django_db
def test_explicit_extra_context_wins_and_exceptions_are_kept(db_handler):
    log = logging.getLogger("scheduler_app")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        log.exception("watchdog saw it", extra={"job_id": "check_follow_ups_task", "run_id": "12"})
    log_entries_flush()
    entry = LogEntry.objects.get(message="watchdog saw it")
    assert (entry.job_id, entry.run_id, entry.level) == ("check_follow_ups_task", 12, "ERROR")
    assert "RuntimeError: boom" in entry.extra["exception"]


@pytest.mark.django_db
def test_database_errors_never_raise_and_never_recurse(db_handler, monkeypatch, capsys):
    calls = []

    def failing_insert(rows):
        calls.append(len(rows))
        # A database layer that logs its own failure: the handler must not pick that up and retry forever.
        logging.getLogger("logs_app").error("insert failed")
        logging.getLogger("django.db.backends").error("driver said no")
        raise OperationalError("database is down")

    monkeypatch.setattr(handler_module, "_insert_rows", failing_insert)
    dropped_before = db_handler.dropped
    db_handler._last_error_report = -1e9
    logging.getLogger("logs_app").info("one")
    logging.getLogger("logs_app").info("two")

    assert db_handler.write_pending() == 0  # no exception
    assert calls == [2]  # one attempt, no recursion into a second write
    assert not db_handler._pending  # the record logged during the failed write was ignored
    assert db_handler.dropped == dropped_before + 2
    assert "DatabaseLogHandler: could not write 2 log record(s)" in capsys.readouterr().err


@pytest.mark.django_db
def test_django_db_loggers_are_ignored(db_handler):
    logging.getLogger("django.db.backends").warning("SELECT ... slow")
    logging.getLogger("django.db.backends.schema").error("ALTER failed")
    assert not db_handler._pending


def test_the_buffer_is_bounded():
    handler = DatabaseLogHandler(background=False, max_pending=10)
    log = logging.Logger("bounded")
    log.addHandler(handler)
    for i in range(25):
        log.error("line %d", i)
    assert len(handler._pending) == 10
    assert handler.dropped == 15


@pytest.mark.django_db(transaction=True)
def test_background_writer_batches_off_the_callers_thread_and_flushes_deterministically():
    handler = DatabaseLogHandler(background=True, batch_size=20, flush_seconds=30, max_pending=1000)
    log = logging.Logger("background")
    log.addHandler(handler)
    try:
        for i in range(50):
            log.info("bg %d", i)
        handler.flush()  # waits until every buffered line is committed
        assert LogEntry.objects.filter(message__startswith="bg ").count() == 50
        assert handler._thread is not None and handler._thread.name == "db-log-writer"
        assert handler.written == 50
    finally:
        handler.close()
    handler._thread.join(2)
    assert not handler._thread.is_alive()


@pytest.mark.django_db(transaction=True)
def test_database_down_in_a_real_process_never_raises(subprocess_env):
    """A process whose database is unreachable logs without an exception and exits 0; the handler reports the
    lost records on stderr instead of through logging."""
    env = dict(subprocess_env, DATABASE_URL="postgres://postgres@127.0.0.1:1/nowhere", LOG_DB_BACKGROUND="1",
               LOG_DB_FLUSH_SECONDS="0.05")
    code = textwrap.dedent("""
        import logging
        log = logging.getLogger("scheduler_app")
        for i in range(200):
            log.info("line %d", i)
        for handler in logging.getLogger("scheduler_app").handlers:
            handler.flush()
        print("caller finished")
    """)
    proc = manage("shell", "-c", code, env=env)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "caller finished" in out
    assert "DatabaseLogHandler: could not write" in err
    assert "Traceback" not in err


@pytest.mark.django_db
def test_write_inside_a_callers_transaction_survives_a_failed_batch(db_handler, monkeypatch):
    """write_pending() in a thread that is inside atomic(): a failed batch rolls back to its savepoint only."""
    from django.db import transaction

    with transaction.atomic():
        # A real failure inside the INSERT's savepoint: a value the column cannot hold.
        logging.getLogger("logs_app").info("lost")
        db_handler._pending[-1]["levelno"] = "not a number" if connection.vendor == "postgresql" else None
        db_handler.write_pending()
        logging.getLogger("logs_app").info("kept")
        db_handler.write_pending()
        with connection.cursor() as cursor:  # the outer transaction is still usable
            cursor.execute("SELECT 1")
    assert list(LogEntry.objects.values_list("message", flat=True)) == ["kept"]


@pytest.mark.django_db(transaction=True)
def test_logging_never_waits_for_a_busy_database():
    """While another transaction holds the database's write lock (SQLite) the writer waits; the caller does not."""
    import time

    from django.db import transaction

    handler = DatabaseLogHandler(background=True, batch_size=50, flush_seconds=0.05, max_pending=10_000)
    log = logging.Logger("busy")
    log.addHandler(handler)
    try:
        with transaction.atomic():
            LogEntry.objects.create(timestamp="2026-01-01T00:00:00Z", level="INFO", levelno=20, logger="x",
                                    message="holding the write lock")
            started = time.perf_counter()
            for i in range(500):
                log.info("busy %d", i)
            elapsed = time.perf_counter() - started
        assert elapsed < 1.0, f"500 log calls took {elapsed:.2f} s while the database was busy"
        handler.flush(timeout=30)
        assert LogEntry.objects.filter(message__startswith="busy ").count() == 500
    finally:
        handler.close()


@pytest.mark.django_db
def test_a_nul_character_does_not_cost_the_batch(db_handler):
    logging.getLogger("scraping_app").warning("bad \x00 byte from a board", extra={"raw": "a\x00b"})
    logging.getLogger("scraping_app").warning("good line")
    assert log_entries_flush() == 2
    bad = LogEntry.objects.get(message__startswith="bad")
    assert "\x00" not in bad.message and "\x00" not in bad.extra["raw"]
