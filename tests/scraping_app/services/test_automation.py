"""Automation rules through the locked job: idempotent shortlisting of new matches."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from scraping_app.models import AutomationRule, JobApplication, JobPosting
from tests.scraping_app.services.conftest import posting, run

pytestmark = pytest.mark.django_db


def test_automation_shortlists_matches_once_with_a_follow_up_date(fake_redis, team):
    python_remote = posting(1, salary_max=Decimal(150000))
    posting(2, title="Senior staff Python", salary_max=Decimal(200000))  # excluded keyword
    posting(3, title="Java developer", description_text="no snakes", salary_max=Decimal(150000))  # no include
    posting(4, location="Berlin", is_remote=False, salary_max=Decimal(150000))  # not remote
    posting(5, salary_max=Decimal(50000))  # under the minimum
    AutomationRule.objects.create(team=team, name="Remote Python", include_keywords=["python"],
                                  exclude_keywords=["senior staff"], locations=["remote"], remote_only=True,
                                  min_salary=Decimal(100000), follow_up_days=2)

    first = run("run_job_automation_task")
    second = run("run_job_automation_task")

    assert first.result == {"rules": 1, "matched": 1, "shortlisted": 1, "already_tracked": 0}
    assert second.result["shortlisted"] == 0
    application = JobApplication.objects.get()
    assert application.posting == python_remote and application.status == "shortlisted"
    assert timedelta(days=1, hours=23) < application.follow_up_at - timezone.now() <= timedelta(days=2)


def test_automation_only_considers_postings_new_since_its_last_run(fake_redis, team):
    rule = AutomationRule.objects.create(team=team, name="Any", include_keywords=["python"])
    posting(1)
    run("run_job_automation_task", team=team)
    JobPosting.objects.filter(source_job_id="1").update(first_seen_at=timezone.now() - timedelta(days=1))
    JobApplication.objects.all().delete()  # the user dismissed it: an old posting is not re-shortlisted
    posting(2)
    result = run("run_job_automation_task", team=team).result
    assert result["matched"] == 1 and result["shortlisted"] == 1
    assert list(JobApplication.objects.values_list("posting__source_job_id", flat=True)) == ["2"]
    rule.refresh_from_db()
    assert rule.last_run_at is not None


def test_automation_without_auto_shortlist_only_counts(fake_redis, team):
    AutomationRule.objects.create(team=team, name="Watch", include_keywords=["python"], auto_shortlist=False)
    posting(1)
    assert run("run_job_automation_task").result["matched"] == 1
    assert not JobApplication.objects.exists()
