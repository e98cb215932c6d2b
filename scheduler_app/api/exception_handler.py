"""The project's DRF exception handler (REST_FRAMEWORK["EXCEPTION_HANDLER"]).

- A trigger whose run row the database could not take answers 503 with the refusal's body, on every endpoint that
  triggers a job, not a 500.
- A Django ValidationError raised by a service (a model's or a service's own rule) is a 400 with its messages, as
  DRF's own ValidationError is.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler

from scheduler_app import selectors
from scheduler_app.runs import RunNotRecorded


def api_exception_handler(exc, context):
    if isinstance(exc, RunNotRecorded):
        refusal = selectors.run_not_recorded_refusal(job_id=exc.job_id, error=exc)
        return Response(refusal.as_dict(), status=refusal.http_status)
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        exc = exceptions.ValidationError(detail)
    return exception_handler(exc, context)
