"""The two line formats: text (readable, names process and run) and JSON (one object per line, every field)."""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import datetime

from logs_app.log_context import RunContextFilter
from logs_app.log_formats import JsonLineFormatter, TextFormatter
from scheduler_app.context import JobContext, job_context_active

FIELDS = ["timestamp", "level", "logger", "message", "job_id", "run_id", "trigger", "team_id", "pid", "role", "host"]


def _format(formatter: logging.Formatter, msg: str, *args, exc_info=None, ctx: JobContext | None = None,
            **extra) -> str:
    record = logging.LogRecord("scheduler_app", logging.WARNING, __file__, 1, msg, args, exc_info)
    vars(record).update(extra)
    if ctx is None:
        RunContextFilter(role="web", host="host-a").filter(record)
    else:
        with job_context_active(ctx):
            RunContextFilter(role="web", host="host-a").filter(record)
    return formatter.format(record)


def _ctx() -> JobContext:
    return JobContext(run_id=42, job_id="scrape_jobs_task", lock_key="scrape_jobs_task", fencing_token=1,
                      fence_check=lambda: True, trigger="api")


def test_a_json_line_inside_a_run_has_every_field():
    line = _format(JsonLineFormatter(), "Lock acquired for job: %s", "scrape_jobs_task", ctx=_ctx(), board="remoteok")
    assert "\n" not in line
    data = json.loads(line)
    assert list(data)[:len(FIELDS)] == FIELDS  # in this order, then the caller's extra fields
    assert data["message"] == "Lock acquired for job: scrape_jobs_task"
    assert (data["level"], data["logger"]) == ("WARNING", "scheduler_app")
    assert (data["job_id"], data["run_id"], data["trigger"], data["team_id"]) == ("scrape_jobs_task", 42, "api", None)
    assert (data["pid"], data["role"], data["host"]) == (os.getpid(), "web", "host-a")
    assert data["board"] == "remoteok"
    assert datetime.fromisoformat(data["timestamp"]).utcoffset().total_seconds() == 0
    assert "exception" not in data


def test_a_json_line_outside_a_run_has_nulls_and_the_exception_text():
    try:
        raise RuntimeError("boom\nsecond line")
    except RuntimeError:
        line = _format(JsonLineFormatter(), "failed", exc_info=sys.exc_info())
    assert "\n" not in line  # one line per record, whatever the traceback
    data = json.loads(line)
    assert set(FIELDS) <= set(data)
    assert (data["job_id"], data["run_id"], data["trigger"], data["team_id"]) == (None, None, None, None)
    assert data["exception"].startswith("Traceback (most recent call last):")
    assert "RuntimeError: boom\nsecond line" in data["exception"]


def test_text_lines_name_process_and_run():
    inside = _format(TextFormatter(), "Releasing lock for job: %s", "scrape_jobs_task", ctx=_ctx())
    outside = _format(TextFormatter(), "Scheduler started")
    assert inside.endswith(f"[WARNING] scheduler_app [web:{os.getpid()}] job=scrape_jobs_task run=42: "
                           "Releasing lock for job: scrape_jobs_task")
    assert outside.endswith(f"[WARNING] scheduler_app [web:{os.getpid()}]: Scheduler started")


def test_a_record_that_missed_the_filter_still_formats():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "plain", (), None)
    assert TextFormatter().format(record).endswith(f"[INFO] x [-:{os.getpid()}]: plain")
    data = json.loads(JsonLineFormatter().format(record))
    assert (data["message"], data["run_id"], data["role"]) == ("plain", None, None)


def test_the_text_label_is_not_left_on_the_record_for_a_json_handler():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "plain", (), None)
    TextFormatter().format(record)
    assert "run_label" not in json.loads(JsonLineFormatter().format(record))
