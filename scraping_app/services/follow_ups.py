"""Follow-up reminders. Each (application, follow-up date) gets one FollowUp row (unique constraint) and one
email: the email is claimed by a conditional update before it is sent, so repeated or racing runs never send it
twice; a failed send releases the claim for the next run."""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.core.mail import send_mail
from django.db.models import Exists, OuterRef
from django.utils import timezone

from scraping_app.models import FollowUp, JobApplication, Team
from scraping_app.services.common import job_atomic, job_checkpoint

logger = logging.getLogger("scraping_app")


def follow_ups_check(*, team: Team | None = None, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    already = FollowUp.objects.filter(application=OuterRef("pk"), due_at=OuterRef("follow_up_at"))
    due = (JobApplication.objects.filter(follow_up_at__lte=now)
           .exclude(status=JobApplication.Status.REJECTED)
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
                defaults={"message": _message(application), "recipients": _recipients(application.team)})
        created += made
    sent = follow_up_emails_send(team=team, now=now)
    return {"reminders_created": created, "emails_sent": sent}


def follow_up_emails_send(*, team: Team | None = None, now: datetime | None = None) -> int:
    """Send every reminder not yet emailed (this run's, and earlier ones whose send failed)."""
    now = now or timezone.now()
    pending = FollowUp.objects.filter(emailed_at__isnull=True).select_related("application__posting")
    if team is not None:
        pending = pending.filter(application__team=team)
    sent = 0
    for follow_up in pending:
        job_checkpoint()
        with job_atomic():
            claimed = FollowUp.objects.filter(pk=follow_up.pk, emailed_at__isnull=True).update(emailed_at=now)
        if not claimed or not follow_up.recipients:
            continue
        posting = follow_up.application.posting
        try:
            send_mail(subject=f"Follow up: {posting.title} at {posting.company}", message=follow_up.message,
                      from_email=settings.DEFAULT_FROM_EMAIL, recipient_list=follow_up.recipients)
        except Exception:  # noqa: BLE001 - release the claim so the next run retries this email
            logger.exception("Follow-up email %s failed", follow_up.pk)
            FollowUp.objects.filter(pk=follow_up.pk).update(emailed_at=None)
            continue
        sent += 1
    return sent


def _recipients(team: Team) -> list[str]:
    return sorted({email for email in team.members.values_list("email", flat=True) if email})


def _message(application: JobApplication) -> str:
    posting = application.posting
    return (f"Reminder for team {application.team.name}: follow up on your application "
            f"({application.get_status_display()}) for {posting.title} at {posting.company}.\n"
            f"Posting: {posting.url or posting.apply_url}\nNotes: {application.notes or '-'}\n")
