"""Automation and follow-ups act once per real job: 8 copies of 2 jobs -> 2 applications -> 2 follow-ups."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from scraping_app import selectors
from scraping_app.models import AutomationRule, FollowUp, JobApplication, JobPosting
from scraping_app.services import automation_run, follow_ups_check, postings_upsert
from scraping_app.sources.base import PostingData
from tests.scraping_app.conftest import make_source

pytestmark = pytest.mark.django_db
BACKEND = ("Own the payment services that move money for our customers, in production, with code review, "
           "mentoring and planning with product every quarter.")
DATA = ("Run the data platform: batch pipelines in Spark, the warehouse and the dashboards finance reads every "
        "morning; on call one week in six.")
VARIANTS = [("Acme", "Senior Backend Engineer", "Berlin"), ("Acme Inc.", "Sr. Back-end Engineer", "Berlin, Germany"),
            ("Acme GmbH", "Senior Backend Engineer (m/w/d)", "Berlin, DE"), ("ACME", "Senior Back End Engineer",
                                                                             "Berlin")]


def eight_copies_of_two_jobs() -> None:
    for n, (company, title, location) in enumerate(VARIANTS):
        board = make_source("sample", name=f"board {n}")
        postings_upsert(source=board, postings=[
            PostingData(f"{n}-a", title, company=company, location=location, description_text=BACKEND),
            PostingData(f"{n}-b", title, company=company, location=location, description_text=DATA)])


def test_eight_copies_of_two_jobs_make_two_applications_and_two_follow_ups(team):
    eight_copies_of_two_jobs()
    assert JobPosting.objects.count() == 8
    assert JobPosting.objects.filter(duplicate_of__isnull=True).count() == 2  # one title, two openings
    AutomationRule.objects.create(team=team, name="Backend", include_keywords=["backend"], follow_up_days=1)

    totals = automation_run(team=team)
    assert (totals["matched"], totals["shortlisted"]) == (2, 2)
    applications = JobApplication.objects.filter(team=team)
    assert applications.count() == 2
    assert set(applications.values_list("posting__duplicate_of", flat=True)) == {None}

    result = follow_ups_check(team=team, now=timezone.now() + timedelta(days=2))
    assert result["reminders_created"] == 2
    assert FollowUp.objects.filter(application__team=team).count() == 2


def test_an_application_for_any_copy_tracks_the_job(team):
    eight_copies_of_two_jobs()
    copy = JobPosting.objects.filter(duplicate_of__isnull=False, description_text=BACKEND).first()
    JobApplication.objects.create(team=team, posting=copy)  # tracked by hand, from another board's copy
    rule = AutomationRule.objects.create(team=team, name="Backend", include_keywords=["backend"])
    plan = selectors.automation_rule_plan(rule=rule)
    assert plan.matches.count() == 2 and plan.untracked.count() == 1
    assert automation_run(team=team)["shortlisted"] == 1
    assert JobApplication.objects.filter(team=team).count() == 2


def test_a_later_copy_of_a_tracked_job_is_not_shortlisted_again(team):
    rule = AutomationRule.objects.create(team=team, name="Backend", include_keywords=["backend"])
    board = make_source("sample", name="first board")
    postings_upsert(source=board, postings=[PostingData("1", "Backend Engineer", company="Acme",
                                                        description_text=BACKEND)])
    assert automation_run(team=team)["shortlisted"] == 1
    rule.refresh_from_db()
    later = make_source("sample", name="later board")
    postings_upsert(source=later, postings=[PostingData("1", "Back-end Engineer", company="Acme GmbH",
                                                        description_text=BACKEND)],
                    now=rule.last_run_at + timedelta(minutes=1))
    assert automation_run(team=team)["shortlisted"] == 0
    assert JobApplication.objects.filter(team=team).count() == 1
