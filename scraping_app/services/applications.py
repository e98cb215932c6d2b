"""The tracker's writes: applications (to a scraped posting or to a job found elsewhere), their moves between
stages (scraping_app.tracker's graph, with history and timestamps), and their contacts and interviews.

Stage timestamps and history are written here only: a move locks its application's row (SELECT ... FOR UPDATE
on PostgreSQL; SQLite's IMMEDIATE transactions serialize writers) and checks the stage it reads there, so two
concurrent moves cannot both pass the check on a stale stage.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from scraping_app import tracker
from scraping_app.models import (
    ApplicationStageChange,
    AutomationRule,
    Contact,
    Interview,
    JobApplication,
    JobPosting,
    Team,
)

EXTERNAL_FIELDS = ("external_url", "external_title", "external_company")
# What application_update writes as given; status goes through application_move, the rest is fixed at creation.
PLAIN_FIELDS = ("notes", "follow_up_at", "salary_expected", "offer_salary", "offer_currency", "offer_period",
                "offer_notes")


class ApplicationRefused(ValidationError):
    """The application's state refuses the change (an illegal move, external fields on a posting's application):
    the request is well formed, so the API answers 409, naming what is allowed."""


def application_create(*, team: Team, posting: JobPosting | None = None, external_url: str = "",
                       external_title: str = "", external_company: str = "",
                       status: str = JobApplication.Status.SHORTLISTED, user=None, note: str = "",
                       notes: str = "", follow_up_at: datetime | None = None,
                       salary_expected: Decimal | None = None, offer_salary: Decimal | None = None,
                       offer_currency: str = "", offer_period: str = "", offer_notes: str = "",
                       created_by_rule: AutomationRule | None = None, now: datetime | None = None) -> JobApplication:
    """One application: to `posting`, or (no posting) to the job `external_title` names. It starts in `status`
    (any stage: an application sent last week starts at applied), whose timestamp is set, with its first history
    row. A second application of a team to one posting is an IntegrityError (the unique rule)."""
    external = {"external_url": external_url, "external_title": external_title,
                "external_company": external_company}
    if posting is not None and any(external.values()):
        raise ValidationError({"posting": ["Give a posting or an external job (external_title, external_url, "
                                           "external_company), not both."]})
    if posting is None and not external_title.strip():
        raise ValidationError({"external_title": ["Give a posting, or the title of a job found elsewhere."]})
    if status not in tracker.STAGES:
        raise ValidationError({"status": [tracker.move_refusal(from_status="", to_status=status)]})
    now = now or timezone.now()
    application = JobApplication(
        team=team, posting=posting, **external, status=status, notes=notes, follow_up_at=follow_up_at,
        salary_expected=salary_expected, offer_salary=offer_salary, offer_currency=offer_currency,
        offer_period=offer_period, offer_notes=offer_notes, created_by_rule=created_by_rule)
    _stamp(application, status=status, now=now)
    with transaction.atomic():
        application.save()
        ApplicationStageChange.objects.create(application=application, from_status="", to_status=status,
                                              changed_at=now, changed_by=user, note=note)
    return application


def _stamp(application: JobApplication, *, status: str, now: datetime) -> None:
    """The stage's timestamp the first time it is reached (an earlier one is never overwritten)."""
    application.status = status
    application.status_changed_at = now
    field = tracker.STAGE_TIMESTAMP_FIELDS.get(status)
    if field is not None and getattr(application, field) is None:
        setattr(application, field, now)


def application_move(*, application: JobApplication, to_status: str, user=None, note: str = "",
                     now: datetime | None = None) -> JobApplication:
    """Move the application to `to_status` if the graph allows it from the stage stored now (not the caller's
    copy): one history row, status_changed_at, and the stage's timestamp the first time. The same stage is no
    move: nothing is written. Refused: ApplicationRefused naming the allowed moves. Returns the stored row."""
    with transaction.atomic():
        current = JobApplication.objects.select_for_update().get(pk=application.pk)
        refusal = tracker.move_refusal(from_status=current.status, to_status=to_status)
        if refusal is not None:
            raise ApplicationRefused({"status": [refusal]})
        if current.status == to_status:
            return current
        now = now or timezone.now()
        from_status = current.status
        _stamp(current, status=to_status, now=now)
        current.save(update_fields=["status", "status_changed_at",
                                    *tracker.STAGE_TIMESTAMP_FIELDS.values(), "updated_at"])
        ApplicationStageChange.objects.create(application=current, from_status=from_status, to_status=to_status,
                                              changed_at=now, changed_by=user, note=note)
    return current


def application_update(*, application: JobApplication, data: dict[str, Any], user=None) -> JobApplication:
    """Plain fields (notes, follow-up date, salary and offer), an external job's details, and `status` (through
    application_move, in the same transaction). The team and the posting are fixed at creation."""
    data = dict(data)
    fixed = {"team": application.team_id, "posting": application.posting_id}
    changed = [name for name, value in fixed.items() if name in data and getattr(data[name], "pk", data[name]) != value]
    if changed:
        raise ApplicationRefused({name: ["Fixed when the application is created."] for name in changed})
    external = {name: data[name] for name in EXTERNAL_FIELDS if name in data}
    if application.posting_id and any(external.values()):
        raise ApplicationRefused({name: [f"This application tracks posting {application.posting_id}: it has no "
                                         f"external job."] for name, value in external.items() if value})
    to_status = data.get("status")
    with transaction.atomic():
        if to_status is not None:
            application = application_move(application=application, to_status=to_status, user=user)
        fields = [name for name in (*PLAIN_FIELDS, *EXTERNAL_FIELDS) if name in data]
        for name in fields:
            setattr(application, name, data[name])
        if application.posting_id is None and not application.external_title.strip():
            raise ValidationError({"external_title": ["A job found elsewhere needs its title."]})
        application.full_clean(validate_unique=False, validate_constraints=False)
        if fields:  # only these: a whole-row save would write back a stage a concurrent move has changed
            application.save(update_fields=[*fields, "updated_at"])
    return application


def applications_first_stage_record(*, application_ids: list[int], status: str, now: datetime) -> int:
    """The first history row of applications made in bulk (automation), all in `status`: one insert."""
    ApplicationStageChange.objects.bulk_create(
        [ApplicationStageChange(application_id=pk, from_status="", to_status=status, changed_at=now)
         for pk in application_ids])
    return len(application_ids)


# -- contacts and interviews -------------------------------------------------------------------------------------


def contact_create(*, application: JobApplication, data: dict[str, Any]) -> Contact:
    contact = Contact(application=application, **data)
    contact.full_clean()
    contact.save()
    return contact


def contact_update(*, contact: Contact, data: dict[str, Any]) -> Contact:
    return _child_update(contact, data)


def contact_delete(*, contact: Contact) -> None:
    contact.delete()


def interview_create(*, application: JobApplication, data: dict[str, Any]) -> Interview:
    interview = Interview(application=application, **data)
    interview.full_clean()
    interview.save()
    return interview


def interview_update(*, interview: Interview, data: dict[str, Any]) -> Interview:
    return _child_update(interview, data)


def interview_delete(*, interview: Interview) -> None:
    interview.delete()


def _child_update(instance: Contact | Interview, data: dict[str, Any]) -> Contact | Interview:
    for name, value in data.items():
        if name != "application":  # a contact or an interview stays with its application
            setattr(instance, name, value)
    instance.full_clean()
    instance.save()
    return instance
