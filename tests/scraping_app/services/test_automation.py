"""Automation rules through the locked job: idempotent shortlisting of new matches."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from scheduler_app.models import JobRun
from scheduler_app.services import job_run
from scraping_app.models import AutomationRule, JobApplication, JobPosting, Team
from tests.scraping_app.conftest import make_source

pytestmark = pytest.mark.django_db


@pytest.fixture
def team():
    team = Team.objects.create(name="Searchers")
    User = get_user_model()
    team.members.add(User.objects.create(username="ann", email="ann@example.com"),
                     User.objects.create(username="bob", email=""))
    return team


def posting(n: int, **fields) -> JobPosting:
    source = make_source("sample", name="Sample") if n == 1 else JobPosting.objects.first().source
    now = timezone.now()
    defaults = dict(title=f"Python developer {n}", company="Acme", location="Remote", is_remote=True,
                    first_seen_at=now, last_seen_at=now, fingerprint=str(n))
    defaults.update(fields)
    return JobPosting.objects.create(source=source, source_job_id=str(n), **defaults)


def run(job_id: str, team=None) -> JobRun:
    result = job_run(job_id=job_id, trigger="cli", team=team)
    assert result.status == JobRun.Status.SUCCEEDED, result.error
    return result


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
