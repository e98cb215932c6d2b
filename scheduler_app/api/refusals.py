"""How the API answers a trigger that did not start, for every endpoint that triggers a job: 409 while the lock is
held, 503 when the lock service is unavailable (LOCK_FALLBACK=fail) or the run row cannot be written."""

from __future__ import annotations

from rest_framework.response import Response
from rest_framework.views import exception_handler

from scheduler_app import selectors
from scheduler_app.models import JobRun
from scheduler_app.runs import RunNotRecorded


def refusal_response(run: JobRun) -> Response | None:
    """The 409/503 for a run that did not start; None for a run that started (the caller renders it)."""
    refusal = selectors.run_refusal(run=run)
    return None if refusal is None else _response(refusal)


def api_exception_handler(exc, context):
    """DRF's handler, plus: a trigger whose run row the database could not take is a 503, not a 500."""
    if isinstance(exc, RunNotRecorded):
        return _response(selectors.run_not_recorded_refusal(job_id=exc.job_id, error=exc))
    return exception_handler(exc, context)


def _response(refusal: selectors.Refusal) -> Response:
    return Response(refusal.as_dict(), status=refusal.http_status)
