"""Follow-up reminders. Each (application, follow-up date) gets one FollowUp row (unique constraint) and one
email: the email is claimed by a conditional update before it is sent, so repeated or racing runs never send it
twice; a failed send releases the claim for the next run.

A follow-up marked done is never emailed again. A snoozed one moves its due date, and its email goes once more at
the new date (snoozing clears emailed_at; only due follow-ups are sent)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from scraping_app import selectors
from scraping_app.models import FollowUp, JobApplication, SavedSearch, Team
from scraping_app.services.alerts import saved_search_digests_send
from scraping_app.services.common import job_atomic, job_checkpoint
from scraping_app.tracker import application_job

logger = logging.getLogger("scraping_app")


def follow_ups_check(*, team: Team | None = None, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    already = FollowUp.objects.filter(application=OuterRef("pk"), due_at=OuterRef("follow_up_at"))
    due = (JobApplication.objects.filter(follow_up_at__lte=now)
           .exclude(status__in=[JobApplication.Status.REJECTED, JobApplication.Status.WITHDRAWN])  # final stages
           .filter(~Exists(already))
           .select_related("posting", "team"))
    if team is not None:
        due = due.filter(team=team)
    created = 0
    for application in due:
        job_checkpoint()
        with job_atomic():
            _, made = FollowUp.objects.get_or_create(
                application=application, due_at=application.follow_up_at,
                defaults={"message": _message(application),
                          "recipients": selectors.team_member_emails(team=application.team)})
        created += made
    sent = follow_up_emails_send(team=team, now=now)
    digests = saved_search_digests_send(team=team, alert=SavedSearch.Alert.DAILY, now=now)  # the daily digests
    return {"reminders_created": created, "emails_sent": sent,
            "digests": {"emails": digests["emails"], "postings": digests["postings"]}}


def follow_up_emails_send(*, team: Team | None = None, now: datetime | None = None) -> int:
    """Send every due reminder not yet emailed and not done (this run's, earlier ones whose send failed, and
    snoozed ones whose new date has come)."""
    now = now or timezone.now()
    sendable = {"emailed_at__isnull": True, "done_at__isnull": True, "due_at__lte": now}
    pending = FollowUp.objects.filter(**sendable).select_related("application__posting")
    if team is not None:
        pending = pending.filter(application__team=team)
    sent = 0
    for follow_up in pending:
        job_checkpoint()
        with job_atomic():
            # Still sendable at the claim: a follow-up marked done or snoozed since the read is left alone.
            claimed = FollowUp.objects.filter(pk=follow_up.pk, **sendable).update(emailed_at=now)
        if not claimed or not follow_up.recipients:
            continue
        job = application_job(application=follow_up.application)
        try:
            send_mail(subject=f"Follow up: {job.title} at {job.company or '?'}", message=follow_up.message,
                      from_email=settings.DEFAULT_FROM_EMAIL, recipient_list=follow_up.recipients)
        except Exception:  # noqa: BLE001 - release the claim so the next run retries this email
            logger.exception("Follow-up email %s failed", follow_up.pk)
            FollowUp.objects.filter(pk=follow_up.pk).update(emailed_at=None)
            continue
        sent += 1
    return sent


SNOOZE_DAYS_MAX = 365


class FollowUpRefused(Exception):
    """A done follow-up cannot be snoozed, and a snooze may not land on another of its application's due dates
    (the API's 409)."""


def follow_up_done(*, follow_up: FollowUp, user=None, now: datetime | None = None) -> FollowUp:
    """Mark it done: no reminder is sent after this. Idempotent: a second call keeps the first time and user."""
    done_by = user if user is not None and user.is_authenticated else None
    FollowUp.objects.filter(pk=follow_up.pk, done_at__isnull=True).update(done_at=now or timezone.now(),
                                                                          done_by=done_by)
    follow_up.refresh_from_db()
    return follow_up


def follow_up_snooze(*, follow_up: FollowUp, days: int | None = None, until: datetime | None = None,
                     now: datetime | None = None) -> FollowUp:
    """Move its due date to `days` days from now, or to `until` (exactly one, in the future), count the snooze,
    and clear emailed_at so the reminder goes again, once, at the new date.

    When the application's follow_up_at is this follow-up's old date, it moves along: the reminder job makes one
    follow-up per (application, follow_up_at), and would otherwise make a new one at the old date at once.
    Raises ValueError for bad arguments and FollowUpRefused for a done follow-up or a date its application's other
    follow-up already has."""
    now = now or timezone.now()
    if (days is None) == (until is None):
        raise ValueError("Give days or until, not both.")
    if days is not None and not 1 <= days <= SNOOZE_DAYS_MAX:
        raise ValueError(f"days must be from 1 to {SNOOZE_DAYS_MAX}.")
    if until is not None and until <= now:
        raise ValueError("until must be in the future.")
    due = until if until is not None else now + timedelta(days=days)
    with transaction.atomic():
        current = FollowUp.objects.select_for_update().get(pk=follow_up.pk)
        if current.done_at is not None:
            raise FollowUpRefused("This follow-up is done; a done follow-up cannot be snoozed.")
        taken = FollowUp.objects.filter(application_id=current.application_id, due_at=due).exclude(pk=current.pk)
        if taken.exists():
            raise FollowUpRefused("The application already has a follow-up due at that time; pick another.")
        try:
            with transaction.atomic():  # a racing snooze onto the same time meets the unique rule: 409, not 500
                FollowUp.objects.filter(pk=current.pk).update(due_at=due, emailed_at=None,
                                                              snooze_count=F("snooze_count") + 1)
        except IntegrityError:
            raise FollowUpRefused("The application already has a follow-up due at that time; pick another.") from None
        JobApplication.objects.filter(pk=current.application_id, follow_up_at=current.due_at).update(
            follow_up_at=due)
    follow_up.refresh_from_db()
    return follow_up


def _message(application: JobApplication) -> str:
    job = application_job(application=application)  # a scraped posting, or a job found elsewhere
    return (f"Reminder for team {application.team.name}: follow up on your application "
            f"({application.get_status_display()}) for {job.title} at {job.company or '?'}.\n"
            f"Posting: {job.url or '-'}\nNotes: {application.notes or '-'}\n")
