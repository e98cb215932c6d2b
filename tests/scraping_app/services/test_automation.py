"""Automation rules through the locked job: idempotent shortlisting of new matches."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from scheduler_app.models import JobRun
from scheduler_app.services import job_run
from scraping_app import selectors
from scraping_app.models import ApplicationStageChange, AutomationRule, JobApplication, JobPosting
from scraping_app.normalize import salary_annual_range
from scraping_app.services import application_create, automation_run
from tests.scraping_app.services.conftest import posting, run

pytestmark = pytest.mark.django_db


def paid(high, *, low=None, currency: str = "USD", period: str = "year") -> dict:
    """A posting's salary fields as the upsert stores them: the board's amounts and their normalised annual range."""
    low, high = (None if low is None else Decimal(low)), Decimal(high)
    annual_min, annual_max = salary_annual_range(salary_min=low, salary_max=high, currency=currency, period=period)
    return {"salary_min": low, "salary_max": high, "salary_currency": currency, "salary_period": period,
            "salary_annual_min": annual_min, "salary_annual_max": annual_max}


def test_automation_shortlists_matches_once_with_a_follow_up_date(fake_redis, team):
    python_remote = posting(1, **paid(150000))
    posting(2, title="Senior staff Python", **paid(200000))  # excluded keyword
    posting(3, title="Java developer", description_text="no snakes", **paid(150000))  # no include
    posting(4, location="Berlin", is_remote=False, **paid(150000))  # not remote
    posting(5, **paid(50000))  # under the minimum
    AutomationRule.objects.create(team=team, name="Remote Python", include_keywords=["python"],
                                  exclude_keywords=["senior staff"], locations=["remote"], remote_only=True,
                                  min_salary=Decimal(100000), follow_up_days=2)

    first = run("run_job_automation_task")
    second = run("run_job_automation_task")

    assert first.result == {"rules": 1, "matched": 1, "shortlisted": 1, "already_tracked": 0, "left_out_by_cap": 0}
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


def test_min_salary_compares_the_normalised_annual_salary(team, settings):
    """Hourly against yearly, and across currencies, after normalisation (USD base, the default rates)."""
    settings.SALARY_BASE_CURRENCY = "USD"
    settings.SALARY_RATES = {"USD": "1", "EUR": "1.10", "GBP": "1.25"}
    posting(1, title="Python hourly", **paid(60, period="hour"))  # 124,800 a year: matches
    posting(2, title="Python hourly low", **paid(40, period="hour"))  # 83,200: no (a raw 40 < 100k either way)
    posting(3, title="Python euro", **paid(95000, currency="EUR"))  # 104,500 USD: matches, though 95,000 < 100,000
    posting(4, title="Python pounds", **paid(75000, currency="GBP"))  # 93,750 USD: no
    posting(5, title="Python unknown", salary_max=Decimal(500000), salary_currency="XYZ")  # not normalised: no
    posting(6, title="Python unpaid")  # no salary at all: no
    rule = AutomationRule.objects.create(team=team, name="Paid", include_keywords=["python"],
                                         min_salary=Decimal(100000))

    matched = set(selectors.automation_rule_candidates(rule=rule).values_list("title", flat=True))

    assert matched == {"Python hourly", "Python euro"}


def test_a_first_run_shortlists_at_most_the_cap_newest_first_and_ends_partial(fake_redis, team, settings):
    settings.AUTOMATION_FIRST_RUN_CAP = 3
    now = timezone.now()
    for n in range(1, 8):  # posting 7 is the newest
        posting(n, posted_at=now - timedelta(days=10 - n))
    rule = AutomationRule.objects.create(team=team, name="Python", include_keywords=["python"])

    first = job_run(job_id="run_job_automation_task", trigger="cli")

    assert first.status == JobRun.Status.PARTIAL, first.error
    assert first.result == {"rules": 1, "matched": 7, "shortlisted": 3, "already_tracked": 0, "left_out_by_cap": 4}
    assert first.warnings == [f"Automation rule 'Python' (id {rule.pk}, team {team.pk}) first run: shortlisted "
                              "the 3 newest matches and left out 4 (AUTOMATION_FIRST_RUN_CAP=3)."]
    assert sorted(JobApplication.objects.values_list("posting__source_job_id", flat=True)) == ["5", "6", "7"]
    # Later runs look at postings new since the first: no cap, and the left-out ones stay out.
    JobPosting.objects.update(first_seen_at=now - timedelta(days=1))
    for n in range(8, 13):
        posting(n)
    second = run("run_job_automation_task")
    assert second.result["shortlisted"] == 5 and second.result["left_out_by_cap"] == 0
    assert JobApplication.objects.count() == 8


def test_the_cap_counts_new_applications_not_tracked_postings(team, settings):
    settings.AUTOMATION_FIRST_RUN_CAP = 2
    for n in range(1, 5):
        posting(n, posted_at=timezone.now() - timedelta(days=n))  # posting 1 is the newest
    JobApplication.objects.create(team=team, posting=JobPosting.objects.get(source_job_id="1"))
    AutomationRule.objects.create(team=team, name="Python", include_keywords=["python"])

    result = automation_run()

    assert result == {"rules": 1, "matched": 4, "shortlisted": 2, "already_tracked": 1, "left_out_by_cap": 1}
    assert sorted(JobApplication.objects.values_list("posting__source_job_id", flat=True)) == ["1", "2", "3"]


def test_a_cap_of_zero_means_no_cap(team, settings):
    settings.AUTOMATION_FIRST_RUN_CAP = 0
    for n in range(1, 6):
        posting(n)
    AutomationRule.objects.create(team=team, name="Python", include_keywords=["python"])
    assert automation_run()["shortlisted"] == 5


def test_the_preview_says_what_the_run_then_does_and_writes_nothing(team, settings):
    settings.AUTOMATION_FIRST_RUN_CAP = 2
    for n in range(1, 5):
        posting(n, posted_at=timezone.now() - timedelta(days=n))
    rule = AutomationRule.objects.create(team=team, name="Python", include_keywords=["python"])

    preview = selectors.automation_rule_preview(rule=rule, limit=3)

    assert (preview.first_run, preview.matched, preview.already_tracked, preview.would_shortlist, preview.cap,
            preview.capped, preview.left_out) == (True, 4, 0, 2, 2, True, 2)
    assert [p.source_job_id for p in preview.postings] == ["1", "2", "3"]
    assert not JobApplication.objects.exists()
    rule.refresh_from_db()
    assert rule.last_run_at is None
    result = automation_run()
    assert (result["matched"], result["shortlisted"], result["left_out_by_cap"]) == (4, 2, 2)
    assert sorted(JobApplication.objects.values_list("posting__source_job_id", flat=True)) == ["1", "2"]
    rule.refresh_from_db()
    after = selectors.automation_rule_preview(rule=rule)
    assert (after.first_run, after.cap, after.capped) == (False, None, False)


def test_automation_writes_each_new_applications_first_history_row_once(fake_redis, team):
    AutomationRule.objects.create(team=team, name="Any", include_keywords=["python"])
    mine = application_create(team=team, posting=posting(1), status="applied")  # tracked already: not new
    posting(2)
    posting(3)
    result = run("run_job_automation_task").result
    assert result["shortlisted"] == 2
    made = JobApplication.objects.exclude(pk=mine.pk)
    assert made.count() == 2 and all(a.status_changed_at is not None for a in made)
    rows = ApplicationStageChange.objects.order_by("application_id")
    assert [(r.application_id, r.from_status, r.to_status) for r in rows] == sorted(
        [(mine.pk, "", "applied")] + [(a.pk, "", "shortlisted") for a in made])
    run("run_job_automation_task")
    assert ApplicationStageChange.objects.count() == 3
