"""How every trigger endpoint answers for its run (a public module of the framework): a refusal is its 409/503
with the refusal's body; every answer carries the run's id and status in headers, so `curl -f` and scripts can
tell a FAILED run from a SUCCEEDED one without parsing the body (a run that ran answers 200 either way)."""

from __future__ import annotations

from rest_framework.response import Response

from scheduler_app.models import JobRun
from scheduler_app.selectors import run_refusal

RUN_STATUS_HEADER = "X-Run-Status"
RUN_ID_HEADER = "X-Run-Id"


def run_headers(run: JobRun) -> dict[str, str]:
    return {RUN_ID_HEADER: str(run.pk), RUN_STATUS_HEADER: run.status}


def refusal_response(*, run: JobRun, request) -> Response | None:
    """The 409/503 answer when `run` was refused; None when it started."""
    refusal = run_refusal(run=run)
    if refusal is None:
        return None
    return Response(refusal.as_dict(staff=request.user.is_staff), status=refusal.http_status,
                    headers=run_headers(run))
