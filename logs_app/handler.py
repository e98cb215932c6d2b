"""DatabaseLogHandler: log records as LogEntry rows, written in batches off the caller's thread.

- emit() only builds a small dict and appends it to a bounded buffer (no I/O), so a job is not slowed;
- a background thread writes the buffer in bulk INSERTs on its own connection, outside any job's transaction;
- it never raises into its caller and never recurses: records logged while the handler writes (on the writing
  thread) and records from `django.db` loggers are ignored, and its own failures go to stderr, not to logging;
- every record emitted inside a run carries the run's job_id, run_id and team_id (columns) and its trigger (in
  `extra`: no column, and no query filters on it), from `RunContextFilter` or, for a record that did not pass it,
  from the job context (`log_context.record_run_context`). The process facts the filter adds (role, host) are
  left out: the run's row names its host and pid, and the file has them on every line.

With `background=False` (the default under pytest, so that no thread writes into a test database or holds a
connection while it is dropped) records wait in the buffer until `write_pending()` is called.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
import traceback
import weakref
from collections import deque
from datetime import UTC, datetime
from typing import Any

from django.db import connection, transaction

from logs_app.log_context import CONTEXT_ATTRS, PROCESS_ATTRS, record_run_context

_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}
_NOT_EXTRA = _RECORD_ATTRS | frozenset(CONTEXT_ATTRS) | frozenset(PROCESS_ATTRS)
MAX_MESSAGE_CHARS = 32_000

_writing = threading.local()  # reentrancy guard: set while this thread writes log rows
_handlers: weakref.WeakSet[DatabaseLogHandler] = weakref.WeakSet()


def database_handlers() -> list[DatabaseLogHandler]:
    return list(_handlers)


def _clean(text: str) -> str:
    # PostgreSQL text and jsonb reject NUL characters: one such line must not cost its whole batch.
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


def _json_safe(value: Any) -> Any:
    if isinstance(value, str):
        return _clean(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    return repr(value)


class DatabaseLogHandler(logging.Handler):
    def __init__(self, level: int | str = logging.NOTSET, *, background: bool = True, batch_size: int = 500,
                 flush_seconds: float = 0.5, max_pending: int = 10_000):
        super().__init__(level)
        self.background = background
        self.batch_size = max(1, batch_size)
        self.flush_seconds = flush_seconds
        self.max_pending = max_pending
        self.dropped = 0
        self.written = 0
        self._pending: deque[dict] = deque()
        self._write_lock = threading.Lock()  # one batch at a time; flush() waits for an in-flight batch
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._stop = False
        self._thread: threading.Thread | None = None
        self._thread_pid: int | None = None
        self._last_error_report = 0.0
        _handlers.add(self)

    # -- the caller's side: cheap, never raises --------------------------------------------------------------------
    def handle(self, record: logging.LogRecord) -> bool:
        # Checked before Handler.handle takes the handler's lock: the writer thread must never wait on it.
        if getattr(_writing, "active", False) or record.name.startswith("django.db"):
            return False
        return super().handle(record)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if len(self._pending) >= self.max_pending:
                self.dropped += 1
                return
            if self.background:
                self._ensure_thread()
            self._pending.append(self._row(record))
            if self.background and len(self._pending) >= self.batch_size:
                self._wake.set()
        except Exception:  # noqa: BLE001 - logging must never break the caller
            self.dropped += 1

    def _row(self, record: logging.LogRecord) -> dict:
        message = record.getMessage()
        extra = {k: _json_safe(v) for k, v in vars(record).items() if k not in _NOT_EXTRA}
        if record.exc_info:
            extra["exception"] = "".join(traceback.format_exception(*record.exc_info))[-MAX_MESSAGE_CHARS:]
        elif record.exc_text:
            extra["exception"] = record.exc_text
        if record.stack_info:
            extra["stack"] = record.stack_info
        # An explicit `extra={"job_id": ...}` wins: lines logged outside the job's own thread can still say whose.
        context = record_run_context(record)
        if context["trigger"] is not None:
            extra["trigger"] = _json_safe(str(context["trigger"]))
        return {
            "timestamp": datetime.fromtimestamp(record.created, tz=UTC),
            "level": record.levelname[:10],
            "levelno": max(0, min(record.levelno, 32767)),
            "logger": record.name[:200],
            "message": _clean(message[:MAX_MESSAGE_CHARS]),
            "job_id": (context["job_id"] or "")[:64],
            "run_id": context["run_id"],
            "team_id": context["team_id"],
            "extra": extra,
        }

    # -- the writer's side ---------------------------------------------------------------------------------------------
    def write_pending(self) -> int:
        """Write everything buffered, in the calling thread, in batches. Returns the rows written."""
        total = 0
        with self._write_lock:
            while self._pending:
                batch = []
                while self._pending and len(batch) < self.batch_size:
                    batch.append(self._pending.popleft())
                total += self._write(batch)
        return total

    def _write(self, batch: list[dict]) -> int:
        _writing.active = True
        try:
            _insert_rows(batch)
            self.written += len(batch)
            return len(batch)
        except Exception as exc:  # noqa: BLE001 - a log write failure must not become a log record or an error
            self.dropped += len(batch)
            self._report(exc, len(batch))
            if threading.current_thread() is self._thread:
                self._close_connection()
            return 0
        finally:
            _writing.active = False

    def _report(self, exc: Exception, lost: int) -> None:
        """To stderr, at most once a minute: going through logging here is how handlers recurse."""
        now = time.monotonic()
        if now - self._last_error_report < 60:
            return
        self._last_error_report = now
        try:
            sys.stderr.write(f"DatabaseLogHandler: could not write {lost} log record(s) "
                             f"({type(exc).__name__}: {exc}); {self.dropped} dropped so far\n")
        except Exception:  # noqa: BLE001
            pass

    @staticmethod
    def _close_connection() -> None:
        try:
            connection.close()
        except Exception:  # noqa: BLE001
            pass

    def _ensure_thread(self) -> None:
        pid = os.getpid()
        if self._thread is not None and self._thread_pid == pid and self._thread.is_alive():
            return
        with self.lock:  # the handler's own RLock
            if self._thread is not None and self._thread_pid == pid and self._thread.is_alive():
                return
            if self._thread_pid is not None and self._thread_pid != pid:
                # Forked (gunicorn --preload): the parent writes its own buffer, and its locks may be held.
                self._write_lock = threading.Lock()
                self._pending.clear()
            self._stop = False
            self._thread_pid = pid
            self._thread = threading.Thread(target=self._run, name="db-log-writer", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            self._wake.wait(self.flush_seconds)
            self._wake.clear()
            self._idle.clear()
            try:
                self.write_pending()
            except Exception:  # noqa: BLE001 - the writer thread must survive anything
                pass
            finally:
                # Hold no connection while idle: a test database (or a PgBouncer slot) is not pinned by a logger.
                if not self._pending:
                    self._close_connection()
                self._idle.set()
            if self._stop and not self._pending:
                return

    # -- logging.Handler API ----------------------------------------------------------------------------------------
    def flush(self, timeout: float = 5.0) -> None:
        """Background mode: wake the writer and wait until what was buffered is written (bounded wait).
        Without a writer thread, flush() writes nothing: call write_pending() (logging.shutdown calls flush()
        at exit, and an exiting test run must not write into a database it has already dropped)."""
        thread = self._thread
        if not self.background or thread is None or not thread.is_alive() or thread is threading.current_thread():
            return
        deadline = time.monotonic() + timeout
        while self._pending and time.monotonic() < deadline:
            self._idle.clear()
            self._wake.set()
            self._idle.wait(min(0.5, max(0.0, deadline - time.monotonic())))
        with self._write_lock:  # an in-flight batch has been committed once this is free
            pass

    def close(self) -> None:
        self.flush()
        self._stop = True
        self._wake.set()
        super().close()


_COLUMNS = ("timestamp", "level", "levelno", "logger", "message", "job_id", "run_id", "team_id", "extra")


def _insert_rows(rows: list[dict]) -> None:
    """One batch in one transaction (a savepoint inside a caller's atomic block), without model instances (building
    them cost more than the INSERT). PostgreSQL: COPY (about 3x executemany); elsewhere: executemany."""
    from logs_app.models import LogEntry  # noqa: PLC0415 - the handler is built with the settings, before models load

    ops = connection.ops
    table = ops.quote_name(LogEntry._meta.db_table)
    columns = ", ".join(ops.quote_name(c) for c in _COLUMNS)
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql" and hasattr(cursor.cursor, "copy"):
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for r in rows:
                    copy.write_row((r["timestamp"], r["level"], r["levelno"], r["logger"], r["message"], r["job_id"],
                                    r["run_id"], r["team_id"], json.dumps(r["extra"])))
            return
        cursor.executemany(
            f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(_COLUMNS))})",
            [(ops.adapt_datetimefield_value(r["timestamp"]), r["level"], r["levelno"], r["logger"], r["message"],
              r["job_id"], r["run_id"], r["team_id"], ops.adapt_json_value(r["extra"], None)) for r in rows])
