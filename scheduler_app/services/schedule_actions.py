"""Pausing and resuming a job's schedule, from the admin, the API or the CLI.

A paused schedule fires nothing and records nothing per slot; manual triggers (API, admin, runjob, a direct call)
still run. Each change is recorded and makes every scheduler reload at once; on resume the schedule goes on from
its next slot after then, and the slots it skipped are never replayed (scheduler.process keeps a paused job in the
store with no next run time).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils import timezone

from scheduler_app.models import JobDefinition, OperatorAction
from scheduler_app.registry import JobNotFound
from scheduler_app.selectors import pause_text
from scheduler_app.services.operator_actions import operator_action_record, operator_name
from scheduler_app.services.scheduler_instances import scheduler_reload_request

logger = logging.getLogger("scheduler_app")

PAUSE_REASON_MAX = JobDefinition._meta.get_field("pause_reason").max_length


@dataclass(frozen=True)
class ScheduleChange:
    """What a pause or resume did: `changed` is False when the schedule already was as asked (not an error)."""

    definition: JobDefinition
    changed: bool
    message: str


def _definition(job_id: str) -> JobDefinition:
    definition = JobDefinition.objects.filter(job_id=job_id).first()
    if definition is None:
        raise JobNotFound(job_id)
    return definition


def _paused_text(definition: JobDefinition) -> str:
    return pause_text(paused_by=definition.paused_by, paused_at=definition.paused_at, reason=definition.pause_reason)


def job_schedule_pause(*, job_id: str, reason: str, user=None, source: str) -> ScheduleChange:
    """Pause the job's schedule, saying why (required, at most 500 characters). Pausing a paused schedule changes
    nothing (who paused it, when and why stand) and says so."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "A reason is required to pause a schedule."})
    if len(reason) > PAUSE_REASON_MAX:
        raise ValidationError({"reason": f"At most {PAUSE_REASON_MAX} characters."})
    by = operator_name(user, source=source) or "an operator"
    now = timezone.now()
    # Conditional: of two operators pausing at once, one pauses and the other is told it already was.
    changed = bool(JobDefinition.objects.filter(job_id=job_id, paused_at__isnull=True).update(
        paused_at=now, paused_by=by, pause_reason=reason, updated_at=now))
    definition = _definition(job_id)
    if changed:
        scheduler_reload_request()
        message = (f"Schedule of {job_id} {_paused_text(definition)}. No slot fires or is recorded until it is "
                   "resumed; manual triggers still run.")
        logger.info("Schedule of job: %s paused by %s: %s", job_id, by, reason, extra={"job_id": job_id})
    else:
        message = f"Schedule of {job_id} is already {_paused_text(definition)}; nothing changed."
    operator_action_record(user=user, source=source, action=OperatorAction.Action.PAUSE_SCHEDULE, job_id=job_id,
                           outcome=message)
    return ScheduleChange(definition=definition, changed=changed, message=message)


def job_schedule_resume(*, job_id: str, user=None, source: str) -> ScheduleChange:
    """Resume a paused schedule: it fires again from its next slot after now. Resuming a running schedule changes
    nothing and says so."""
    definition = _definition(job_id)
    was = _paused_text(definition)
    changed = definition.paused_at is not None and bool(
        JobDefinition.objects.filter(pk=definition.pk, paused_at=definition.paused_at).update(
            paused_at=None, paused_by="", pause_reason="", updated_at=timezone.now()))
    if changed:
        definition = _definition(job_id)
        scheduler_reload_request()
        message = (f"Schedule of {job_id} resumed (it was {was}). It fires from its next slot after now; the "
                   "slots skipped while paused are not run.")
        logger.info("Schedule of job: %s resumed by %s", job_id, operator_name(user, source=source) or "an operator",
                    extra={"job_id": job_id})
    else:
        definition = _definition(job_id)  # another operator may have resumed (or paused) it meanwhile
        message = (f"Schedule of {job_id} is not paused; nothing changed." if definition.paused_at is None else
                   f"Schedule of {job_id} is {_paused_text(definition)} (paused again meanwhile); nothing changed.")
    operator_action_record(user=user, source=source, action=OperatorAction.Action.RESUME_SCHEDULE, job_id=job_id,
                           outcome=message)
    return ScheduleChange(definition=definition, changed=changed, message=message)
