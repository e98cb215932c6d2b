"""The two line formats of the console and the file (LOG_FORMAT): readable text, or one JSON object per line.

Both show which process wrote a line (role and pid: several processes share one file) and, inside a run, which job
and run it belongs to. The attributes come from `RunContextFilter`; a record that did not pass it (a handler added
by hand) still formats, with blanks.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from pythonjsonlogger.json import JsonFormatter

TEXT_FORMAT = "%(asctime)s [%(levelname)s] %(name)s [%(role)s:%(process)d]%(run_label)s: %(message)s"

# Always present, in this order (null outside a run), so that `jq 'select(.run_id == 42)'` needs no guards.
JSON_FIELDS = ("levelname", "name", "message", "job_id", "run_id", "trigger", "team_id", "process", "role", "host")
JSON_RENAMES = {"levelname": "level", "name": "logger", "process": "pid", "exc_info": "exception",
                "stack_info": "stack"}


class TextFormatter(logging.Formatter):
    """`2026-01-02 03:04:05,678 [INFO] scheduler_app [scheduler:1234] job=scrape_jobs_task run=42: message`"""

    def __init__(self, fmt: str = TEXT_FORMAT, datefmt: str | None = None):
        super().__init__(fmt, datefmt)

    def formatMessage(self, record: logging.LogRecord) -> str:
        # The label is computed here, not set on the record: another handler's JSON formatter would list it.
        return self._fmt % {"role": "-", "job_id": None, "run_id": None, **vars(record),
                            "run_label": _run_label(record)}


def _run_label(record: logging.LogRecord) -> str:
    job_id, run_id = getattr(record, "job_id", None), getattr(record, "run_id", None)
    label = ""
    if job_id:
        label += f" job={job_id}"
    if run_id is not None:
        label += f" run={run_id}"
    return label


class JsonLineFormatter(JsonFormatter):
    """One JSON object per line: timestamp (ISO 8601, UTC, ms), level, logger, message, job_id, run_id, trigger,
    team_id, pid, role, host; then the caller's `extra=` fields, and `exception` when there is one."""

    def __init__(self, **kwargs: Any):
        kwargs.setdefault("rename_fields", JSON_RENAMES)
        super().__init__(list(JSON_FIELDS), **kwargs)

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]) -> None:
        # First, so that a line reads like the text one; python-json-logger's own `timestamp=` puts it last.
        log_data["timestamp"] = datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds")
        super().add_fields(log_data, record, message_dict)
