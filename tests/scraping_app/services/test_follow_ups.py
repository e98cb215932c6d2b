"""Follow-up reminders through the locked job: one reminder and one email per due date."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from scraping_app.models import FollowUp, JobApplication
from scraping_app.services import follow_ups_check
from tests.scraping_app.services.conftest import posting, run

pytestmark = pytest.mark.django_db


def test_each_due_follow_up_makes_one_reminder_and_one_email(fake_redis, team):
    now = timezone.now()
    due = JobApplication.objects.create(team=team, posting=posting(1), status="applied",
                                        follow_up_at=now - timedelta(hours=1))
    JobApplication.objects.create(team=team, posting=posting(2), follow_up_at=now + timedelta(days=1))
    JobApplication.objects.create(team=team, posting=posting(3), status="rejected",
                                  follow_up_at=now - timedelta(days=1))

    first = run("check_follow_ups_task")
    second = run("check_follow_ups_task")

    assert first.result == {"reminders_created": 1, "emails_sent": 1}
    assert second.result == {"reminders_created": 0, "emails_sent": 0}
    reminder = FollowUp.objects.get()
    assert reminder.application == due and reminder.recipients == ["ann@example.com"]
    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject == "Follow up: Python developer 1 at Acme"


def test_a_moved_follow_up_date_gets_its_own_reminder(fake_redis, team):
    application = JobApplication.objects.create(team=team, posting=posting(1),
                                                follow_up_at=timezone.now() - timedelta(minutes=5))
    run("check_follow_ups_task")
    application.follow_up_at = timezone.now() - timedelta(minutes=1)
    application.save()
    run("check_follow_ups_task")
    run("check_follow_ups_task")
    assert FollowUp.objects.count() == 2 and len(mail.outbox) == 2


def test_a_failed_email_is_retried_by_the_next_run_and_sent_once(team, settings):
    JobApplication.objects.create(team=team, posting=posting(1), follow_up_at=timezone.now())
    settings.EMAIL_BACKEND = "tests.scraping.test_follow_ups_automation.BrokenBackend"
    assert follow_ups_check() == {"reminders_created": 1, "emails_sent": 0}
    assert FollowUp.objects.get().emailed_at is None
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert follow_ups_check() == {"reminders_created": 0, "emails_sent": 1}
    assert follow_ups_check() == {"reminders_created": 0, "emails_sent": 0}
    assert len(mail.outbox) == 1


class BrokenBackend:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("SMTP down")
