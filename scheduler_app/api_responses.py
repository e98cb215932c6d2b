"""How the API answers a run that did not start. Shared by every endpoint that triggers a job."""

from __future__ import annotations

from rest_framework import status
from rest_framework.response import Response

from scheduler_app.models import JobRun


def refusal_response(run: JobRun) -> Response | None:
    """409 while the lock is held (with holder and TTL left), 503 when the lock service is unavailable
    (LOCK_FALLBACK=fail); None for a run that started (the caller renders it)."""
    if run.status != JobRun.Status.SKIPPED:
        return None
    if run.skip_reason == JobRun.SkipReason.LOCK_UNAVAILABLE:
        return Response({"detail": "Lock service unavailable", "job_id": run.job_id, "run_id": run.pk,
                         "error": run.error}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
    blocked = run.blocked_by or {}
    return Response(
        {"detail": "Job is already running", "job_id": run.job_id, "run_id": run.pk,
         "holder": blocked.get("holder"), "ttl_seconds": blocked.get("ttl_seconds")},
        status=status.HTTP_409_CONFLICT,
    )
