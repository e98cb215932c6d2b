"""Cancelling a run, from the admin, the API or the CLI: a queued run ends at once; a running one is asked to stop
at its next `ctx.check()`, through its holder's heartbeat (any process, any host)."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from scheduler_app import runner
from scheduler_app.models import JobRun, OperatorAction
from scheduler_app.services.operator_actions import operator_action_record, operator_name


class RunNotFound(Exception):
    def __init__(self, run_id: int):
        super().__init__(f"No run {run_id}")


@dataclass(frozen=True)
class RunCancel:
    run: JobRun
    outcome: str  # "cancelled" (it had not started), "requested" (it stops at its next ctx.check()), "ended"
    message: str

    @property
    def accepted(self) -> bool:
        return self.outcome != "ended"


def job_run_cancel(*, run_id: int, user=None, source: str) -> RunCancel:
    """Cancel run `run_id` (an operator's decision; recorded). Terminal is final: an ended run stays as it is."""
    by = operator_name(user, source=source) or "an operator"
    now = timezone.now()
    queued = JobRun.objects.filter(pk=run_id, status=JobRun.Status.QUEUED).update(
        status=JobRun.Status.CANCELLED, finished_at=now, duration_ms=0, cancel_requested_at=now,
        cancel_requested_by=by, error=f"Cancelled by {by} before it started")
    running = not queued and JobRun.objects.filter(pk=run_id, status=JobRun.Status.RUNNING).update(
        cancel_requested_at=now, cancel_requested_by=by)
    run = JobRun.objects.filter(pk=run_id).first()
    if run is None:
        raise RunNotFound(run_id)
    if queued:
        result = RunCancel(run, "cancelled", f"Run #{run_id} of {run.job_id} was waiting for its lock: CANCELLED, "
                                             "it will not start.")
    elif running:
        here = runner.run_cancel_in_process(run_id, by=by)
        result = RunCancel(run, "requested", _requested_message(run, here=here))
    else:
        result = RunCancel(run, "ended", f"Run #{run_id} of {run.job_id} has already ended {run.status}; nothing "
                                         "to cancel.")
    operator_action_record(user=user, source=source, action=OperatorAction.Action.CANCEL_RUN, job_id=run.job_id,
                           run_id=run_id, outcome=result.message)
    return result


def _requested_message(run: JobRun, *, here: bool) -> str:
    head = f"Run #{run.pk} of {run.job_id} was asked to stop: it ends CANCELLED at its next ctx.check()"
    if here:
        return head + "."
    lease = settings.LOCK_LEASE_SECONDS
    age = (timezone.now() - run.heartbeat_at).total_seconds() if run.heartbeat_at else None
    if age is not None and age > lease:
        return (f"{head}, but its holder {run.host}:{run.pid} has been silent for {age:.0f} s: it is considered "
                "dead, and the next trigger of the job ends it ABANDONED.")
    return f"{head}; its holder {run.host}:{run.pid} sees the request within {lease / 3:g} s (its heartbeat)."
