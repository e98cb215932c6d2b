"""The tracker's writes: applications to postings and to jobs found elsewhere, moves with history and timestamps
set once, plain updates that never undo a move, contacts and interviews, and the stale-stage guard."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from scraping_app.models import ApplicationStageChange, Contact, Interview, JobApplication, Team
from scraping_app.services import (
    ApplicationRefused,
    application_create,
    application_move,
    application_update,
    contact_create,
    contact_delete,
    contact_update,
    interview_create,
    interview_delete,
    interview_update,
)
from tests.scraping_app.services.conftest import posting
from tests.waiting import wait_for

T0 = timezone.now().replace(microsecond=0) - timedelta(days=10)


def history(application) -> list[tuple[str, str]]:
    return list(ApplicationStageChange.objects.filter(application=application)
                .values_list("from_status", "to_status"))


@pytest.fixture
def job(db):
    return posting(1)


@pytest.fixture
def user(db):
    return get_user_model().objects.create(username="mover")


@pytest.mark.django_db
class TestCreate:
    def test_a_new_application_is_shortlisted_with_its_first_history_row(self, team, job, user):
        application = application_create(team=team, posting=job, user=user, note="found it", now=T0)
        assert application.status == "shortlisted" and application.status_changed_at == T0
        assert [application.applied_at, application.interviewing_at, application.offer_at,
                application.rejected_at, application.withdrawn_at] == [None] * 5
        [first] = ApplicationStageChange.objects.filter(application=application)
        assert (first.from_status, first.to_status, first.changed_at, first.changed_by, first.note) == (
            "", "shortlisted", T0, user, "found it")

    def test_starting_at_a_later_stage_sets_that_stages_timestamp(self, team, job):
        application = application_create(team=team, posting=job, status="applied", now=T0)
        stored = JobApplication.objects.get(pk=application.pk)
        assert (stored.status, stored.applied_at, stored.status_changed_at) == ("applied", T0, T0)
        assert history(stored) == [("", "applied")]

    def test_an_external_application_needs_no_posting(self, team):
        application = application_create(team=team, external_title="Staff engineer", external_company="Initech",
                                         external_url="https://jobs.example/42", salary_expected=Decimal("90000"))
        stored = JobApplication.objects.get(pk=application.pk)
        assert stored.posting is None
        assert (stored.external_title, stored.external_company, stored.external_url, stored.salary_expected) == (
            "Staff engineer", "Initech", "https://jobs.example/42", Decimal("90000"))
        assert history(stored) == [("", "shortlisted")]

    @pytest.mark.parametrize("title", ["", "   "])
    def test_neither_a_posting_nor_an_external_title_is_refused(self, team, title):
        with pytest.raises(ValidationError) as raised:
            application_create(team=team, external_title=title, external_url="https://jobs.example/1")
        assert "external_title" in raised.value.message_dict
        assert not JobApplication.objects.exists() and not ApplicationStageChange.objects.exists()

    def test_a_posting_and_an_external_job_together_are_refused(self, team, job):
        with pytest.raises(ValidationError) as raised:
            application_create(team=team, posting=job, external_title="Other")
        assert "posting" in raised.value.message_dict
        assert not JobApplication.objects.exists()

    def test_the_database_refuses_an_application_without_posting_or_title(self, team):
        with pytest.raises(IntegrityError), transaction.atomic():
            JobApplication.objects.create(team=team, external_url="https://jobs.example/1")

    def test_a_second_application_to_one_posting_is_the_unique_rules_error(self, team, job):
        application_create(team=team, posting=job)
        with pytest.raises(IntegrityError), transaction.atomic():
            application_create(team=team, posting=job)
        assert ApplicationStageChange.objects.count() == 1


@pytest.mark.django_db
class TestMove:
    def test_each_move_writes_history_and_sets_its_timestamp(self, team, job, user):
        application = application_create(team=team, posting=job, now=T0)
        steps = [("applied", T0 + timedelta(days=1)), ("interviewing", T0 + timedelta(days=5)),
                 ("offer", T0 + timedelta(days=9))]
        for stage, at in steps:
            application = application_move(application=application, to_status=stage, user=user, note=stage,
                                           now=at)
        stored = JobApplication.objects.get(pk=application.pk)
        assert (stored.status, stored.applied_at, stored.interviewing_at, stored.offer_at) == (
            "offer", steps[0][1], steps[1][1], steps[2][1])
        assert stored.status_changed_at == steps[2][1] and stored.rejected_at is None
        assert history(stored) == [("", "shortlisted"), ("shortlisted", "applied"), ("applied", "interviewing"),
                                   ("interviewing", "offer")]
        assert list(stored.stage_changes.values_list("note", "changed_by")[1:]) == [
            ("applied", user.pk), ("interviewing", user.pk), ("offer", user.pk)]

    def test_a_timestamp_already_set_is_never_overwritten(self, team, job):
        # e.g. an application stored before the tracker, already dated
        application = JobApplication.objects.create(team=team, posting=job, applied_at=T0)
        moved = application_move(application=application, to_status="applied", now=T0 + timedelta(days=3))
        assert moved.applied_at == T0 and moved.status_changed_at == T0 + timedelta(days=3)

    def test_moving_to_the_stage_it_is_in_changes_nothing(self, team, job):
        application = application_create(team=team, posting=job, status="applied", now=T0)
        again = application_move(application=application, to_status="applied", now=T0 + timedelta(days=1))
        stored = JobApplication.objects.get(pk=application.pk)
        assert again.applied_at == stored.applied_at == stored.status_changed_at == T0
        assert history(stored) == [("", "applied")]

    @pytest.mark.parametrize(("start", "to"), [("interviewing", "applied"), ("applied", "shortlisted"),
                                               ("rejected", "shortlisted"), ("withdrawn", "offer"),
                                               ("shortlisted", "offer")])
    def test_a_refused_move_raises_naming_why_and_writes_nothing(self, team, job, start, to):
        application = application_create(team=team, posting=job, status=start, now=T0)
        with pytest.raises(ApplicationRefused) as raised:
            application_move(application=application, to_status=to)
        [message] = raised.value.message_dict["status"]
        assert message.startswith(("Cannot move", "The application is")), message
        stored = JobApplication.objects.get(pk=application.pk)
        assert (stored.status, stored.status_changed_at) == (start, T0)
        assert history(stored) == [("", start)]

    def test_the_stage_stored_now_decides_not_the_callers_stale_copy(self, team, job):
        stale = application_create(team=team, posting=job, status="applied")
        application_move(application=JobApplication.objects.get(pk=stale.pk), to_status="rejected")
        assert stale.status == "applied"  # the caller's copy is out of date
        with pytest.raises(ApplicationRefused) as raised:
            application_move(application=stale, to_status="interviewing")
        assert raised.value.message_dict["status"] == [
            "The application is rejected, a final stage: it moves no further."]
        assert JobApplication.objects.get(pk=stale.pk).status == "rejected"


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_moves_cannot_both_pass_the_check(team, job):
    """A moves applied -> rejected and holds its transaction open; B, meanwhile, asks applied -> interviewing.
    B waits on the row lock, then reads rejected and is refused. (PostgreSQL: the test waits until B is really
    blocked on the lock; SQLite's IMMEDIATE transactions make B wait at BEGIN.)"""
    application = application_create(team=team, posting=job, status="applied")
    calling = threading.Event()
    outcome: list[object] = []

    def move_b():
        try:
            calling.set()
            outcome.append(application_move(application=application, to_status="interviewing"))
        except ApplicationRefused as exc:
            outcome.append(exc)
        finally:
            connection.close()

    b = threading.Thread(target=move_b)
    with transaction.atomic():
        application_move(application=application, to_status="rejected")  # A: row locked until COMMIT
        b.start()
        wait_for(calling.is_set, message="B calling application_move")
        if connection.vendor == "postgresql":
            wait_for(lambda: _lock_waiters() > 0, message="B waiting on the application row's lock")
    b.join(30)
    assert not b.is_alive()
    [result] = outcome
    assert isinstance(result, ApplicationRefused)
    stored = JobApplication.objects.get(pk=application.pk)
    assert stored.status == "rejected" and stored.interviewing_at is None
    assert history(stored) == [("", "applied"), ("applied", "rejected")]


def _lock_waiters() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted AND pid <> pg_backend_pid()")
        return cursor.fetchone()[0]


@pytest.mark.django_db
class TestUpdate:
    def test_plain_salary_and_offer_fields(self, team, job):
        application = application_create(team=team, posting=job)
        follow_up = timezone.now() + timedelta(days=3)
        application_update(application=application, data={
            "notes": "sent", "follow_up_at": follow_up, "salary_expected": Decimal("95000"),
            "offer_salary": Decimal("99000.50"), "offer_currency": "EUR", "offer_period": "year",
            "offer_notes": "equity too"})
        stored = JobApplication.objects.get(pk=application.pk)
        assert (stored.notes, stored.follow_up_at, stored.salary_expected, stored.offer_salary,
                stored.offer_currency, stored.offer_period, stored.offer_notes) == (
            "sent", follow_up, Decimal("95000"), Decimal("99000.50"), "EUR", "year", "equity too")
        assert history(stored) == [("", "shortlisted")]

    def test_a_status_in_the_data_is_a_move(self, team, job, user):
        application = application_create(team=team, posting=job)
        updated = application_update(application=application, data={"status": "applied", "notes": "sent"},
                                     user=user)
        stored = JobApplication.objects.get(pk=application.pk)
        assert updated.status == stored.status == "applied" and stored.applied_at is not None
        assert stored.notes == "sent"
        assert history(stored) == [("", "shortlisted"), ("shortlisted", "applied")]

    def test_a_refused_move_leaves_the_other_fields_unwritten(self, team, job):
        application = application_create(team=team, posting=job, status="interviewing")
        with pytest.raises(ApplicationRefused):
            application_update(application=application, data={"status": "applied", "notes": "oops"})
        stored = JobApplication.objects.get(pk=application.pk)
        assert (stored.status, stored.notes) == ("interviewing", "")

    def test_a_plain_update_never_writes_back_a_stale_stage(self, team, job):
        stale = application_create(team=team, posting=job)
        application_move(application=JobApplication.objects.get(pk=stale.pk), to_status="applied")
        application_update(application=stale, data={"notes": "later"})
        stored = JobApplication.objects.get(pk=stale.pk)
        assert (stored.status, stored.notes) == ("applied", "later") and stored.applied_at is not None

    def test_the_team_and_posting_are_fixed(self, team, job):
        other = posting(2)
        application = application_create(team=team, posting=job)
        application_update(application=application, data={"team": team, "posting": job})  # unchanged: fine
        with pytest.raises(ApplicationRefused) as raised:
            application_update(application=application, data={"posting": other})
        assert raised.value.message_dict == {"posting": ["Fixed when the application is created."]}
        with pytest.raises(ApplicationRefused) as raised:
            application_update(application=application, data={"team": Team.objects.create(name="Elsewhere")})
        assert raised.value.message_dict == {"team": ["Fixed when the application is created."]}
        assert JobApplication.objects.get(pk=application.pk).team == team

    def test_a_postings_application_takes_no_external_job(self, team, job):
        application = application_create(team=team, posting=job)
        with pytest.raises(ApplicationRefused) as raised:
            application_update(application=application, data={"external_title": "Other"})
        assert "external_title" in raised.value.message_dict
        assert JobApplication.objects.get(pk=application.pk).external_title == ""

    def test_an_external_jobs_details_are_editable_but_its_title_stays(self, team):
        application = application_create(team=team, external_title="Dev", external_url="https://a.example/1")
        application_update(application=application, data={"external_title": "Senior dev",
                                                          "external_company": "Initech"})
        stored = JobApplication.objects.get(pk=application.pk)
        assert (stored.external_title, stored.external_company) == ("Senior dev", "Initech")
        with pytest.raises(ValidationError) as raised:
            application_update(application=stored, data={"external_title": ""})
        assert "external_title" in raised.value.message_dict
        assert JobApplication.objects.get(pk=application.pk).external_title == "Senior dev"


@pytest.mark.django_db
class TestContactsAndInterviews:
    def test_contact_create_update_delete(self, team, job):
        application = application_create(team=team, posting=job)
        contact = contact_create(application=application, data={"name": "Ada", "role": "Recruiter",
                                                                 "email": "ada@example.com"})
        contact_update(contact=contact, data={"phone": "+49 30 1234", "notes": "call Tuesdays"})
        stored = Contact.objects.get(pk=contact.pk)
        assert (stored.application, stored.name, stored.role, stored.email, stored.phone, stored.notes) == (
            application, "Ada", "Recruiter", "ada@example.com", "+49 30 1234", "call Tuesdays")
        contact_delete(contact=stored)
        assert not Contact.objects.exists()

    def test_a_contact_is_validated(self, team, job):
        application = application_create(team=team, posting=job)
        with pytest.raises(ValidationError) as raised:
            contact_create(application=application, data={"name": "Ada", "email": "not an email"})
        assert "email" in raised.value.message_dict
        assert not Contact.objects.exists()

    def test_interview_create_update_delete(self, team, job):
        application = application_create(team=team, posting=job, status="interviewing")
        at = timezone.now() + timedelta(days=2)
        interview = interview_create(application=application, data={"scheduled_at": at, "kind": "phone"})
        interview_update(interview=interview, data={"kind": "technical", "notes": "system design"})
        stored = Interview.objects.get(pk=interview.pk)
        assert (stored.scheduled_at, stored.kind, stored.notes) == (at, "technical", "system design")
        with pytest.raises(ValidationError):
            interview_update(interview=stored, data={"kind": "lunch"})
        assert Interview.objects.get(pk=interview.pk).kind == "technical"
        interview_delete(interview=stored)
        assert not Interview.objects.exists()
