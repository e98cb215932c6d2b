"""Follow-up reminders through the locked job: one reminder and one email per due date."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from scraping_app.models import FollowUp, JobApplication
from scraping_app.services import FollowUpRefused, follow_up_done, follow_up_snooze, follow_ups_check
from tests.scraping_app.services.conftest import posting, run

pytestmark = pytest.mark.django_db

NO_DIGESTS = {"digests": {"emails": 0, "postings": 0}}  # no saved search here alerts daily


def test_each_due_follow_up_makes_one_reminder_and_one_email(fake_redis, team):
    now = timezone.now()
    due = JobApplication.objects.create(team=team, posting=posting(1), status="applied",
                                        follow_up_at=now - timedelta(hours=1))
    JobApplication.objects.create(team=team, posting=posting(2), follow_up_at=now + timedelta(days=1))
    JobApplication.objects.create(team=team, posting=posting(3), status="rejected",
                                  follow_up_at=now - timedelta(days=1))

    first = run("check_follow_ups_task")
    second = run("check_follow_ups_task")

    assert first.result == {"reminders_created": 1, "emails_sent": 1, **NO_DIGESTS}
    assert second.result == {"reminders_created": 0, "emails_sent": 0, **NO_DIGESTS}
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
    assert follow_ups_check() == {"reminders_created": 1, "emails_sent": 0, **NO_DIGESTS}
    assert FollowUp.objects.get().emailed_at is None
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert follow_ups_check() == {"reminders_created": 0, "emails_sent": 1, **NO_DIGESTS}
    assert follow_ups_check() == {"reminders_created": 0, "emails_sent": 0, **NO_DIGESTS}
    assert len(mail.outbox) == 1


def _reminded(team, n: int = 1, *, at=None) -> FollowUp:
    """An application due now and its reminder, made and emailed by the job's service."""
    at = at or timezone.now()
    application = JobApplication.objects.create(team=team, posting=posting(n), follow_up_at=at - timedelta(hours=1))
    follow_ups_check(now=at)
    return FollowUp.objects.get(application=application)


def test_a_done_follow_up_is_never_emailed(team):
    now = timezone.now()
    JobApplication.objects.create(team=team, posting=posting(1), follow_up_at=now - timedelta(hours=1))
    follow_ups_check(now=now - timedelta(minutes=30))  # made, and sent
    reminder = FollowUp.objects.get()
    FollowUp.objects.filter(pk=reminder.pk).update(emailed_at=None)  # as after a failed send: the next run retries
    follow_up_done(follow_up=reminder, user=None, now=now)

    assert follow_ups_check(now=now + timedelta(days=1)) == {"reminders_created": 0, "emails_sent": 0, **NO_DIGESTS}
    assert len(mail.outbox) == 1


def test_done_is_idempotent_and_keeps_the_first_time_and_user(team):
    reminder = _reminded(team)
    ann, bob = team.members.order_by("username")
    first = follow_up_done(follow_up=reminder, user=ann)
    done_at = first.done_at
    second = follow_up_done(follow_up=reminder, user=bob, now=done_at + timedelta(hours=1))
    assert (second.done_at, second.done_by) == (done_at, ann)


def test_a_snoozed_follow_up_is_sent_again_once_at_its_new_time(team):
    now = timezone.now()
    reminder = _reminded(team, at=now)
    assert len(mail.outbox) == 1

    snoozed = follow_up_snooze(follow_up=reminder, days=2, now=now)

    assert snoozed.due_at == now + timedelta(days=2) and snoozed.snooze_count == 1 and snoozed.emailed_at is None
    assert snoozed.application.follow_up_at == snoozed.due_at  # the job makes no new reminder at the old date
    assert follow_ups_check(now=now + timedelta(days=1)) == {"reminders_created": 0, "emails_sent": 0, **NO_DIGESTS}
    assert follow_ups_check(now=now + timedelta(days=2)) == {"reminders_created": 0, "emails_sent": 1, **NO_DIGESTS}
    assert follow_ups_check(now=now + timedelta(days=3)) == {"reminders_created": 0, "emails_sent": 0, **NO_DIGESTS}
    assert len(mail.outbox) == 2 and FollowUp.objects.count() == 1


def test_the_locked_job_sends_a_snoozed_reminder_at_its_new_time(fake_redis, team):
    reminder = _reminded(team)
    snoozed = follow_up_snooze(follow_up=reminder, days=1)
    assert run("check_follow_ups_task").result == {"reminders_created": 0, "emails_sent": 0, **NO_DIGESTS}
    came = timezone.now() - timedelta(seconds=1)  # the new time comes (both dates moved together, as the snooze did)
    FollowUp.objects.filter(pk=snoozed.pk).update(due_at=came)
    JobApplication.objects.filter(pk=snoozed.application_id).update(follow_up_at=came)

    assert run("check_follow_ups_task").result == {"reminders_created": 0, "emails_sent": 1, **NO_DIGESTS}
    assert run("check_follow_ups_task").result == {"reminders_created": 0, "emails_sent": 0, **NO_DIGESTS}
    assert len(mail.outbox) == 2


def test_snoozing_an_older_follow_up_leaves_the_applications_later_date_alone(team):
    now = timezone.now()
    reminder = _reminded(team, at=now)
    later = now + timedelta(days=5)
    JobApplication.objects.filter(pk=reminder.application_id).update(follow_up_at=later)
    follow_up_snooze(follow_up=reminder, days=1, now=now)
    assert JobApplication.objects.get(pk=reminder.application_id).follow_up_at == later


def test_a_done_follow_up_cannot_be_snoozed(team):
    reminder = follow_up_done(follow_up=_reminded(team))
    with pytest.raises(FollowUpRefused, match="done"):
        follow_up_snooze(follow_up=reminder, days=1)
    assert FollowUp.objects.get().snooze_count == 0


def test_a_snooze_onto_another_follow_ups_due_time_is_refused(team):
    now = timezone.now()
    first = _reminded(team, at=now)
    taken = now + timedelta(days=3)
    FollowUp.objects.create(application=first.application, due_at=taken, message="later")
    with pytest.raises(FollowUpRefused, match="already has a follow-up due"):
        follow_up_snooze(follow_up=first, until=taken, now=now)
    with pytest.raises(FollowUpRefused):
        follow_up_snooze(follow_up=first, days=3, now=now)
    first.refresh_from_db()
    assert first.due_at == now - timedelta(hours=1) and first.snooze_count == 0


@pytest.mark.parametrize("kwargs", [{}, {"days": 0}, {"days": 366}, {"days": 1, "until": "both"}, {"until": "past"}])
def test_snooze_arguments_are_checked(team, kwargs):
    now = timezone.now()
    values = {"until": {"both": now + timedelta(days=1), "past": now}.get(kwargs.get("until"))} if "until" in kwargs \
        else {}
    with pytest.raises(ValueError):
        follow_up_snooze(follow_up=_reminded(team), now=now, **{**kwargs, **values})


class BrokenBackend:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("SMTP down")


def test_a_withdrawn_application_gets_no_reminder_and_an_external_one_does(team):
    now = timezone.now()
    JobApplication.objects.create(team=team, posting=posting(1), status="withdrawn",
                                  follow_up_at=now - timedelta(days=1))
    external = JobApplication.objects.create(team=team, external_title="Staff engineer", external_company="Initech",
                                             external_url="https://jobs.example/7", status="applied",
                                             follow_up_at=now - timedelta(hours=1))
    assert follow_ups_check(now=now) == {"reminders_created": 1, "emails_sent": 1,
                                         "digests": {"emails": 0, "postings": 0}}
    reminder = FollowUp.objects.get()
    assert reminder.application == external
    assert "for Staff engineer at Initech" in reminder.message and "https://jobs.example/7" in reminder.message
    assert mail.outbox[0].subject == "Follow up: Staff engineer at Initech"
