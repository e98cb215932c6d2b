"""Which run a log record belongs to, and the filter that stamps it on every record, for every handler.

A line logged inside a run (in the job's thread) gets its job, run, trigger and team from `current_job_context()`.
A line logged elsewhere about a run (the renewal thread, the watchdog, a refusal before the run starts, an
operator's action) names it explicitly with `extra={"job_id": ..., "run_id": ...}`; such a record keeps its own
values, and the context only fills its gaps when it is the same run. The filter also stamps the process facts
(role, host; the pid is the record's own `process`), so that one file shared by several processes stays readable.
"""

from __future__ import annotations

import logging
import socket
from typing import Any

from scheduler_app.context import current_job_context

CONTEXT_ATTRS = ("job_id", "run_id", "trigger", "team_id")
PROCESS_ATTRS = ("role", "host")


def record_run_context(record: logging.LogRecord) -> dict[str, Any]:
    """{job_id, run_id, trigger, team_id} of the record (None where unknown)."""
    own = {name: getattr(record, name, None) for name in CONTEXT_ATTRS}
    ctx = current_job_context()
    if ctx is None:
        return _normalised(own)
    # A line about another run (say, a job that force-releases another job's lock) must not borrow this run's ids.
    if own["run_id"] is not None and str(own["run_id"]) != str(ctx.run_id):
        return _normalised(own)
    if own["job_id"] is not None and own["job_id"] != ctx.job_id:
        return _normalised(own)
    current = {"job_id": ctx.job_id, "run_id": ctx.run_id, "trigger": ctx.trigger,
               "team_id": getattr(ctx.team, "pk", None)}
    return _normalised({name: current[name] if own[name] is None else own[name] for name in CONTEXT_ATTRS})


def _normalised(context: dict[str, Any]) -> dict[str, Any]:
    # Ids as numbers whatever a caller passed (`extra={"run_id": "12"}`): `jq 'select(.run_id == 12)'` compares types.
    for name in ("run_id", "team_id"):
        context[name] = _as_int(context[name])
    if context["job_id"] is not None:
        context["job_id"] = str(context["job_id"])
    return context


def _as_int(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


class RunContextFilter(logging.Filter):
    """Attached to each handler in LOGGING (not to loggers: a filter on a logger does not see records that
    propagate to it from child loggers). Stamps the record in place and never drops it."""

    def __init__(self, role: str = "", host: str | None = None):
        super().__init__()
        self.role = role
        self.host = host or socket.gethostname()  # once: this runs for every record on every handler

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in record_run_context(record).items():
            setattr(record, name, value)
        record.role = self.role
        record.host = self.host
        return True
