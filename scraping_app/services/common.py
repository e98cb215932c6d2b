from __future__ import annotations

from contextlib import AbstractContextManager

from django.db import transaction

from scheduler_app.context import current_job_context


def job_atomic() -> AbstractContextManager:
    """Inside a job: a transaction that commits only while the run holds its lock with a current fencing token
    (a stale holder cannot commit). Outside a job: a plain transaction."""
    ctx = current_job_context()
    return ctx.atomic() if ctx is not None else transaction.atomic()


def job_checkpoint() -> None:
    """Raise JobCancelled once the running job timed out or lost its lock; nothing outside a job."""
    ctx = current_job_context()
    if ctx is not None:
        ctx.check()


def job_mark_partial(message: str) -> None:
    """Inside a job: the run ends PARTIAL with `message` among its warnings; nothing outside a job."""
    ctx = current_job_context()
    if ctx is not None:
        ctx.mark_partial(message)
